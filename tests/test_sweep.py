"""``dcsim sweep``: points, files, resume, the checkpoint-interval optimum."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import assert_bad_input, invoke, ok

import simulator.executors as executors
from simulator.analytic import daly_interval, young_interval
from simulator.loader import ScenarioError
from simulator.records import METRICS
from simulator.sweepgrid import POINT_FORMAT
from simulator.sweepparams import combinations, param_column, parse_range, parse_values, split_values
from simulator.tablecsv import read_csv_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MINUTE, HOUR = 60.0, 3600.0


def write_scenario(path: Path, *, name: str = "expo", mtbf: str = "6 h", work: str = "2 d",
                   interval: str = "60 min", write: str = "5 min", restart: str = "10 min",
                   replications: int = 3, seed: int = 7) -> Path:
    """One 8-GPU node, one exponential node cause with the given job MTBF, repairs of 0 s
    (never short of hardware), no power model: the setting of Daly's closed forms."""
    path.write_text(f"""\
name: {name}
cluster: {{gpu: h100, gpus: 8, gpus_per_node: 8, nodes_per_rack: 4, repair_time: 0 s}}
failures:
  causes:
    - {{name: node_fault, per: node, mtbf: {mtbf}, repair_time: 0 s}}
job:
  work: {work}
  checkpoint: {{interval: {interval}, write_time: {write}}}
  restart: {{time: {restart}}}
run: {{replications: {replications}, seed: {seed}, horizon: 10 yr}}
""")
    return path





@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path / "expo.yaml")


# ---- the checkpoint-interval sweep against Daly -------------------------------------------


@pytest.fixture(scope="module")
def daly_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """Daly's own case δ = 5 min, R = 10 min, M = 6 h (τ* = 56.7 min): 10 log-spaced intervals,
    12 replications of 100 days of work on the same seeds, refined with --optimize."""
    d = tmp_path_factory.mktemp("daly")
    path = write_scenario(d / "expo.yaml", work="100 d", replications=12)
    out = d / "sweep"
    result = ok(invoke("sweep", path, "--param", "job.checkpoint.interval",
                       "--range", "32 min:140 min:10", "--optimize", "-j", 2, "-o", out))
    return out, result


def test_sweep_writes_csv_json_png(daly_sweep: tuple[Path, Any]) -> None:
    out, _ = daly_sweep
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    for name in ("sweep.csv", "sweep.json", "resolved.yaml", "metadata.json"):
        assert (out / name).is_file(), name
    rows = read_csv_rows(out / "sweep.csv")
    assert len(rows) == 10
    assert len(list((out / "points").glob("*.json"))) >= 10  # + the optimizer's evaluations
    for m in METRICS:
        for col in ("mean", "ci95_low", "ci95_high"):
            assert f"{m}_{col}" in rows[0], f"{m}_{col}"
    for r in rows:
        assert r["replications"] == 12
        assert r["wall_clock_days_ci95_low"] <= r["wall_clock_days_mean"]
        assert r["wall_clock_days_mean"] <= r["wall_clock_days_ci95_high"]
        assert 0 < r["ettr_mean"] < 1
        # analytic columns
        assert r["daly_interval_s"] == pytest.approx(daly_interval(5 * MINUTE, 6 * HOUR))
        assert r["young_interval_s"] == pytest.approx(young_interval(5 * MINUTE, 6 * HOUR))
    # the parameter is in SI (seconds), log-spaced, with exact ends
    taus = np.array([r["job.checkpoint.interval_s"] for r in rows])
    assert taus[0] == 32 * MINUTE and taus[-1] == 140 * MINUTE
    np.testing.assert_allclose(np.diff(np.log(taus)), np.log(140 / 32) / 9, rtol=1e-9)
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["params"][0]["log"] is True and meta["params"][0]["kind"] == "duration"
    assert meta["metrics"] == ["ettr", "wall_clock_days"]


