"""``dcsim compare``: paired replications on common random numbers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from test_sweep import PNG_MAGIC, assert_bad_input, invoke, ok, write_scenario

from simulator.loader import load_scenario
from simulator.model import simulate
from simulator.records import METRICS
from simulator.runner import seeds_for
from simulator.stats import estimate, paired_difference, welch_difference
from simulator.tablecsv import read_csv_rows


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["metric"], r["scenario"]): r for r in rows}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Any]:
    """Restart 10 min vs 2 min, everything else equal; 12 paired replications."""
    d = tmp_path_factory.mktemp("pair")
    slow = write_scenario(d / "slow.yaml", name="slow_restart", mtbf="4 h", work="10 d",
                          interval="30 min", restart="10 min", replications=12, seed=11)
    fast = write_scenario(d / "fast.yaml", name="fast_restart", mtbf="4 h", work="10 d",
                          interval="30 min", restart="2 min", replications=5, seed=99)
    out = d / "cmp"
    result = ok(invoke("compare", slow, fast, "-o", out, "-j", 2))
    return slow, fast, out, result


def test_compare_writes_files(pair: tuple[Path, Path, Path, Any]) -> None:
    _, _, out, result = pair
    assert (out / "compare.png").read_bytes()[:8] == PNG_MAGIC
    for name in ("compare.csv", "compare.json", "metadata.json", "replications-slow_restart.csv",
                 "replications-fast_restart.csv", "resolved-slow_restart.yaml",
                 "resolved-fast_restart.yaml"):
        assert (out / name).is_file(), name
    rows = read_csv_rows(out / "compare.csv")
    assert len(rows) == 2 * len(METRICS)  # every metric of every scenario
    meta = json.loads((out / "compare.json").read_text())
    # seed and replications come from the first file for every scenario (pairing)
    assert meta["labels"] == ["slow_restart", "fast_restart"]
    assert meta["seed"] == 11 and meta["replications"] == 12
    with open(out / "replications-fast_restart.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 12
    text = " ".join(result.stdout.split())
    assert "paired 95% CI" in text and "relative" in text and "−" in text


def test_replication_i_uses_spawned_seed_i(pair: tuple[Path, Path, Path, Any]) -> None:
    """Replication i of every scenario is simulate(scenario, SeedSequence(seed).spawn(n)[i])."""
    _, fast, out, _ = pair
    scenario = load_scenario(fast)
    with open(out / "replications-fast_restart.csv", encoding="utf-8") as fh:
        written = [float(r["wall_clock_days"]) for r in csv.DictReader(fh)]
    direct = [simulate(scenario, s, i).wall_clock_days for i, s in enumerate(seeds_for(11, 12))]
    assert written == direct


def test_paired_ci_narrower_than_unpaired(pair: tuple[Path, Path, Path, Any]) -> None:
    _, _, out, _ = pair
    rows = by_key(read_csv_rows(out / "compare.csv"))
    for metric in ("wall_clock_days", "ettr", "restart_hours"):
        r = rows[(metric, "fast_restart")]
        paired = r["diff_ci95_high"] - r["diff_ci95_low"]
        unpaired = r["diff_unpaired_ci95_high"] - r["diff_unpaired_ci95_low"]
        assert 0 < paired < unpaired, metric
        # paired and unpaired estimate the same difference of means
        base = rows[(metric, "slow_restart")]["mean"]
        assert r["diff_mean"] == pytest.approx(r["mean"] - base, rel=1e-9, abs=1e-12)
    wall = rows[("wall_clock_days", "fast_restart")]
    # faster restarts finish sooner, and the paired interval is sure of it
    assert wall["diff_ci95_high"] < 0
    assert wall["diff_relative"] < 0
    # the baseline has no difference columns
    assert math.isnan(rows[("wall_clock_days", "slow_restart")]["diff_mean"])


def test_self_comparison_differences_are_exactly_zero(tmp_path: Path) -> None:
    path = write_scenario(tmp_path / "same.yaml", mtbf="3 h", work="3 d", replications=6)
    out = tmp_path / "self"
    result = ok(invoke("compare", path, path, "-o", out, "--no-plots"))
    meta = json.loads((out / "compare.json").read_text())
    assert len(set(meta["labels"])) == 2  # distinct labels for the same file twice
    rows = read_csv_rows(out / "compare.csv")
    other = [r for r in rows if r["scenario"] == meta["labels"][1]]
    checked = 0
    for r in other:
        if math.isnan(r["mean"]):
            continue  # a metric without data (no power model, no prices)
        assert r["diff_mean"] == 0.0, r["metric"]
        assert r["diff_ci95_low"] == 0.0 and r["diff_ci95_high"] == 0.0, r["metric"]
        checked += 1
    assert checked >= 10
    assert "0 [0, 0]" in result.stdout


def test_compare_set_metric_and_json(tmp_path: Path) -> None:
    a = write_scenario(tmp_path / "a.yaml", name="a", restart="10 min")
    b = write_scenario(tmp_path / "b.yaml", name="b", restart="1 min")
    out = tmp_path / "json"
    result = ok(invoke("compare", a, b, "--metric", "ettr", "--metric", "restart_hours",
                       "--set", "job.work=1 d", "-r", 4, "--seed", 5, "--format", "json",
                       "--no-plots", "-o", out))
    data = json.loads(result.stdout)
    assert data["metrics"] == ["ettr", "restart_hours"]
    assert {r["metric"] for r in data["rows"]} == {"ettr", "restart_hours"}
    assert data["seed"] == 5 and data["replications"] == 4
    # --set reached every scenario
    for label in ("a", "b"):
        with open(out / f"replications-{label}.csv", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                assert float(r["productive_hours"]) == pytest.approx(24.0)


def test_default_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write_scenario(tmp_path / "a.yaml", name="alpha", work="1 d")
    b = write_scenario(tmp_path / "b.yaml", name="beta", work="1 d")
    monkeypatch.chdir(tmp_path)
    ok(invoke("compare", a, b, "-r", 2, "--no-plots"))
    assert (tmp_path / "results" / "compare-alpha-vs-beta" / "compare.csv").is_file()


def test_plot_redraws_compare(pair: tuple[Path, Path, Path, Any], tmp_path: Path) -> None:
    import shutil

    _, _, out, _ = pair
    d = tmp_path / "replot"
    shutil.copytree(out, d)
    (d / "compare.png").unlink()
    ok(invoke("plot", d))
    assert (d / "compare.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_bad_input(tmp_path: Path) -> None:
    good = write_scenario(tmp_path / "good.yaml")
    bad = write_scenario(tmp_path / "bad.yaml", restart="5 kW")
    out = tmp_path / "never"
    lines = assert_bad_input(invoke("compare", good, bad, tmp_path / "missing.yaml", "-o", out))
    assert any(line.startswith(f"{bad}: job.restart.time") for line in lines)
    assert any("missing.yaml: file not found" in line for line in lines)
    lines = assert_bad_input(invoke("compare", good, good, "--metric", "nope", "-o", out))
    assert "--metric nope" in lines[0]
    assert not out.exists()


# ---- the statistics ------------------------------------------------------------------------


def test_paired_and_welch_intervals_match_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(10, 2, 15)
    b = a + rng.normal(0.5, 0.3, 15)
    d = paired_difference(list(b), list(a))
    res = stats.ttest_rel(b, a)
    lo, hi = res.confidence_interval(0.95)
    assert (d.mean, d.ci95_low, d.ci95_high) == pytest.approx((float(np.mean(b - a)), lo, hi))
    w = welch_difference(list(b), list(a))
    res = stats.ttest_ind(b, a, equal_var=False)
    lo, hi = res.confidence_interval(0.95)
    assert (w.mean, w.ci95_low, w.ci95_high) == pytest.approx((float(b.mean() - a.mean()), lo, hi))
    assert d.ci95_high - d.ci95_low < w.ci95_high - w.ci95_low
    # identical samples: zero difference, zero width
    same = paired_difference(list(a), list(a))
    assert (same.mean, same.ci95_low, same.ci95_high) == (0.0, 0.0, 0.0)
    # non-finite pairs are dropped
    assert paired_difference([1.0, math.nan, 3.0], [0.0, 1.0, 1.0]).n == 2
    assert estimate([]).n == 0
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])


def test_a_variant_equals_the_same_comparison_written_as_files(
        pair: tuple[Path, Path, Path, Any], tmp_path: Path) -> None:
    slow = pair[0]
    # the fast file differs from the slow one in more than the restart: write the variant's twin
    twin = write_scenario(tmp_path / "twin.yaml", name="restart_2_min", mtbf="4 h", work="10 d",
                          interval="30 min", restart="2 min", replications=12, seed=11)
    files = tmp_path / "files"
    ok(invoke("compare", slow, twin, "-o", files))
    variants = tmp_path / "variants"
    ok(invoke("compare", slow, "--variant", "restart_2_min: job.restart.time=2 min", "-o",
              variants))
    a, b = read_csv_rows(files / "compare.csv"), read_csv_rows(variants / "compare.csv")
    assert a == b
    meta = json.loads((variants / "compare.json").read_text())
    assert meta["labels"] == ["slow_restart", "restart_2_min"]
    assert meta["variants"] == ["restart_2_min: job.restart.time=2 min"]


def test_a_bad_variant_is_named(pair: tuple[Path, Path, Path, Any], tmp_path: Path) -> None:
    slow = pair[0]
    lines = assert_bad_input(invoke("compare", slow, "--variant", "no colon", "-o", tmp_path / "x"))
    assert lines[0].startswith("--variant 'no colon': expected 'LABEL: key=value")
    lines = assert_bad_input(invoke("compare", slow, "--variant", "x: job.restart.time=2 kW",
                                    "-o", tmp_path / "x"))
    assert lines[0].startswith("--variant 'x: job.restart.time=2 kW': --set job.restart.time=2 kW")
    lines = assert_bad_input(invoke("compare", slow, "--variant", "slow_restart: job.work=1 d",
                                    "-o", tmp_path / "x"))
    assert "labels must differ" in lines[0]
