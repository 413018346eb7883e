"""``dcsim fit``: rates, Weibull shapes and repair times recovered from logs drawn by dcsim's
own failure model (so fit inverts the simulator), hand-computed small logs, a ``failures:``
block that a scenario accepts, and bad logs refused with every problem listed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import DAY, HOUR, assert_bad_input, invoke, make_scenario, ok

from simulator.distributions import Draws
from simulator.failures import FailureSource, resolve_causes
from simulator.fit import FitResult, fit_log, poisson_ci, unit_gaps
from simulator.fitplot import failures_yaml
from simulator.incidents import parse_window, read_incidents
from simulator.loader import load_scenario

YEAR = 365 * DAY
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def simulated_log(causes: list[dict[str, Any]], nodes: int, horizon_s: float,
                  seed: int) -> list[tuple[float, int, str, float]]:
    """``(time s, unit, cause, repair end s)`` of every failure dcsim's model samples up to the
    horizon: candidates from :class:`FailureSource`, thinned while the unit is out for that
    cause's repair and renewed when it is back, as the model does."""
    scenario = make_scenario(nodes=nodes, **{"failures.causes": causes})
    specs = resolve_causes(scenario)
    rng = np.random.default_rng(seed)
    source = FailureSource(scenario, specs, rng)
    repairs = [Draws(s.repair, rng) for s in specs]
    back: list[dict[int, float]] = [{} for _ in specs]
    rows = []
    while True:
        t, i, unit = source.next()
        if t > horizon_s:
            return rows
        if back[i].get(unit, -math.inf) > t:
            continue  # the unit is out for this cause's repair: no failure (thinning)
        back[i][unit] = t + repairs[i]()
        source.returned_to_service(i, unit, back[i][unit])
        rows.append((t, unit, specs[i].name, back[i][unit]))


def write_log(path: Path, rows: list[tuple[float, int, str, float]]) -> Path:
    path.write_text("time,unit,cause,repair_end\n"
                    + "".join(f"{t!r},{u},{c},{e!r}\n" for t, u, c, e in rows))
    return path


def by_name(result: FitResult) -> dict[str, Any]:
    return {c.name: c for c in result.causes}


# -- rates ----------------------------------------------------------------------------------------
def test_garwood_interval_values_and_exact_coverage() -> None:
    assert poisson_ci(0, 1.0) == pytest.approx((0.0, -math.log(0.025)))
    assert poisson_ci(1, 1.0) == pytest.approx((0.0253178, 5.5716434), rel=1e-6)
    assert poisson_ci(10, 2.0) == pytest.approx((4.795389 / 2, 18.390356 / 2), rel=1e-6)
    from scipy.stats import poisson

    # the coverage of the interval, summed exactly over k, is at least 95% for any mean
    for mu in (0.3, 3.0, 4.0, 16.0, 21.0, 100.0):
        ks = np.arange(int(mu + 12 * math.sqrt(mu) + 20))
        covered = [lo <= mu <= hi for lo, hi in (poisson_ci(int(k), 1.0) for k in ks)]
        assert float(poisson.pmf(ks, mu)[covered].sum()) >= 0.95, mu


# 64 GPUs = 8 nodes = 2 racks; expected failures in a year: 3, 5 and 7, where the exact
# interval covers 98.8%, 98.0% and 98.0% of the time (at most means it is 95.5-97%, and 95
# of 100 would then fail one seed set in four or five by chance alone)
COVERAGE_CAUSES = [
    {"name": "gpu_fault", "per": "gpu", "rate_per_year": 3 / 64, "repair_time": "1 h"},
    {"name": "node_fault", "per": "node", "rate_per_year": 5 / 8,
     "repair_time": {"distribution": "lognormal", "median": "1 d", "mean": "3 d"}},
    {"name": "rack_fault", "per": "rack", "rate_per_year": 7 / 2, "repair_time": 0},
]