def test_sweep_argmin_near_daly(daly_sweep: tuple[Path, Any]) -> None:
    out, result = daly_sweep
    rows = read_csv_rows(out / "sweep.csv")
    daly_min = daly_interval(5 * MINUTE, 6 * HOUR) / MINUTE
    assert daly_min == pytest.approx(56.7, abs=0.05)
    best = min(rows, key=lambda r: r["wall_clock_days_mean"])
    argmin_min = best["job.checkpoint.interval_s"] / MINUTE
    assert argmin_min == pytest.approx(daly_min, rel=0.10)
    # the curve is a valley: both ends clearly worse than the minimum
    walls = [r["wall_clock_days_mean"] for r in rows]
    assert min(walls[0], walls[-1]) > best["wall_clock_days_mean"] * 1.02
    # ETTR peaks where wall clock bottoms out (same work at every point)
    assert max(rows, key=lambda r: r["ettr_mean"]) is best
    # the refined optimum lies in the bracket around the argmin and close to Daly
    meta = json.loads((out / "sweep.json").read_text())
    (opt,) = meta["optimize"]
    lo, hi = opt["bounds_s"]
    assert lo <= opt["interval_s"] <= hi
    assert opt["interval_s"] / MINUTE == pytest.approx(daly_min, rel=0.10)
    assert opt["wall_clock_days"]["mean"] <= best["wall_clock_days_mean"]
    assert opt["evaluations"], "the optimizer evaluated no new interval"
    assert opt["daly_interval_s"] == pytest.approx(daly_min * MINUTE)
    text = " ".join(result.stdout.split())
    assert "refined" in text and "Young 60 min" in text and "Daly 56.7 min" in text


# ---- resume ----------------------------------------------------------------------------------


