"""The ``dcsim`` command line and the files a run writes."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import assert_bad_input, invoke, ok
from scipy import stats

from simulator.records import LEDGER, METRICS, metric_range

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RESULT_FILES = ("summary.json", "replications.csv", "resolved.yaml", "metadata.json")

# 64 H100 (8 nodes) plus one hot-spare node; job MTBF about 5.3 h, 5 days of work:
# a couple of dozen interruptions per replication, some waits for repairs.
TINY = """\
name: tiny
description: small fast scenario for the CLI tests
sources: ["test fixture"]
cluster:
  gpu: h100
  gpus: 64
  gpus_per_node: 8
  nodes_per_rack: 4
  spare_nodes: 1
  repair_time: {distribution: lognormal, median: 2 h, mean: 6 h}
failures:
  causes:
    - {name: gpu_fault, per: gpu, mtbf: 20 d}
    - {name: node_fault, per: node, rate_per_year: 60, repair_time: 0 s}
job:
  work: 5 d
  mfu: 0.4
  iteration_time: 2 s
  checkpoint: {interval: 10 min, write_time: 30 s}
  restart: {time: 5 min}
economics: {gpu_capex: 30000 USD, facility_capex_per_mw: 10e6 USD}
run: {replications: 4, seed: 3, horizon: 1 yr}
"""
TINY_GPUS, TINY_INSTALLED, TINY_MFU, TINY_WORK_H = 64, 72, 0.4, 120.0
H100_PEAK = 989e12






def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) for r in rows])


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    (d / "tiny.yaml").write_text(TINY)
    return d


@pytest.fixture(scope="module")
def tiny(work: Path) -> Path:
    return work / "tiny.yaml"


@pytest.fixture(scope="module")
def base_run(work: Path, tiny: Path) -> tuple[Path, Any]:
    """One plotted run with the file's own replications (4) and seed (3)."""
    out = work / "out"
    result = ok(invoke("run", tiny, "-o", out))
    return out, result


@pytest.fixture(scope="module")
def base_dir(base_run: tuple[Path, Any]) -> Path:
    return base_run[0]


@pytest.fixture(scope="module")
def summary(base_dir: Path) -> dict[str, Any]:
    return json.loads((base_dir / "summary.json").read_text())


@pytest.fixture(scope="module")
def rows(base_dir: Path) -> list[dict[str, str]]:
    return read_csv(base_dir / "replications.csv")


# ---- run: the result folder ----------------------------------------------------------------


def test_run_writes_every_file(base_run: tuple[Path, Any]) -> None:
    out, result = base_run
    for name in RESULT_FILES:
        assert (out / name).is_file(), name
    assert is_png(out / "ledger.png")
    assert is_png(out / "timeline.png")
    # the table names the scenario and where the results went
    assert "tiny" in result.stdout
    assert str(out) in result.stdout