def test_true_rates_lie_in_the_fitted_intervals(tmp_path: Path) -> None:
    truth = {c["name"]: (c["rate_per_year"], c["per"]) for c in COVERAGE_CAUSES}
    units = {"gpu": 64, "node": 8, "rack": 2}
    covered = dict.fromkeys(truth, 0)
    pooled = {name: [0, 0.0] for name in truth}  # k, exposure over every trial
    for seed in range(100):
        rows = simulated_log(COVERAGE_CAUSES, 8, YEAR, seed)
        result = fit_log(write_log(tmp_path / "log.csv", rows), 64,
                         {"gpu_fault": "gpu", "rack_fault": "rack"}, window="0:1 yr")
        fits = by_name(result)
        for name, (rate, per) in truth.items():
            if name in fits:
                c = fits[name]
                k, exposure, (lo, hi) = c.k, c.exposure_unit_years, c.rate_ci95
                assert c.per == per and c.units == units[per]
            else:  # no failure of this cause in the trial: k = 0 over the whole fleet
                k, exposure = 0, float(units[per])
                lo, hi = poisson_ci(0, exposure)
            covered[name] += lo <= rate <= hi
            pooled[name][0] += k
            pooled[name][1] += exposure
    print(f"coverage of 100 trials: {covered}")
    assert all(n >= 95 for n in covered.values()), covered
    # 300-700 failures pooled: a bias of a few percent in the exposure would show here
    for name, (k, exposure) in pooled.items():
        lo, hi = poisson_ci(k, exposure)
        assert lo <= truth[name][0] <= hi, (name, k, exposure)


# -- Weibull ----------------------------------------------------------------------------------
def renewal_causes(shape: float | None) -> list[dict[str, Any]]:
    cause: dict[str, Any] = {"name": "node_fault", "per": "node", "rate_per_year": 10.0,
                             "repair_time": {"distribution": "lognormal", "median": "2 h",
                                             "mean": "6 h"}}
    if shape is not None:
        cause["distribution"] = {"weibull": {"shape": shape}}
    return [cause]


def test_weibull_shape_is_recovered_and_the_exponential_rejected(tmp_path: Path) -> None:
    # 200 nodes of a running fleet (units start part-way through their cycle), ~10 failures each
    rows = simulated_log(renewal_causes(0.7), 200, YEAR, seed=7)
    c = by_name(fit_log(write_log(tmp_path / "w.csv", rows), 1600, window="0:1 yr"))["node_fault"]
    w = c.weibull
    assert w is not None and w.gaps > 1000
    assert w.shape_ci95[0] <= 0.7 <= w.shape_ci95[1], w
    assert w.p_value < 0.05 and c.weibull_recommended
    assert c.rate_ci95[0] <= 10.0 <= c.rate_ci95[1]


def test_an_exponential_trace_is_not_called_weibull(tmp_path: Path) -> None:
    rows = simulated_log(renewal_causes(None), 200, YEAR, seed=7)
    c = by_name(fit_log(write_log(tmp_path / "e.csv", rows), 1600, window="0:1 yr"))["node_fault"]
    w = c.weibull
    assert w is not None and w.shape_ci95[0] <= 1.0 <= w.shape_ci95[1], w
    assert w.p_value > 0.05 and not c.weibull_recommended


def test_weibull_interval_and_test_are_calibrated(tmp_path: Path) -> None:
    # 40 small traces (100 nodes, ~5 failures each): the 95% profile interval should cover
    # the true shape about 38 times, and the 5% test reject a true exponential about twice
    covered = rejected = 0
    for seed in range(40):
        path = tmp_path / "c.csv"
        cw = by_name(fit_log(write_log(path, simulated_log(renewal_causes(0.7) , 100, YEAR / 2,
                                                            seed)), 800, window="0:0.5 yr"))
        lo, hi = cw["node_fault"].weibull.shape_ci95
        covered += lo <= 0.7 <= hi
        ce = by_name(fit_log(write_log(path, simulated_log(renewal_causes(None), 100, YEAR / 2,
                                                            seed)), 800, window="0:0.5 yr"))
        rejected += ce["node_fault"].weibull.p_value < 0.05
    print(f"Weibull shape interval covered {covered}/40; exponential rejected {rejected}/40")
    assert covered >= 35 and rejected <= 6, (covered, rejected)


def test_a_running_fleet_with_few_failures_per_unit(tmp_path: Path) -> None:
    # 2,000 nodes at 1 failure per node-year, wear-out (shape 1.5), fleet already running: most
    # units fail once or never. Treating the window's start as every unit's renewal would read
    # a shape near 1.2 here; conditioning on each unit's first failure recovers 1.5.
    causes = renewal_causes(1.5)
    causes[0]["rate_per_year"] = 1.0
    rows = simulated_log(causes, 2000, YEAR, seed=5)
    w = by_name(fit_log(write_log(tmp_path / "f.csv", rows), 16000, window="0:1 yr"))[
        "node_fault"].weibull
    assert w is not None and w.shape_ci95[0] <= 1.5 <= w.shape_ci95[1], w
    assert w.p_value < 0.05