def test_resume_recomputes_only_missing_points(scenario: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "resume"
    base = ["sweep", scenario, "--param", "job.checkpoint.interval",
            "--values", "20 min,40 min,80 min,160 min", "-j", 1, "--no-plots", "-o", out]
    args = [*base, "-r", 3]
    calls: list[int] = []
    real = executors.simulate

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(executors, "simulate", spy)
    ok(invoke(*args))
    assert len(calls) == 4 * 3
    files = sorted((out / "points").glob("*.json"))
    assert len(files) == 4
    first_csv = (out / "sweep.csv").read_text()
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    # an interrupted sweep: one point never finished
    files[1].unlink()
    calls.clear()
    result = ok(invoke(*args))
    assert len(calls) == 3  # exactly one point's replications
    assert "computed 1 of 4 points" in " ".join(result.stdout.split())
    for f in files:
        if f != files[1]:
            assert f.stat().st_mtime_ns == mtimes[f.name], f"{f.name} was rewritten"
    assert files[1].exists()
    assert (out / "sweep.csv").read_text() == first_csv  # same numbers as the first run
    # a finished sweep run again computes nothing
    calls.clear()
    ok(invoke(*args))
    assert calls == []
    # a different replication count is a different point: nothing reused
    ok(invoke(*base, "-r", 2))
    assert len(calls) == 4 * 2


def test_corrupt_point_file_is_recomputed(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "corrupt"
    args = ["sweep", scenario, "--param", "job.restart.time", "--values", "1 min,5 min",
            "-r", 2, "--no-plots", "-o", out]
    ok(invoke(*args))
    before = (out / "sweep.csv").read_text()
    victim = sorted((out / "points").glob("*.json"))[0]
    victim.write_text("{not json")
    ok(invoke(*args))
    assert json.loads(victim.read_text())["format"] == POINT_FORMAT
    assert (out / "sweep.csv").read_text() == before


# ---- points: grid, zip, ranges ---------------------------------------------------------------


def test_grid_and_zip_point_counts(scenario: Path, tmp_path: Path) -> None:
    common = ["--param", "job.checkpoint.interval", "--values", "20 min,40 min,80 min",
              "--param", "job.restart.time", "--values", "1 min,5 min,10 min",
              "-r", 2, "--no-plots"]
    ok(invoke("sweep", scenario, *common, "-o", tmp_path / "grid"))
    grid = read_csv_rows(tmp_path / "grid" / "sweep.csv")
    assert len(grid) == 9
    assert {(r["job.checkpoint.interval_s"], r["job.restart.time_s"]) for r in grid} == {
        (a * MINUTE, b * MINUTE) for a in (20, 40, 80) for b in (1, 5, 10)}
    ok(invoke("sweep", scenario, *common, "--zip", "-o", tmp_path / "zip"))
    zipped = read_csv_rows(tmp_path / "zip" / "sweep.csv")
    assert [(r["job.checkpoint.interval_s"], r["job.restart.time_s"]) for r in zipped] == [
        (20 * MINUTE, 1 * MINUTE), (40 * MINUTE, 5 * MINUTE), (80 * MINUTE, 10 * MINUTE)]
    # common random numbers: a point of the zip sweep is the same point of the grid
    by = {(r["job.checkpoint.interval_s"], r["job.restart.time_s"]): r for r in grid}
    for r in zipped:
        twin = by[(r["job.checkpoint.interval_s"], r["job.restart.time_s"])]
        assert r["wall_clock_days_mean"] == twin["wall_clock_days_mean"]
        assert r["key"] == twin["key"]
    assert json.loads((tmp_path / "zip" / "sweep.json").read_text())["mode"] == "zip"


def test_range_is_log_spaced_in_si() -> None:
    spec = parse_range("job.checkpoint.interval", "2 min:30 min:10")
    vals = np.array(spec.values)
    assert len(vals) == 10 and spec.log and spec.kind == "duration"
    assert vals[0] == 120.0 and vals[-1] == 1800.0
    np.testing.assert_allclose(vals[1:] / vals[:-1], 15 ** (1 / 9), rtol=1e-12)
    # mixed units of one kind, and integer ranges for counts
    assert parse_range("job.restart.time", "30 s:2 h:3").values == pytest.approx(
        (30.0, math.sqrt(30 * 7200), 7200.0))
    assert parse_range("cluster.spare_nodes", "1:64:7").values == (1, 2, 4, 8, 16, 32, 64)
    assert parse_range("power.battery.count", "10:20:30").values == tuple(range(10, 21))
    assert parse_range("power.grid.capacity", "10 MW:1 GW:3").values == pytest.approx(
        (1e7, 1e8, 1e9))


def test_values_keep_units_and_types() -> None:
    spec = parse_values("job.checkpoint.interval", "2 min, 5 min,10 min")
    assert spec.values == ("2 min", "5 min", "10 min") and not spec.log
    assert spec.kind == "duration"
    assert parse_values("cluster.spare_nodes", "0,1,4").values == (0, 1, 4)
    assert parse_values("job.restart.failures_during_restart", "true,false").values == (True, False)
    assert split_values("{weibull: {shape: 0.7}}, exponential") == [
        "{weibull: {shape: 0.7}}", "exponential"]


def test_combinations() -> None:
    a = parse_values("a", "1,2,3")
    b = parse_values("b", "x,y")
    assert len(combinations([a, b], zip_=False)) == 6
    with pytest.raises(ScenarioError, match="--zip needs the same number"):
        combinations([a, b], zip_=True)
    assert combinations([a, parse_values("b", "x,y,z")], zip_=True)[2] == {"a": 3, "b": "z"}


def test_mixed_range_and_values_pair_in_order(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "mixed"
    ok(invoke("sweep", scenario, "--param", "job.restart.time", "--range", "1 min:4 min:3",
              "--param", "job.checkpoint.interval", "--values", "30 min,60 min",
              "-r", 1, "--no-plots", "-o", out))
    params = json.loads((out / "sweep.json").read_text())["params"]
    assert [(p["key"], p["log"]) for p in params] == [("job.restart.time", True),
                                                      ("job.checkpoint.interval", False)]
    rows = read_csv_rows(out / "sweep.csv")
    assert sorted({r["job.restart.time_s"] for r in rows}) == pytest.approx([60.0, 120.0, 240.0])
    assert sorted({r["job.checkpoint.interval_s"] for r in rows}) == [1800.0, 3600.0]


def test_set_applies_to_every_point_and_json_format(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "json"
    result = ok(invoke("sweep", scenario, "--param", "job.checkpoint.interval",
                       "--values", "30 min,60 min", "--set", "job.work=1 d", "-r", 2,
                       "--no-plots", "--format", "json", "-o", out))
    data = json.loads(result.stdout)
    assert data["kind"] == "sweep" and len(data["rows"]) == 2
    for r in data["rows"]:
        assert r["productive_hours_mean"] == pytest.approx(24.0)


def test_default_output_folder(scenario: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ok(invoke("sweep", scenario, "--param", "job.restart.time", "--values", "1 min,2 min",
              "-r", 1, "--no-plots"))
    assert (tmp_path / "results" / "expo-sweep" / "sweep.csv").is_file()


def test_plot_redraws_sweep(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "replot"
    ok(invoke("sweep", scenario, "--param", "job.checkpoint.interval",
              "--param", "job.restart.time", "--range", "20 min:80 min:3",
              "--values", "1 min,10 min", "-r", 2, "--no-plots", "-o", out))
    assert not (out / "sweep.png").exists()
    result = ok(invoke("plot", out))
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    assert "sweep.png" in result.stdout
    # swept values carry their SI unit in the column name; counts keep the bare key
    header = (out / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header[1:3] == ["job.checkpoint.interval_s", "job.restart.time_s"]
    assert param_column("cluster.spare_nodes") == "cluster.spare_nodes"
    assert param_column("power.grid.capacity") == "power.grid.capacity_w"
    # a sweep folder written before the units joined the names still redraws
    (out / "sweep.png").unlink()
    text = (out / "sweep.csv").read_text()
    (out / "sweep.csv").write_text(text.replace("interval_s,", "interval,", 1)
                                   .replace("time_s,", "time,", 1))
    meta = json.loads((out / "sweep.json").read_text())
    for p in meta["params"]:
        del p["column"]
    (out / "sweep.json").write_text(json.dumps(meta))
    ok(invoke("plot", out))
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC


# ---- bad input -------------------------------------------------------------------------------


BAD = {
    "unknown key": (["--param", "job.checkpoint.intervl", "--values", "2 min,5 min"],
                    "job.checkpoint.intervl: unknown key"),
    "bad unit": (["--param", "job.checkpoint.interval", "--values", "2 min,5 kW"],
                 "unknown duration unit 'kW'"),
    "bad value": (["--param", "cluster.spare_nodes", "--values", "1,many"],
                  "cluster.spare_nodes"),
    "empty values": (["--param", "job.restart.time", "--values", ""], "comma-separated"),
    "repeated value": (["--param", "job.restart.time", "--values", "1 min,1 min"], "repeated"),
    "range syntax": (["--param", "job.restart.time", "--range", "1 min:10 min"],
                     "START:STOP:N"),
    "range N": (["--param", "job.restart.time", "--range", "1 min:10 min:1"], "at least 2"),
    "range zero": (["--param", "job.restart.time", "--range", "0 s:10 min:4"], "above 0"),
    "range kinds": (["--param", "job.restart.time", "--range", "1 min:10 MW:4"], "same kind"),
    "range below minimum": (["--param", "job.checkpoint.interval", "--range", "-5:10:3"],
                            "above 0"),
    "missing values": (["--param", "job.restart.time", "--param", "job.checkpoint.interval",
                        "--values", "1 min,2 min"], "give each --param one --values or --range"),
    "zip lengths": (["--param", "job.restart.time", "--values", "1 min,2 min", "--param",
                     "job.checkpoint.interval", "--values", "1 h,2 h,3 h", "--zip"],
                    "--zip needs the same number of values"),
    "repeated param": (["--param", "job.restart.time", "--values", "1 min", "--param",
                        "job.restart.time", "--values", "2 min"], "given more than once"),
    "not a mapping": (["--param", "job.checkpoint.interval.x", "--values", "1,2"],
                      "not a mapping"),
    "bad metric": (["--param", "job.restart.time", "--values", "1 min", "--metric", "speed"],
                   "--metric speed: unknown metric"),
    "optimize without interval": (["--param", "job.restart.time", "--values", "1 min",
                                   "--optimize"], "--optimize refines job.checkpoint.interval"),
    "scheduler without dask": (["--param", "job.restart.time", "--values", "1 min",
                                "--scheduler", "tcp://127.0.0.1:8786"],
                               "--scheduler needs --executor dask"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sweep_input_exits_2(scenario: Path, tmp_path: Path, case: str) -> None:
    args, expected = BAD[case]
    out = tmp_path / "never"
    lines = assert_bad_input(invoke("sweep", scenario, *args, "-r", 1, "-o", out))
    assert any(expected in line for line in lines), lines
    assert not out.exists()


def test_bad_base_scenario_exits_2(tmp_path: Path) -> None:
    path = write_scenario(tmp_path / "bad.yaml", interval="10 kW")
    lines = assert_bad_input(invoke("sweep", path, "--param", "job.restart.time",
                                    "--values", "1 min", "-o", tmp_path / "never"))
    assert lines[0].startswith(f"{path}: job.checkpoint.interval: ")


def _drawn_axes(monkeypatch: pytest.MonkeyPatch, out: Path) -> list:
    """Redraw a sweep folder's plot and return its axes (instead of saving the figure)."""
    import simulator.plots as plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    plots.draw_sweep(read_csv_rows(out / "sweep.csv"),
                     json.loads((out / "sweep.json").read_text()), out / "sweep.png")
    return figures[0].axes


def test_sweep_plots_mark_the_scenario_value_hollow_horizons_and_count_axes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", mtbf="6 h", work="2 d", interval="60 min")
    out = tmp_path / "sw"
    ok(invoke("sweep", scenario, "--param", "job.checkpoint.interval", "--range",
              "10 min:4 h:4", "-r", 2, "-o", out, "--set", "run.horizon=2.1 d"))
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["base_values"] == {"job.checkpoint.interval": 3600.0}
    ax = _drawn_axes(monkeypatch, out)[0]
    labels = ax.get_legend_handles_labels()[1]
    assert any(label in ("scenario's value 60 min", "scenario's value 1 h") for label in labels), labels
    assert "horizon reached (hollow)" in labels  # 2 d of work cannot finish in 2.1 d
    assert ax.get_xscale() == "log"
    counts = tmp_path / "counts"
    ok(invoke("sweep", scenario, "--param", "cluster.spare_nodes", "--range", "1:20:4", "-r", 2,
              "-o", counts))
    assert _drawn_axes(monkeypatch, counts)[0].get_xscale() == "linear"
