"""Hardening: absurd numbers, bounded work, whole output folders, sweep points that cannot be
trusted, damaged result folders and statistics that cannot mislead. Each test fails on the
behaviour it replaces."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import pytest
import yaml
from helpers import assert_bad_input, invoke, make_scenario, ok, scenario_dict

import simulator
from simulator import outdir
from simulator.budget import estimate
from simulator.config import Scenario
from simulator.diagnostics import result_warnings
from simulator.model import simulate
from simulator.runner import seeds_for
from simulator.stats import estimate as stat_estimate

HOUR = 3600.0


def _file(tmp_path: Path, data: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _tiny(tmp_path: Path, **kw: object) -> Path:
    return _file(tmp_path, scenario_dict(mtbf_h=24.0, work="2 d", **kw))  # type: ignore[arg-type]


# ---- non-finite and absurd numbers ---------------------------------------------------------


@pytest.mark.parametrize("key", ["job.checkpoint.interval", "job.restart.time", "job.work",
                                 "run.horizon", "cluster.repair_time"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e308 d", "1e400"])
def test_non_finite_durations_are_refused_from_set(tmp_path: Path, key: str, value: str) -> None:
    lines = assert_bad_input(invoke("validate", _tiny(tmp_path), "--set", f"{key}={value}"))
    assert lines[0].startswith(f"--set {key}={value}: {key}"), lines


def test_an_infinite_rate_in_the_file_is_refused(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["failures"]["causes"] = [{"name": "x", "per": "gpu", "rate_per_year": math.inf}]
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    assert "failures.causes.0.rate_per_year" in lines[0] and "finite" in lines[0]


@pytest.mark.parametrize("key,value,fragment", [
    ("failures.causes.0.distribution", {"weibull": {"shape": 0.001}}, "shape"),
    ("cluster.gpus", 10**12, "cluster.gpus"),
    ("job.checkpoint.interval", 1e308, "job.checkpoint.interval"),
    ("run.replications", 10**9, "run.replications"),
])
def test_absurd_finite_values_are_refused(tmp_path: Path, key: str, value: object,
                                          fragment: str) -> None:
    data = scenario_dict(mtbf_h=24.0)
    node = data
    *path, last = key.split(".")
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    assert any(fragment in line for line in lines), lines


# ---- bounded work ----------------------------------------------------------------------------


def test_a_one_millisecond_interval_is_refused_before_it_runs(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=None, work="30 d")
    data["job"]["checkpoint"] = {"interval": "1 ms", "write_time": 0}
    path = _file(tmp_path, data)
    for cmd in ("validate", "run"):
        lines = assert_bad_input(invoke(cmd, path, "-o", tmp_path / "o", "--no-plots")
                                 if cmd == "run" else invoke(cmd, path))
        assert "run.max_events" in lines[0] and "checkpoints" in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_a_job_that_never_progresses_is_refused(tmp_path: Path) -> None:
    # MTBF 1 min against a 1 h restart over a 100-year horizon: about 5e7 failures
    data = scenario_dict(mtbf_h=1 / 60, restart_min=60.0, horizon="100 yr")
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    assert "run.max_events" in lines[0] and "failures" in lines[0]


def test_the_estimate_is_within_a_small_factor_of_the_events_simulated() -> None:
    scenario = make_scenario(mtbf_h=2.0, nodes=64, **{"job.work": "20 d"})
    record = simulate(scenario, seeds_for(1, 1)[0])
    est = estimate(scenario).events
    assert est / 3 < record.events < est * 3, (est, record.events)


def test_a_replication_that_reaches_max_events_stops_and_says_so() -> None:
    scenario = make_scenario(mtbf_h=2.0, nodes=16, **{"job.work": "20 d", "run.max_events": 500})
    record = simulate(scenario, seeds_for(1, 1)[0])
    assert record.stopped_at_event_budget and not record.completed
    assert record.wall_clock_days < 20
    codes = [w["code"] for w in result_warnings(scenario, [record, record])]
    assert "event_budget" in codes and "horizon" not in codes
    finished = simulate(make_scenario(mtbf_h=2.0, nodes=16, **{"job.work": "1 d"}),
                        seeds_for(1, 1)[0])
    assert finished.completed and not finished.stopped_at_event_budget


def test_replications_and_sweep_sizes_are_bounded(tmp_path: Path) -> None:
    path = _tiny(tmp_path)
    assert_bad_input(invoke("run", path, "-r", 1_000_000_000, "-o", tmp_path / "o"))
    lines = assert_bad_input(invoke("sweep", path, "--param", "job.checkpoint.interval",
                                    "--range", "1 min:1 h:1000000000", "-o", tmp_path / "s"))
    assert "more than 10,000 points" in lines[0]
    many = ",".join(f"{k} min" for k in range(1, 201))
    lines = assert_bad_input(invoke("sweep", path, "--param", "job.checkpoint.interval",
                                    "--values", many, "--param", "job.restart.time",
                                    "--values", many, "-o", tmp_path / "s"))
    assert "40,000 points" in lines[0]


def test_more_jobs_than_cores_is_bounded(tmp_path: Path) -> None:
    res = ok(invoke("run", _tiny(tmp_path), "-r", 2, "-j", 500, "--no-plots", "-o",
                    tmp_path / "o"))
    assert "-j 500 is more than this machine's" in res.stderr
    meta = json.loads((tmp_path / "o" / "metadata.json").read_text())
    assert meta["jobs"] <= (os.cpu_count() or 1)


# ---- the output folder -----------------------------------------------------------------------


def _no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.runner

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before checking the output folder")

    monkeypatch.setattr(simulator.runner, "run_replications", refuse)


def test_a_bad_output_folder_is_refused_before_simulating(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = _tiny(tmp_path)
    _no_simulation(monkeypatch)
    afile = tmp_path / "afile"
    afile.write_text("x")
    lines = assert_bad_input(invoke("run", path, "-o", afile / "inside", "--no-plots"))
    assert lines[0].startswith(f"{afile / 'inside'}: cannot create the output folder")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    lines = assert_bad_input(invoke("run", path, "-o", foreign, "--no-plots"))
    assert "holds no dcsim results" in lines[0]
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_the_current_folder_is_never_replaced(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = _tiny(tmp_path)
    monkeypatch.chdir(tmp_path)
    lines = assert_bad_input(invoke("run", path, "-o", ".", "--no-plots"))
    assert "current folder" in lines[0]


def test_a_locked_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _tiny(tmp_path)
    _no_simulation(monkeypatch)
    with outdir.OutputFolder(tmp_path / "o"):
        lines = assert_bad_input(invoke("run", path, "-o", tmp_path / "o", "--no-plots"))
    assert "another dcsim command is writing" in lines[0]


def test_a_rerun_leaves_no_stale_file(tmp_path: Path) -> None:
    path, out = _tiny(tmp_path), tmp_path / "o"
    ok(invoke("run", path, "-r", 2, "-o", out))
    assert (out / "timeline.png").exists()
    (out / "stray.txt").write_text("from an older version")
    ok(invoke("run", path, "-r", 2, "-o", out, "--no-plots"))
    assert not (out / "timeline.png").exists() and not (out / "stray.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".o.")) == [".o.lock"]


def test_a_full_disk_leaves_the_previous_folder(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, out = _tiny(tmp_path), tmp_path / "o"
    ok(invoke("run", path, "-r", 2, "--seed", 1, "-o", out, "--no-plots"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import simulator.output

    real = simulator.output.atomic_write_text
    calls = []

    def full(target: Path, text: str) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(target, text)

    monkeypatch.setattr(simulator.output, "atomic_write_text", full)
    res = invoke("run", path, "-r", 2, "--seed", 2, "-o", out, "--no-plots")
    assert res.exit_code == 1 and "No space left on device" in res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not (tmp_path / ".o.partial").exists()


def test_an_interrupted_two_rename_swap_is_undone(tmp_path: Path) -> None:
    final = tmp_path / "o"
    final.mkdir()
    (final / "metadata.json").write_text("{}")
    # the state a kill between the two renames leaves: the previous folder moved aside
    os.rename(final, tmp_path / ".o.old")
    with outdir.OutputFolder(final) as folder:
        assert (final / "metadata.json").exists()
        (folder.stage / "metadata.json").write_text('{"new": 1}')
        folder.commit()
    assert json.loads((final / "metadata.json").read_text()) == {"new": 1}
    assert not (tmp_path / ".o.old").exists()


def test_the_swap_without_renameat2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    final = tmp_path / "o"
    for k in range(2):
        with outdir.OutputFolder(final) as folder:
            (folder.stage / "metadata.json").write_text(json.dumps({"k": k}))
            folder.commit()
    assert json.loads((final / "metadata.json").read_text()) == {"k": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".o.lock", "o"]


# ---- sweep points ----------------------------------------------------------------------------

SWEEP = ("--param", "job.restart.time", "--values", "1 min,5 min", "-r", 2, "--no-plots")


def _point_files(out: Path) -> list[Path]:
    return sorted((out / "points").glob("*.json"))


def test_an_edited_point_is_recomputed(tmp_path: Path) -> None:
    path, out = _tiny(tmp_path), tmp_path / "sw"
    ok(invoke("sweep", path, *SWEEP, "-o", out))
    before = (out / "sweep.csv").read_text()
    victim = _point_files(out)[0]
    body = json.loads(victim.read_text())
    body["records"][0]["ettr"] = 0.123456
    victim.write_text(json.dumps(body))
    res = ok(invoke("sweep", path, *SWEEP, "-o", out))
    assert "computed 1 of 2 points" in res.output
    assert (out / "sweep.csv").read_text() == before


def test_points_of_another_model_version_are_recomputed(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path, out = _tiny(tmp_path), tmp_path / "sw"
    ok(invoke("sweep", path, *SWEEP, "-o", out))
    assert "computed 0 of 2" in ok(invoke("sweep", path, *SWEEP, "-o", out)).output
    monkeypatch.setattr(simulator, "__version__", "99.0.0")
    assert "computed 2 of 2" in ok(invoke("sweep", path, *SWEEP, "-o", out)).output


def test_a_zip_sweep_plots_and_redraws(tmp_path: Path) -> None:
    path, out = _tiny(tmp_path), tmp_path / "zip"
    ok(invoke("sweep", path, "--param", "job.checkpoint.interval", "--values", "30 min,1 h",
              "--param", "job.restart.time", "--values", "5 min,30 min", "--zip", "-r", 2,
              "-o", out))
    assert (out / "sweep.png").stat().st_size > 0
    (out / "sweep.png").unlink()
    ok(invoke("plot", out))
    assert (out / "sweep.png").exists()


# ---- damaged result folders ------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("damaged")
    out = tmp / "run"
    ok(invoke("run", _tiny(tmp), "-r", 2, "-o", out, "--no-plots"))
    return out


@pytest.mark.parametrize("name,content", [
    ("summary.json", "{bad"),
    ("summary.json", '{"replications": 2}'),
    ("replications.csv", ""),
    ("replications.csv", "replication,ettr\n"),
    ("timeline.csv", "x,y\n1,2\n"),
    ("timeline.csv", "time_s,state,progress_s\nabc,compute,1\n"),
    ("resolved.yaml", "name: [\n"),
])
def test_plot_on_a_damaged_folder_names_the_file(run_folder: Path, tmp_path: Path, name: str,
                                                 content: str) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run_folder, out)
    (out / name).write_text(content)
    lines = assert_bad_input(invoke("plot", out))
    assert lines[0].startswith(str(out / name)), lines


# ---- statistics that cannot mislead ----------------------------------------------------------


def test_one_replication_has_no_interval() -> None:
    est = stat_estimate([3.0])
    assert est.mean == 3.0 and math.isnan(est.std)
    assert math.isnan(est.ci95_low) and math.isnan(est.ci95_high)


def test_the_interval_of_a_count_never_goes_below_zero() -> None:
    # one replication tripped 1,000 times, the others never: the t-interval reaches far below 0
    est = stat_estimate([1000.0, 0, 0, 0, 0], bounds=(0.0, math.inf))
    assert est.ci95_low == 0.0 and est.ci95_high > 200.0


def test_a_one_replication_run_warns(tmp_path: Path) -> None:
    res = ok(invoke("run", _tiny(tmp_path), "-r", 1, "-o", tmp_path / "o", "--no-plots"))
    assert "one replication" in res.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["ettr"]["ci95_low"] is None
    assert "one_replication" in [w["code"] for w in summary["warnings"]]


def test_flags_have_no_value_placeholder() -> None:
    for cmd in ("run", "sweep", "compare"):
        assert "<bool>" not in ok(invoke(cmd, "--help")).output


def test_scenario_still_valid_after_all_bounds() -> None:
    # the bounds leave every shipped scenario valid
    from simulator.loader import load_scenario

    for path in sorted(Path(__file__).parent.parent.glob("scenarios/*.yaml")):
        assert isinstance(load_scenario(path), Scenario)


# ---- short iterations on a site with turbines --------------------------------------------------


def _brute_sustained(high: float, low: float, period: float, duty: float, window: float) -> float:
    """max_t |avg_W(t) − avg_W(t − W)| of a square wave, by fine sampling over many periods."""
    import numpy as np

    per = 4000  # samples per period, counted in integers so that no phase drifts
    dt = period / per
    phase = np.arange(round((3 * window + 4 * period) / dt)) % per
    v = np.where(phase < duty * per, high, low)
    c = np.concatenate(([0.0], np.cumsum(v) * dt))
    k = round(window / dt)
    avg = (c[k:] - c[:-k]) / window
    return float(np.max(np.abs(avg[k:] - avg[:-k])))


@pytest.mark.parametrize("window", [0.3, 1.0, 2.5, 7.3])
def test_sustained_change_for_windows_longer_than_the_period(window: float) -> None:
    # the moving average over a window of several periods (a 0.5 s block-load window on a
    # 0.1 s iteration) failed with an IndexError
    from simulator.power.protection import sustained
    from simulator.power.waveform import Pwl

    period, duty, high, low = 1.0, 0.6, 100.0, 40.0
    w = Pwl.from_points([0.0, 0.0, duty, duty, period], [high, high, high, low, low], period)
    assert sustained(w, window, samples=4000) == pytest.approx(
        _brute_sustained(high, low, period, duty, window), rel=2e-3, abs=1e-6)


@pytest.mark.parametrize("iteration", ["0.2 s", "0.1 s", "50 ms"])
def test_short_iterations_on_a_generator_site_run(tmp_path: Path, iteration: str) -> None:
    data = scenario_dict(mtbf_h=24.0, nodes=2, work="1 d")
    data["job"]["iteration_time"] = iteration
    data["power"] = {"grid": {"capacity": "20 kW"},
                     "generators": {"capacity": "200 kW", "ramp_rate": "1 kW/s"},
                     "battery": {"count": 1, "unit_power": "100 kW", "unit_energy": "100 kWh"}}
    ok(invoke("run", _file(tmp_path, data), "-r", 1, "--no-plots", "-o", tmp_path / "o"))
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["completed_fraction"] == 1.0