# -- repairs -------------------------------------------------------------------------------------
def test_lognormal_repairs_recover_median_and_mean(tmp_path: Path) -> None:
    median, mean = 20 * HOUR, 2 * DAY
    causes = [{"name": "board", "per": "node", "rate_per_year": 1.0,
               "repair_time": {"distribution": "lognormal", "median": median, "mean": mean}}]
    rows = simulated_log(causes, 300, YEAR, seed=3)
    result = fit_log(write_log(tmp_path / "r.csv", rows), 2400, window="0:1 yr")
    r = by_name(result)["board"].repair
    n, sigma = r.n, math.sqrt(2 * math.log(mean / median))
    assert r.model == "lognormal" and n > 200
    # 4 standard errors of log median (σ/√n) and of log mean (Cox: √(σ²/n + σ⁴/(2(n−1))))
    assert abs(math.log(r.median_s / median)) < 4 * sigma / math.sqrt(n)
    assert abs(math.log(r.mean_s / mean)) < 4 * math.sqrt(sigma**2 / n + sigma**4 / (2 * (n - 1)))
    assert r.median_ci95_s[0] <= median <= r.median_ci95_s[1]
    assert r.mean_ci95_s[0] <= mean <= r.mean_ci95_s[1]
    # the block says the same in a scenario's units
    block = yaml.safe_load(failures_yaml(result))["failures"]
    repair = block["causes"][0]["repair_time"]
    assert repair["distribution"] == "lognormal"
    scenario = make_scenario(**{"failures": block})
    got = scenario.failures.causes[0].repair_time
    assert got.median == pytest.approx(r.median_s, rel=1e-4)
    assert got.mean == pytest.approx(r.mean_s, rel=1e-4)


# -- hand-computed logs ----------------------------------------------------------------------------
def test_iso_log_by_hand(tmp_path: Path) -> None:
    log = tmp_path / "iso.csv"
    log.write_text("time,unit,cause,repair_end\n"
                   "2024-01-01T00:00:00Z,n1,psu,2024-01-02T00:00:00Z\n"
                   "2024-01-11T00:00:00Z,n2,psu,\n"
                   "2024-01-31T00:00:00Z,n1,psu,2024-01-31T12:00:00Z\n")
    result = fit_log(log, 80)  # 10 nodes; window: the first incident to the last, 30 d
    assert result.iso and result.window_years == pytest.approx(30 / 365)
    c = by_name(result)["psu"]
    # 10 nodes × 30 d, less n1's 1-day repair (the last one ends after the window)
    assert c.exposure_unit_years == pytest.approx(299 / 365)
    assert c.rate_per_year == pytest.approx(3 * 365 / 299)
    assert c.weibull is None  # one complete gap
    assert c.repair.model == "lognormal" and c.repair.n == 2  # 1 d and 12 h
    assert c.repair.median_s == pytest.approx(math.sqrt(DAY * 12 * HOUR))
    gaps, complete, down, _ = unit_gaps(read_incidents(log)[0], result.window_end_s)
    # n1: back on 2 Jan, fails on 31 Jan; n2: fails on 11 Jan, never back in the log's eyes
    assert sorted(zip(gaps, complete, strict=True)) == [(20 * DAY, False), (29 * DAY, True)]
    assert down == DAY


def test_window_forms() -> None:
    assert parse_window("0:365 d") == (0.0, 365 * DAY, False)
    assert parse_window(":2 yr") == (None, 2 * YEAR, False)
    start, end, iso = parse_window("2024-01-01T00:00:00Z:2024-01-02T00:00:00Z")
    assert iso and end - start == DAY
    with pytest.raises(ValueError):
        parse_window("5")


