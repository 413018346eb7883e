"""Scenario validation, overrides, default failure mix, catalog."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from simulator.catalog import CATALOG
from simulator.config import SECONDS_PER_YEAR, Scenario
from simulator.loader import (
    ScenarioError,
    apply_overrides,
    load_scenario,
    parse_override,
    resolved_dict,
    validate_data,
)
from simulator.reference import LLAMA3_SOFTWARE, LLAMA3_TABLE5

HOUR = 3600.0
DAY = 86400.0

BASE: dict[str, Any] = {
    "name": "t",
    "cluster": {"gpu": "h100", "gpus": 64, "gpus_per_node": 8},
    "failures": {"causes": [{"name": "gpu_fault", "per": "gpu", "rate_per_year": 0.1},
                            {"name": "node_fault", "per": "node", "mtbf": "2 yr"}]},
    "job": {"work": "2 d", "checkpoint": {"interval": "10 min", "write_time": "30 s"},
            "restart": {"time": "5 min"}},
}


def data(**dotted: Any) -> dict[str, Any]:
    """A copy of BASE with dotted keys set (value ``DELETE`` removes the key)."""
    out = copy.deepcopy(BASE)
    for key, value in dotted.items():
        parts = key.split("__")
        node: Any = out
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DELETE:
            del node[parts[-1]]
        elif isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return out


DELETE = object()


def problems(raw: dict[str, Any]) -> list[str]:
    """The problem lines validation reports for ``raw`` (fails if it validates)."""
    with pytest.raises(ScenarioError) as info:
        validate_data(raw, "f.yaml")
    return info.value.problems


def test_base_is_valid() -> None:
    s = validate_data(BASE, "f.yaml")
    assert s.job_gpus == 64
    assert s.work_seconds == 2 * DAY


# ---- failure causes ------------------------------------------------------------------------


def test_rate_or_mtbf() -> None:
    s = validate_data(BASE, "f.yaml")
    gpu_fault, node_fault = s.failures.causes
    assert gpu_fault.rate_per_s == pytest.approx(0.1 / SECONDS_PER_YEAR, rel=1e-12)
    assert node_fault.mtbf == 2 * 365 * DAY
    assert node_fault.rate_per_s == pytest.approx(0.5 / SECONDS_PER_YEAR, rel=1e-12)


@pytest.mark.parametrize("cause", [
    {"name": "x", "per": "gpu"},                                           # neither
    {"name": "x", "per": "gpu", "rate_per_year": 0.1, "mtbf": "10 yr"},    # both
])
def test_exactly_one_of_rate_and_mtbf(cause: dict[str, Any]) -> None:
    lines = problems(data(failures__causes=[cause]))
    assert len(lines) == 1
    assert lines[0].startswith("f.yaml: failures.causes.0")
    assert "rate_per_year" in lines[0] and "mtbf" in lines[0]


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("rate_per_year", -0.1, "greater than or equal to 0"),
    ("per", "rack_row", "per"),
])
def test_bad_cause_values(key: str, value: Any, fragment: str) -> None:
    cause = dict(BASE["failures"]["causes"][0], **{key: value})
    lines = problems(data(failures__causes=[cause]))
    assert any(f"failures.causes.0.{key}" in line and fragment in line for line in lines), lines


def test_zero_mtbf_rejected() -> None:
    lines = problems(data(failures__causes=[{"name": "x", "per": "node", "mtbf": "0 s"}]))
    assert any("failures.causes.0.mtbf" in line for line in lines)


def test_duplicate_cause_names() -> None:
    causes = [{"name": "dup", "per": "gpu", "rate_per_year": 0.1},
              {"name": "dup", "per": "node", "rate_per_year": 0.2}]
    lines = problems(data(failures__causes=causes))
    assert len(lines) == 1
    assert "duplicate" in lines[0] and "dup" in lines[0]


@pytest.mark.parametrize("name", ["planned", "power_trip", "repairs_at_start", "width"])
def test_reserved_cause_names(name: str) -> None:
    lines = problems(data(failures__causes=[{"name": name, "per": "gpu", "rate_per_year": 1}]))
    assert any(name in line for line in lines)


def test_weibull_shape() -> None:
    cause = {"name": "net", "per": "node", "rate_per_year": 0.1,
             "distribution": {"weibull": {"shape": 0.9}}}
    s = validate_data(data(failures__causes=[cause]), "f.yaml")
    assert s.failures.causes[0].weibull_shape == 0.9
    # the per-unit mean stays 1 / rate whatever the shape
    assert s.failures.causes[0].inter_failure().mean == pytest.approx(SECONDS_PER_YEAR / 0.1)
    bad = copy.deepcopy(cause)
    bad["distribution"]["weibull"]["shape"] = 0
    assert any("shape" in line for line in problems(data(failures__causes=[bad])))


# ---- repair time ---------------------------------------------------------------------------


def test_lognormal_repair_needs_mean_above_median() -> None:
    ok = validate_data(data(cluster__repair_time={"distribution": "lognormal",
                                                  "median": "20 h", "mean": "5.5 d"}), "f.yaml")
    assert ok.cluster.repair_time.median == 20 * HOUR
    assert ok.cluster.repair_time.mean == 5.5 * DAY
    assert ok.cluster.repair_time.build().mean == pytest.approx(5.5 * DAY, rel=1e-9)
    for mean in ("20 h", "10 h"):
        lines = problems(data(cluster__repair_time={"distribution": "lognormal",
                                                    "median": "20 h", "mean": mean}))
        assert len(lines) == 1
        assert lines[0].startswith("f.yaml: cluster.repair_time: ")
        assert "mean > median" in lines[0]


def test_lognormal_repair_needs_both_parameters() -> None:
    lines = problems(data(cluster__repair_time={"distribution": "lognormal", "median": "20 h"}))
    assert any("cluster.repair_time" in line and "mean" in line for line in lines)


def test_fixed_repair_rejects_parameters_it_does_not_take() -> None:
    lines = problems(data(cluster__repair_time={"distribution": "fixed", "value": "1 h",
                                                "mean": "2 h"}))
    assert any("cluster.repair_time" in line and "mean" in line for line in lines)


def test_scalar_repair_time_is_fixed() -> None:
    s = validate_data(data(cluster__repair_time="20 h"), "f.yaml")
    rt = s.cluster.repair_time
    assert rt.distribution == "fixed"
    assert rt.value == 20 * HOUR
    assert rt.build().mean == 20 * HOUR
    # per-cause shorthand too, and a plain number is seconds
    causes = copy.deepcopy(BASE["failures"]["causes"])
    causes[0]["repair_time"] = "0 s"
    causes[1]["repair_time"] = 90
    s = validate_data(data(failures__causes=causes), "f.yaml")
    assert s.failures.causes[0].repair_time.distribution == "fixed"
    assert s.failures.causes[0].repair_time.value == 0.0
    assert s.failures.causes[1].repair_time.value == 90.0


def test_default_repair_time_is_stepfun_like() -> None:
    rt = validate_data(BASE, "f.yaml").cluster.repair_time
    assert rt.distribution == "lognormal"
    assert rt.median == 20 * HOUR
    assert rt.mean == 5.5 * DAY


# ---- job -----------------------------------------------------------------------------------


def test_work_from_flops_and_mfu() -> None:
    # 1000 H100 x 989e12 FLOP/s x 0.4 = 3.956e17 FLOP/s, so 3.956e24 FLOP take 1e7 s
    raw = data(cluster__gpus=1000, job__work=DELETE, job__flops=3.956e24, job__mfu=0.4)
    s = validate_data(raw, "f.yaml")
    assert s.work_seconds == pytest.approx(1.0e7, rel=1e-12)
    # half the GPUs of the cluster: twice the time
    raw = data(cluster__gpus=1000, job__gpus=496, job__work=DELETE, job__flops=3.956e24,
               job__mfu=0.4)
    assert validate_data(raw, "f.yaml").work_seconds == pytest.approx(1.0e7 * 1000 / 496,
                                                                      rel=1e-12)


def test_work_from_flops_uses_the_catalog_peak() -> None:
    # gb200: 2.5e15 FLOP/s dense BF16 per GPU: 72 GPUs x 2.5e15 x 0.5 = 9e16 FLOP/s
    raw = data(cluster__gpu="gb200", cluster__gpus=72, cluster__gpus_per_node=4,
               job__work=DELETE, job__flops=9e22, job__mfu=0.5)
    assert validate_data(raw, "f.yaml").work_seconds == pytest.approx(1.0e6, rel=1e-12)


def test_work_given_directly_ignores_mfu() -> None:
    s = validate_data(data(job__mfu=0.4), "f.yaml")
    assert s.work_seconds == 2 * DAY


@pytest.mark.parametrize(("patch", "fragment"), [
    ({"job__work": DELETE}, "work"),                            # neither work nor flops
    ({"job__flops": 1e24, "job__mfu": 0.4}, "work"),             # both
    ({"job__work": DELETE, "job__flops": 1e24}, "mfu"),          # flops without mfu
])
def test_work_xor_flops(patch: dict[str, Any], fragment: str) -> None:
    lines = problems(data(**patch))
    assert len(lines) == 1
    assert lines[0].startswith("f.yaml: job")
    assert fragment in lines[0]


@pytest.mark.parametrize("mfu", [0, -0.1, 1.5])
def test_mfu_range(mfu: float) -> None:
    lines = problems(data(job__work=DELETE, job__flops=1e24, job__mfu=mfu))
    assert any("job.mfu" in line for line in lines)


def test_job_gpus_cannot_exceed_cluster() -> None:
    lines = problems(data(job__gpus=72))
    assert len(lines) == 1
    assert "job.gpus" in lines[0] and "72" in lines[0] and "64" in lines[0]


def test_job_gpus_default_and_smaller_job() -> None:
    assert validate_data(BASE, "f.yaml").job_gpus == 64
    assert validate_data(data(job__gpus=32), "f.yaml").job_gpus == 32
    lines = problems(data(job__gpus=12))  # not a whole number of 8-GPU nodes
    assert any("job.gpus" in line and "gpus_per_node" in line for line in lines)


def test_installed_gpus_include_spares() -> None:
    s = validate_data(data(cluster__spare_nodes=3), "f.yaml")
    assert s.cluster.nodes == 8 + 3
    assert s.cluster.installed_gpus == 64 + 24


def test_unknown_gpu_type() -> None:
    lines = problems(data(cluster__gpu="a100"))
    assert len(lines) == 1
    assert lines[0].startswith("f.yaml: cluster")
    assert "'a100'" in lines[0]
    assert "h100" in lines[0]  # tells the user what exists


def test_cluster_gpus_whole_nodes() -> None:
    lines = problems(data(cluster__gpus=60))
    assert any("cluster" in line and "gpus_per_node" in line for line in lines)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("job__checkpoint__interval", "10 kW", "'kW'"),
    ("job__checkpoint__interval", "0 s", "greater than 0"),
    ("job__checkpoint__write_time", "-30 s", "greater than or equal to 0"),
    ("job__restart__time", "5 parsecs", "'parsecs'"),
    ("run__horizon", "a long time", "a long time"),
    ("cluster__gpus", 0, "greater than 0"),
    ("cluster__spare_nodes", -1, "greater than or equal to 0"),
])
def test_bad_values_are_located(key: str, value: Any, fragment: str) -> None:
    lines = problems(data(**{key: value}))
    path = key.replace("__", ".")
    assert any(line.startswith(f"f.yaml: {path}: ") and fragment in line for line in lines), lines


# ---- unknown keys --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "bogus",
    "cluster__bogus",
    "job__bogus",
    "job__checkpoint__bogus",
    "job__restart__bogus",
    "failures__bogus",
    "failures__causes__0__bogus",
    "cluster__repair_time__bogus",
    "run__bogus",
    "economics__bogus",
])
def test_unknown_keys_rejected_at_every_depth(path: str) -> None:
    raw = data(cluster__repair_time={"distribution": "fixed", "value": "1 h"},
               economics={"gpu_capex": "30000 USD"}, run={"replications": 2})
    parts = path.split("__")
    node: Any = raw
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[parts[-1]] = 1
    lines = problems(raw)
    assert lines == [f"f.yaml: {path.replace('__', '.')}: unknown key"]


def test_typo_in_weibull_spec_is_reported_as_unknown_key() -> None:
    cause = {"name": "n", "per": "node", "rate_per_year": 0.1,
             "distribution": {"weibull": {"shape": 0.9, "scale": 2}}}
    lines = problems(data(failures__causes=[cause]))
    assert any("scale" in line and "unknown key" in line for line in lines), lines


def test_typo_in_weibull_spec_is_one_problem() -> None:
    cause = {"name": "n", "per": "node", "rate_per_year": 0.1,
             "distribution": {"weibull": {"shape": 0.9, "scale": 2}}}
    lines = problems(data(failures__causes=[cause]))
    assert lines == ["f.yaml: failures.causes.0.distribution.weibull.scale: unknown key"]


def test_all_problems_are_listed_at_once() -> None:
    raw = data(bogus=1, cluster__bogus=2, job__checkpoint__interval="10 kW",
               failures__causes=[{"name": "a", "per": "gpu", "rate_per_year": -1}])
    lines = problems(raw)
    assert len(lines) == 4
    paths = {line.split(": ")[1] for line in lines}
    assert paths == {"bogus", "cluster.bogus", "job.checkpoint.interval",
                     "failures.causes.0.rate_per_year"}


def test_missing_required_keys() -> None:
    lines = problems({"name": "t"})
    paths = {line.split(": ")[1] for line in lines}
    assert {"cluster", "job"} <= paths
    assert all("missing" in line for line in lines)


def test_scenario_name_must_be_file_name_safe() -> None:
    # the name becomes results/<name>/
    assert any(line.startswith("f.yaml: name: ") for line in problems(data(name="../etc")))
    assert any(line.startswith("f.yaml: name: ") for line in problems(data(name="")))


# ---- overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key", "value"), [
    ("job.checkpoint.interval=5 min", "job.checkpoint.interval", "5 min"),
    ("run.replications=3", "run.replications", 3),
    ("failures.causes.0.rate_per_year=0.25", "failures.causes.0.rate_per_year", 0.25),
    ("job.restart.failures_during_restart=false", "job.restart.failures_during_restart", False),
    ("sources=[a, b]", "sources", ["a", "b"]),
    ("cluster.repair_time={distribution: fixed, value: 1 h}", "cluster.repair_time",
     {"distribution": "fixed", "value": "1 h"}),
    ("description=a=b", "description", "a=b"),  # only the first '=' splits
    (" run.seed = 7 ", "run.seed", 7),
    ("economics=null", "economics", None),
])
def test_parse_override(text: str, key: str, value: Any) -> None:
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["job.checkpoint.interval", "=5 min", ""])
def test_parse_override_needs_key_and_equals(text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_override(text)
    assert "key=value" in str(info.value)


def test_apply_overrides_nested_and_list_index() -> None:
    before = copy.deepcopy(BASE)
    out = apply_overrides(BASE, [
        ("job.checkpoint.interval", "5 min"),
        ("failures.causes.1.mtbf", "3 yr"),
        ("run.horizon", "54 d"),          # creates the run mapping
        ("cluster.spare_nodes", 2),
    ])
    assert before == BASE  # the input is not modified
    assert out["job"]["checkpoint"] == {"interval": "5 min", "write_time": "30 s"}
    assert out["failures"]["causes"][1] == {"name": "node_fault", "per": "node", "mtbf": "3 yr"}
    assert out["failures"]["causes"][0] == BASE["failures"]["causes"][0]
    assert out["run"] == {"horizon": "54 d"}
    assert out["cluster"]["spare_nodes"] == 2
    s = validate_data(out, "f.yaml")
    assert s.job.checkpoint.interval == 300.0
    assert s.failures.causes[1].mtbf == 3 * 365 * DAY
    assert s.run.horizon == 54 * DAY


@pytest.mark.parametrize("key", ["failures.causes.5.rate_per_year", "failures.causes.x.name",
                                 "name.first", "job.work.value"])
def test_apply_overrides_bad_paths(key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(BASE, [(key, 1)])
    assert key in str(info.value)


def test_overrides_through_load_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(BASE))
    s = load_scenario(path, ["failures.causes.0.rate_per_year=0.5", "job.checkpoint.interval=5 min",
                             "job.restart.failures_during_restart=false", "cluster.gpus=128",
                             "job.gpus=96"])
    assert s.failures.causes[0].rate_per_year == 0.5
    assert s.job.checkpoint.interval == 300.0
    assert s.job.restart.failures_during_restart is False
    assert s.cluster.gpus == 128
    assert s.job_gpus == 96
    # an override that makes the scenario invalid is blamed on the override, not the file
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["job.checkpoint.interval=5 kW"])
    assert info.value.problems[0].startswith(
        "--set job.checkpoint.interval=5 kW: job.checkpoint.interval: ")


# ---- default failure mix -------------------------------------------------------------------


def _per_gpu_year(scenario: Scenario) -> float:
    gpn = scenario.cluster.gpus_per_node
    per_gpu = {"gpu": 1.0, "node": 1.0 / gpn,
               "rack": 1.0 / (gpn * scenario.cluster.nodes_per_rack)}
    return sum(c.rate_per_s * SECONDS_PER_YEAR * per_gpu[c.per] for c in scenario.failures.causes)


def test_default_causes_are_the_llama3_mix() -> None:
    raw = data(failures=DELETE)
    s = validate_data(raw, "f.yaml")
    names = [c.name for c in s.failures.causes]
    assert names == [name for name, _, _ in LLAMA3_TABLE5]
    assert all(c.weibull_shape is None for c in s.failures.causes)
    # 419 unexpected interruptions on 16,384 GPUs in 54 days = 0.173 per GPU-year
    rate = _per_gpu_year(s)
    assert rate == pytest.approx(0.173, rel=0.005)
    assert rate == pytest.approx(419 / (16384 * 54 / 365), rel=1e-4)
    # ... = 3.79 per 1,000 node-days
    assert rate * 8 / 365 * 1000 == pytest.approx(3.79, rel=0.005)
    # causes keep the paper's proportions: faulty GPU 148 of 419, GPU HBM3 72 of 419
    by_name = {c.name: c for c in s.failures.causes}
    total = rate
    assert by_name["faulty_gpu"].rate_per_year / total == pytest.approx(148 / 419, rel=1e-3)
    assert by_name["gpu_hbm3"].rate_per_year / total == pytest.approx(72 / 419, rel=1e-3)
    assert by_name["software_bug"].rate_per_year / 8 / total == pytest.approx(54 / 419, rel=1e-3)


def test_default_software_causes_need_no_repair() -> None:
    s = validate_data(data(failures=DELETE), "f.yaml")
    for c in s.failures.causes:
        if c.name in LLAMA3_SOFTWARE:
            assert c.repair_time is not None and c.repair_time.build().mean == 0.0
        else:
            assert c.repair_time is None  # hardware: the cluster's repair distribution


def test_failures_block_without_causes_uses_default() -> None:
    s = validate_data(data(failures={}), "f.yaml")
    assert len(s.failures.causes) == len(LLAMA3_TABLE5)


# ---- catalog -------------------------------------------------------------------------------


def test_catalog_entries_have_sources() -> None:
    assert {"h100", "h200", "b200", "gb200", "rubin"} <= set(CATALOG)
    for key, g in CATALOG.items():
        assert g.name == key
        assert len(g.source.strip()) > 20, key
        assert g.tdp_w > g.idle_w > 0
        assert g.peak_flops > 1e14
        assert g.price_usd > 0


def test_catalog_published_numbers() -> None:
    h100 = CATALOG["h100"]
    assert h100.tdp_w == 700.0
    assert h100.peak_flops == 989e12
    assert "estimate" in h100.source  # the price is a street estimate
    assert CATALOG["h200"].tdp_w == 700.0
    assert CATALOG["b200"].tdp_w == pytest.approx(1000.0, rel=0.1)


def test_catalog_estimates_are_flagged() -> None:
    # Rubin is not characterised publicly: its numbers are guesses and must say so
    assert CATALOG["rubin"].estimate
    assert "guess" in CATALOG["rubin"].source.lower()
    for g in CATALOG.values():
        if g.estimate:
            text = g.source.lower()
            assert "estimat" in text or "guess" in text, g.name


# ---- resolved values -----------------------------------------------------------------------


def test_resolved_dict_is_si() -> None:
    raw = data(cluster__repair_time={"distribution": "lognormal", "median": "20 h",
                                     "mean": "5.5 d"},
               economics={"gpu_capex": "30000 USD", "facility_capex_per_mw": "10e6 USD"},
               run={"horizon": "1 yr"}, job__checkpoint__persist_time="100 ms")
    r = resolved_dict(validate_data(raw, "f.yaml"))
    assert r["job"]["work"] == 2 * DAY
    assert r["job"]["checkpoint"] == {"interval": 600.0, "write_time": 30.0, "size": None,
                                      "bandwidth": None, "persist_time": pytest.approx(0.1),
                                      "tiers": []}
    assert r["job"]["restart"]["time"] == 300.0
    assert r["cluster"]["repair_time"]["median"] == 72000.0
    assert r["cluster"]["repair_time"]["mean"] == 475200.0
    assert r["failures"]["causes"][1]["mtbf"] == 2 * 365 * DAY
    assert r["economics"]["gpu_capex"] == 30000.0
    assert r["economics"]["facility_capex_per_mw"] == 1e7
    assert r["run"]["horizon"] == 365 * DAY


def _no_unit_strings(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _no_unit_strings(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _no_unit_strings(v, f"{path}.{i}")]
    if isinstance(node, str) and any(ch.isdigit() for ch in node[:1]):
        return [f"{path}={node!r}"]
    return []


def test_resolved_dict_round_trips() -> None:
    # resolved.yaml is itself a valid scenario file that means the same thing
    s = validate_data(data(cluster__repair_time="20 h", failures=DELETE), "f.yaml")
    r = resolved_dict(s)
    assert _no_unit_strings(r) == []
    text = yaml.safe_dump(r, sort_keys=False)
    again = validate_data(yaml.safe_load(text), "resolved.yaml")
    assert again == s
    assert resolved_dict(again) == r


def test_scenario_is_immutable() -> None:
    s = validate_data(BASE, "f.yaml")
    with pytest.raises(ValidationError):
        s.job.checkpoint.interval = 5.0  # type: ignore[misc]