def test_no_temporary_files_left(base_dir: Path) -> None:
    leftovers = [p.name for p in base_dir.iterdir()
                 if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert leftovers == []


def test_summary_has_every_metric(summary: dict[str, Any]) -> None:
    for metric in METRICS:
        assert set(summary[metric]) >= {"mean", "std", "ci95_low", "ci95_high"}, metric
    for key in ("analytic", "perf", "scenario", "replications", "seed", "interruptions_by_cause"):
        assert key in summary, key
    assert summary["scenario"] == "tiny"
    assert summary["replications"] == 4
    assert summary["seed"] == 3
    assert set(summary["interruptions_by_cause"]) == {"gpu_fault", "node_fault"}
    for est in summary["interruptions_by_cause"].values():
        assert set(est) >= {"mean", "std", "ci95_low", "ci95_high"}
    assert summary["perf"]["events"] > 0


def test_summary_analytic_block(summary: dict[str, Any]) -> None:
    a = summary["analytic"]
    # job failure rate: 64 GPUs / 20 d + 8 nodes x 60 / 365 d (spares are not in the job)
    rate_per_day = 64 / 20 + 8 * 60 / 365
    assert a["job_failure_rate_per_day"] == pytest.approx(rate_per_day, rel=1e-9)
    m = 24.0 / rate_per_day  # hours
    assert a["job_mtbf_hours"] == pytest.approx(m, rel=1e-9)
    assert a["young_interval_min"] == pytest.approx(math.sqrt(2 * 0.5 * m * 60), rel=1e-9)
    tau, delta, r, mm = 600.0, 30.0, 300.0, m * 3600
    daly = tau / (mm * math.exp(r / mm) * math.expm1((tau + delta) / mm))
    assert a["daly_ettr"] == pytest.approx(daly, rel=1e-9)


def test_replications_csv(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 4
    assert [int(r["replication"]) for r in rows] == [0, 1, 2, 3]
    for metric in METRICS:
        assert metric in rows[0], metric
    assert "interruptions.gpu_fault" in rows[0]
    assert "interruptions.node_fault" in rows[0]


def test_summary_matches_csv(summary: dict[str, Any], rows: list[dict[str, str]]) -> None:
    n = len(rows)
    t = stats.t.ppf(0.975, n - 1)
    for metric in METRICS:
        x = column(rows, metric)
        est = summary[metric]
        if np.isnan(x).all():  # a metric that does not apply (no power block): null in JSON
            assert est == {"mean": None, "std": None, "ci95_low": None, "ci95_high": None}
            continue
        assert est["mean"] == pytest.approx(x.mean(), rel=1e-9, abs=1e-12), metric
        assert est["std"] == pytest.approx(x.std(ddof=1), rel=1e-9, abs=1e-12), metric
        half = t * x.std(ddof=1) / math.sqrt(n)
        lo, hi = metric_range(metric)  # the t-interval, cut to the metric's range
        assert est["ci95_low"] == pytest.approx(max(x.mean() - half, lo), rel=1e-9,
                                                abs=1e-12), metric
        assert est["ci95_high"] == pytest.approx(min(x.mean() + half, hi), rel=1e-9,
                                                 abs=1e-12), metric
    for cause, est in summary["interruptions_by_cause"].items():
        assert est["mean"] == pytest.approx(column(rows, f"interruptions.{cause}").mean())


def test_csv_values_are_consistent(rows: list[dict[str, str]]) -> None:
    for r in rows:
        wall_h = float(r["wall_clock_days"]) * 24.0
        ledger = sum(float(r[k]) for k in LEDGER)
        assert ledger == pytest.approx(wall_h, rel=1e-9)
        productive = float(r["productive_hours"])
        ettr = float(r["ettr"])
        assert r["completed"] == "True"
        assert float(r["work_done_fraction"]) == pytest.approx(1.0)
        assert productive == pytest.approx(TINY_WORK_H, rel=1e-9)
        assert ettr == pytest.approx(productive / wall_h, rel=1e-9)
        assert 0.0 < ettr < 1.0
        # productive GPU-time over installed GPUs (8 nodes + 1 spare) x wall clock
        assert float(r["utilization"]) == pytest.approx(
            productive * TINY_GPUS / (TINY_INSTALLED * wall_h), rel=1e-9)
        assert float(r["effective_mfu"]) == pytest.approx(TINY_MFU * ettr, rel=1e-9)
        assert float(r["effective_exaflops"]) == pytest.approx(
            TINY_GPUS * H100_PEAK * TINY_MFU * ettr / 1e18, rel=1e-9)
        # each interruption has exactly one cause
        by_cause = int(r["interruptions.gpu_fault"]) + int(r["interruptions.node_fault"])
        assert int(r["interruptions"]) == by_cause > 0
        assert int(r["planned_interruptions"]) == 0
        assert float(r["outage_hours"]) == 0.0  # no power model


def test_resolved_yaml_is_si(base_dir: Path) -> None:
    r = yaml.safe_load((base_dir / "resolved.yaml").read_text())
    assert r["job"]["checkpoint"]["interval"] == 600.0
    assert r["job"]["checkpoint"]["write_time"] == 30.0
    assert r["job"]["restart"]["time"] == 300.0
    assert r["job"]["work"] == 5 * 86400.0
    assert r["cluster"]["repair_time"]["median"] == 7200.0
    assert r["cluster"]["repair_time"]["mean"] == 21600.0
    assert r["failures"]["causes"][0]["mtbf"] == 20 * 86400.0
    assert r["economics"]["gpu_capex"] == 30000.0
    assert r["run"]["horizon"] == 365 * 86400.0


def test_resolved_yaml_validates(base_dir: Path) -> None:
    ok(invoke("validate", base_dir / "resolved.yaml"))


def test_metadata(base_dir: Path) -> None:
    meta = json.loads((base_dir / "metadata.json").read_text())
    for pkg in ("dcsim", "python", "numpy", "simpy"):
        assert meta["versions"][pkg], pkg
    assert meta["seed_entropy"] == str(np.random.SeedSequence(3).entropy)
    assert isinstance(meta["command_line"], list) and meta["command_line"]
    assert all(isinstance(a, str) for a in meta["command_line"])


def test_no_plots(work: Path, tiny: Path) -> None:
    out = work / "noplots"
    ok(invoke("run", tiny, "-o", out, "-r", 2, "--no-plots"))
    for name in RESULT_FILES:
        assert (out / name).is_file(), name
    assert list(out.glob("*.png")) == []


def test_default_output_folder(work: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = work / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    ok(invoke("run", tiny, "-r", 2, "--no-plots"))
    assert (cwd / "results" / "tiny" / "summary.json").is_file()


def test_result_files_respect_umask(work: Path, tiny: Path) -> None:
    old = os.umask(0o022)
    try:
        out = work / "perms"
        ok(invoke("run", tiny, "-o", out, "-r", 2, "--no-plots"))
    finally:
        os.umask(old)
    for name in RESULT_FILES:
        assert (out / name).stat().st_mode & 0o777 == 0o644, name


# ---- run options ---------------------------------------------------------------------------


def test_format_json_equals_summary(work: Path, tiny: Path) -> None:
    out = work / "json"
    result = ok(invoke("run", tiny, "-o", out, "--format", "json", "--no-plots"))
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    assert printed["scenario"] == "tiny"


def test_set_override_reaches_resolved_yaml(work: Path, tiny: Path) -> None:
    out = work / "set"
    ok(invoke("run", tiny, "-o", out, "-r", 2, "--no-plots",
              "--set", "job.checkpoint.interval=5 min",
              "--set", "failures.causes.1.rate_per_year=30"))
    r = yaml.safe_load((out / "resolved.yaml").read_text())
    assert r["job"]["checkpoint"]["interval"] == 300.0
    assert r["failures"]["causes"][1]["rate_per_year"] == 30
    s = json.loads((out / "summary.json").read_text())
    # the analytic block sees the override too: 64/20 + 8 x 30/365 failures a day
    assert s["analytic"]["job_failure_rate_per_day"] == pytest.approx(64 / 20 + 8 * 30 / 365)
    # 5-minute checkpoints: 24 write stalls of 30 s per productive 2 h at least
    rows = read_csv(out / "replications.csv")
    assert all(float(x["checkpoint_hours"]) >= 0.99 * 120 * 60 / 5 * 30 / 3600 for x in rows)


def test_replications_and_seed_options(work: Path, tiny: Path) -> None:
    out3 = work / "seed7_r3"
    ok(invoke("run", tiny, "-o", out3, "-r", 3, "--seed", 7, "--no-plots"))
    s = json.loads((out3 / "summary.json").read_text())
    assert s["replications"] == 3
    assert s["seed"] == 7
    assert json.loads((out3 / "metadata.json").read_text())["seed"] == 7
    rows3 = read_csv(out3 / "replications.csv")
    assert len(rows3) == 3
    # replication i depends only on (seed, i): a shorter run is a prefix of a longer one
    out2 = work / "seed7_r2"
    ok(invoke("run", tiny, "-o", out2, "-r", 2, "--seed", 7, "--no-plots"))
    rows2 = read_csv(out2 / "replications.csv")
    for a, b in zip(rows2, rows3, strict=False):
        assert _strip(a) == _strip(b)
    # another seed gives other numbers
    out8 = work / "seed8_r2"
    ok(invoke("run", tiny, "-o", out8, "-r", 2, "--seed", 8, "--no-plots"))
    rows8 = read_csv(out8 / "replications.csv")
    assert [r["wall_clock_days"] for r in rows8] != [r["wall_clock_days"] for r in rows2]


def _strip(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k != "sim_seconds"}


def _csv_without_timing(path: Path) -> list[dict[str, str]]:
    return [_strip(r) for r in read_csv(path)]


def test_same_seed_same_results(work: Path, tiny: Path, base_dir: Path) -> None:
    out = work / "again"
    ok(invoke("run", tiny, "-o", out, "--no-plots"))
    assert _csv_without_timing(out / "replications.csv") == \
        _csv_without_timing(base_dir / "replications.csv")


def test_jobs_do_not_change_results(work: Path, tiny: Path, base_dir: Path) -> None:
    out = work / "j2"
    ok(invoke("run", tiny, "-o", out, "-j", 2, "--no-plots"))
    assert _csv_without_timing(out / "replications.csv") == \
        _csv_without_timing(base_dir / "replications.csv")
    assert json.loads((out / "metadata.json").read_text())["jobs"] == 2


# ---- validate and bad input ----------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_validate_shipped_scenarios(path: Path) -> None:
    result = ok(invoke("validate", path))
    assert "ok" in result.stdout


BAD_FILES = {
    "unknown_key": (
        TINY.replace("  nodes_per_rack: 4\n", "  nodes_per_rack: 4\n  gpu_count: 64\n"),
        "cluster.gpu_count", "unknown key"),
    "negative_rate": (
        TINY.replace("rate_per_year: 60", "rate_per_year: -60"),
        "failures.causes.1.rate_per_year", "greater than or equal to 0"),
    "wrong_unit": (
        TINY.replace("interval: 10 min", "interval: 10 kW"),
        "job.checkpoint.interval", "'kW'"),
    "not_a_number": (
        TINY.replace("gpus: 64\n", "gpus: lots\n"),
        "cluster.gpus", "integer"),
    "missing_key": (
        TINY.replace("  restart: {time: 5 min}\n", ""),
        "job.restart", "missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_validate_bad_file(work: Path, case: str) -> None:
    text, key, fragment = BAD_FILES[case]
    path = work / f"bad_{case}.yaml"
    path.write_text(text)
    lines = assert_bad_input(invoke("validate", path))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {key}: "), lines
    assert fragment in lines[0]


def test_validate_malformed_yaml_shows_line(work: Path) -> None:
    path = work / "malformed.yaml"
    path.write_text("name: x\ncluster:\n  gpus: 64\n  gpu: [h100\njob: {}\n")
    lines = assert_bad_input(invoke("validate", path))
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: ")
    assert re.search(r"line \d+", lines[0]), lines[0]
    assert "YAML" in lines[0]


def test_validate_missing_file(work: Path) -> None:
    path = work / "does_not_exist.yaml"
    lines = assert_bad_input(invoke("validate", path))
    assert lines == [f"{path}: file not found"]


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_validate_not_a_mapping(work: Path, text: str) -> None:
    path = work / "notmap.yaml"
    path.write_text(text)
    lines = assert_bad_input(invoke("validate", path))
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ")


def test_validate_lists_every_problem(work: Path) -> None:
    text = (TINY.replace("  nodes_per_rack: 4\n", "  nodes_per_rack: 4\n  gpu_count: 64\n")
            .replace("rate_per_year: 60", "rate_per_year: -60")
            .replace("interval: 10 min", "interval: 10 kW")
            .replace("run: {", "colour: blue\nrun: {"))
    path = work / "many.yaml"
    path.write_text(text)
    lines = assert_bad_input(invoke("validate", path))
    assert len(lines) == 4, lines
    keys = set()
    for line in lines:
        m = re.match(rf"^{re.escape(str(path))}: ([\w.]+): (.+)$", line)
        assert m, line
        keys.add(m.group(1))
    assert keys == {"cluster.gpu_count", "failures.causes.1.rate_per_year",
                    "job.checkpoint.interval", "colour"}


def test_run_bad_file_exits_2(work: Path) -> None:
    path = work / "bad_for_run.yaml"
    path.write_text(TINY.replace("interval: 10 min", "interval: 10 kW"))
    out = work / "never"
    lines = assert_bad_input(invoke("run", path, "-o", out))
    assert any("job.checkpoint.interval" in line for line in lines)
    assert not out.exists()  # nothing is written for bad input


def test_run_missing_file_exits_2(work: Path) -> None:
    assert_bad_input(invoke("run", work / "nope.yaml", "-o", work / "never2"))


@pytest.mark.parametrize("command", ["run", "validate"])
def test_set_without_equals_exits_2(tiny: Path, work: Path, command: str) -> None:
    out = work / "never3"
    extra = ["-o", out] if command == "run" else []
    lines = assert_bad_input(invoke(command, tiny, "--set", "job.checkpoint.interval", *extra))
    assert any("job.checkpoint.interval" in line and "key=value" in line for line in lines)
    assert not out.exists()


def test_set_bad_value_exits_2(tiny: Path) -> None:
    lines = assert_bad_input(invoke("validate", tiny, "--set", "run.replications=many"))
    assert len(lines) == 1
    assert lines[0].startswith("--set run.replications=many: run.replications: ")


def test_set_bad_index_exits_2(tiny: Path) -> None:
    lines = assert_bad_input(invoke("validate", tiny, "--set",
                                    "failures.causes.9.rate_per_year=1"))
    assert any("failures.causes" in line for line in lines)


def test_bad_input_real_console_script(work: Path) -> None:
    # outside CliRunner: the installed entry point prints no traceback for bad input
    path = work / "bad_proc.yaml"
    path.write_text(TINY.replace("interval: 10 min", "interval: 10 kW"))
    proc = subprocess.run([sys.executable, "-c", "from simulator.entry import main; main()",
                           "validate", str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CI": "true"}, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith(f"{path}: job.checkpoint.interval: ")


def test_run_output_is_a_file_exits_2(work: Path, tiny: Path) -> None:
    target = work / "a_file"
    target.write_text("x")
    assert_bad_input(invoke("run", tiny, "-o", target, "-r", 2, "--no-plots"))


# ---- schema --------------------------------------------------------------------------------


def test_schema() -> None:
    result = ok(invoke("schema"))
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"name", "sources", "cluster", "job", "failures", "run"} <= set(schema["properties"])
    assert {"name", "cluster", "job"} <= set(schema["required"])
    # quantities accept numbers or strings with units
    checkpoint = schema["$defs"]["CheckpointConfig"]["properties"]["interval"]
    kinds = {alt.get("type") for alt in checkpoint["anyOf"]}
    assert {"number", "string"} <= kinds
    # unknown keys are forbidden in the schema as well
    assert schema.get("additionalProperties") is False


# ---- plot ----------------------------------------------------------------------------------


def test_plot_redraws(work: Path, base_dir: Path) -> None:
    d = work / "replot"
    shutil.copytree(base_dir, d)
    for png in ("ledger.png", "timeline.png"):
        (d / png).unlink()
    ok(invoke("plot", d))
    assert is_png(d / "ledger.png")
    assert is_png(d / "timeline.png")


def test_plot_redraws_after_no_plots(work: Path, tiny: Path) -> None:
    d = work / "plot_later"
    ok(invoke("run", tiny, "-o", d, "-r", 2, "--no-plots"))
    ok(invoke("plot", d))
    assert is_png(d / "ledger.png") and is_png(d / "timeline.png")


def test_plot_without_summary_exits_2(work: Path) -> None:
    d = work / "empty_dir"
    d.mkdir()
    lines = assert_bad_input(invoke("plot", d))
    assert "summary.json" in lines[0]


def test_plot_incomplete_folder_exits_2(work: Path, base_dir: Path) -> None:
    d = work / "incomplete"
    shutil.copytree(base_dir, d)
    (d / "timeline.csv").unlink()
    assert_bad_input(invoke("plot", d))