# -- the command ----------------------------------------------------------------------------
def test_cli_writes_a_block_a_scenario_accepts(tmp_path: Path) -> None:
    causes = [
        {"name": "gpu_hw", "per": "gpu", "rate_per_year": 0.3,
         "repair_time": {"distribution": "lognormal", "median": "20 h", "mean": "2 d"}},
        {"name": "node_hang", "per": "node", "rate_per_year": 8.0,
         "distribution": {"weibull": {"shape": 0.6}}, "repair_time": "30 min"},
        {"name": "software", "per": "node", "rate_per_year": 1.5, "repair_time": 0},
    ]
    log = write_log(tmp_path / "incidents.csv", simulated_log(causes, 128, YEAR, seed=11))
    out = tmp_path / "fit"
    result = ok(invoke("fit", log, "--gpus", 1024, "--per", "gpu_hw=gpu", "--window", "0:365 d",
                       "-o", out))
    for name in ("gpu_hw", "node_hang", "software"):
        assert name in result.output
    assert (out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fitted = yaml.safe_load((out / "failures.yaml").read_text())
    block = {c["name"]: c for c in fitted["failures"]["causes"]}
    assert block["node_hang"]["distribution"] == {"weibull": {"shape": pytest.approx(0.6, abs=0.1)}}
    assert block["gpu_hw"]["per"] == "gpu" and block["gpu_hw"]["distribution"] == "exponential"
    assert block["software"]["repair_time"] == 0
    assert block["node_hang"]["repair_time"] == "30 min"
    data = yaml.safe_load((SCENARIOS / "kaifu_10k.yaml").read_text())
    data["failures"] = fitted["failures"]
    path = tmp_path / "fitted.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_scenario(path)
    assert {c.name for c in scenario.failures.causes} == set(block)
    import json

    numbers = json.loads((out / "fit.json").read_text())
    assert numbers["failures"] == fitted["failures"]
    assert {c["name"] for c in numbers["causes"]} == set(block)
    # a fit folder is a result folder: a second fit replaces it
    ok(invoke("fit", log, "--gpus", 1024, "--per", "gpu_hw=gpu", "-o", out, "--no-plots"))


def test_bad_lines_are_all_named(tmp_path: Path) -> None:
    log = tmp_path / "bad.csv"
    log.write_text("time,unit,cause\n0,n1,a\nyesterday,n1,a\n5 d,n2,a\n6 d,n3,\n")
    lines = assert_bad_input(invoke("fit", log, "--gpus", 64, "-o", tmp_path / "o"))
    text = "\n".join(lines)
    assert f"{log}:3: time" in text and f"{log}:5: cause: empty" in text, text
    assert not (tmp_path / "o").exists()


def test_missing_file(tmp_path: Path) -> None:
    lines = assert_bad_input(invoke("fit", tmp_path / "nope.csv", "--gpus", 64))
    assert "nope.csv" in lines[0]


@pytest.mark.parametrize(("text", "args", "expected"), [
    ("when,unit,cause\n0,n1,a\n", [], ["missing column 'time'"]),
    ("time,unit,cause,repair_end\n1 d,n1,a,2 h\n", [], [":2: repair_end", "before time"]),
    ("time,unit,cause\n2024-01-01,n1,a\n3 d,n2,a\n", [], ["line 2 has an ISO-8601", "line 3"]),
    ("time,unit,cause\n-5,n1,a\n", [], [":2: time", "negative"]),
    ("time,unit,cause\n1 d,n1,a\n", ["--per", "a=disk", "--per", "=gpu", "--window", "5:1"],
     ["--per a=disk: unknown unit kind", "--per =gpu: expected CAUSE=", "--window: the observed"]),
    ("time,unit,cause\n1 d,r1,a\n2 d,r2,a\n3 d,r3,a\n", ["--per", "a=rack"],
     ["3 distinct units failed", "2 racks"]),
    ("time,unit,cause\n1 d,n1,planned\n", [], ["reserved cause name"]),
    ("time,unit,cause\n1 d,n1,width\n", [], ["'width' is a reserved cause name"]),
    ("time,unit,cause\n1 d,n1,repairs_at_start\n", [], ["'repairs_at_start' is a reserved"]),
    ("time,unit,cause\n1 d,n1\n", [], [":2: 2 fields"]),
])
def test_bad_input_is_listed(tmp_path: Path, text: str, args: list[str],
                             expected: list[str]) -> None:
    log = tmp_path / "log.csv"
    log.write_text(text)
    lines = assert_bad_input(invoke("fit", log, "--gpus", 64, *args))
    joined = "\n".join(lines)
    for part in expected:
        assert part in joined, joined


def test_an_unknown_unit_kind_from_python_is_a_listed_problem(tmp_path: Path) -> None:
    """fit_log refuses an unknown --per kind as bad input when the cause is in the log too
    (it used to reach the fleet lookup and raise KeyError)."""
    from simulator.errors import ScenarioError
    from simulator.fit import fit_log

    log = tmp_path / "log.csv"
    log.write_text("time,unit,cause\n1 d,n1,a\n")
    with pytest.raises(ScenarioError) as exc:
        fit_log(log, 64, {"a": "disk"})
    assert any("--per a=disk: unknown unit kind" in p for p in exc.value.problems)
