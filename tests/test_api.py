"""The Python API (simulator.load, simulator.run, Result): one code path with the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml
from helpers import assert_bad_input, invoke, ok, scenario_dict

import simulator
from simulator.errors import ScenarioError
from simulator.loader import load_scenario
from simulator.records import METRICS


def _file(tmp_path: Path) -> Path:
    data = scenario_dict(mtbf_h=12.0, nodes=8, spare_nodes=1, work="3 d",
                         repair={"distribution": "exponential", "mean": "6 h"})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _json(est: dict) -> dict:
    """An estimate as summary.json holds it (NaN as null)."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in est.items()}


def test_run_equals_the_cli_run_with_the_same_seed(tmp_path: Path) -> None:
    path = _file(tmp_path)
    ok(invoke("run", path, "-r", 4, "--seed", 7, "--no-plots", "-o", tmp_path / "cli"))
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    result = simulator.run(simulator.load(path), replications=4, seed=7, jobs=2)
    for metric in METRICS:
        assert _json(result.summary[metric]) == cli[metric], metric
    assert result.summary["cost_by_cause"] == cli["cost_by_cause"]
    assert result.warnings == cli["warnings"]
    rows = list(csv.DictReader((tmp_path / "cli" / "replications.csv").read_text().splitlines()))
    for rec, row in zip(result.replications, rows, strict=True):
        assert repr(rec.wall_clock_days) == row["wall_clock_days"]
        assert rec.interruptions == int(row["interruptions"])
    # the timeline of replication 0 is the CLI's timeline.csv
    changes = list(csv.DictReader((tmp_path / "cli" / "timeline.csv").read_text().splitlines()))
    assert [(float(r["time_s"]), r["state"]) for r in changes] == \
        [(t, s) for t, s, _ in result.timeline(0)]


def test_overrides_equal_set(tmp_path: Path) -> None:
    path = _file(tmp_path)
    api = simulator.load(path, **{"job.restart.time": "2 min", "cluster.spare_nodes": 3,
                                  "job.recovery": {"strategy": "hot_swap",
                                                   "swap_time": "30 s"},
                                  "job.restart.failures_during_restart": False})
    cli = load_scenario(path, ["job.restart.time=2 min", "cluster.spare_nodes=3",
                               "job.recovery={strategy: hot_swap, swap_time: 30 s}",
                               "job.restart.failures_during_restart=false"])
    assert api.model_dump() == cli.model_dump()
    # a mapping loads too, with the same overrides
    data = yaml.safe_load(path.read_text())
    assert simulator.load(data, **{"job.restart.time": "2 min", "cluster.spare_nodes": 3,
                                   "job.recovery": {"strategy": "hot_swap",
                                                    "swap_time": "30 s"},
                                   "job.restart.failures_during_restart": False}
                          ).model_dump() == cli.model_dump()
    with pytest.raises(ScenarioError) as err:
        simulator.load(path, **{"job.restart.tme": "2 min"})
    assert "job.restart.tme" in str(err.value.problems)


def test_to_frame_has_a_row_per_replication_and_the_csv_columns(tmp_path: Path) -> None:
    result = simulator.run(simulator.load(_file(tmp_path)), replications=3, seed=2)
    frame = result.to_frame()
    assert len(frame) == 3
    result.save(tmp_path / "saved", plots=False)
    header = (tmp_path / "saved" / "replications.csv").read_text().splitlines()[0].split(",")
    assert list(frame.columns) == header
    for col in ("wall_clock_days", "ettr", "lost_work_hours", "restart_hours"):
        assert col in frame.columns
    assert frame["wall_clock_days"].tolist() == [r.wall_clock_days for r in result.replications]


def test_save_writes_the_files_of_a_run_and_other_timelines_rerun(tmp_path: Path) -> None:
    result = simulator.run(simulator.load(_file(tmp_path)), replications=3, seed=5)
    out = result.save(tmp_path / "saved")
    for name in ("summary.json", "replications.csv", "resolved.yaml", "metadata.json",
                 "timeline.csv", "ledger.png", "causes.png", "timeline.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "summary.json").read_text())
    assert saved["ettr"] == result.summary["ettr"]
    # replication 2 re-run with its own seed: its last state is done, at its wall clock
    changes = result.timeline(2)
    assert changes[-1][1] == "done"
    assert changes[-1][0] == pytest.approx(result.replications[2].wall_clock_days * 86400.0)
    with pytest.raises(IndexError):
        result.timeline(3)
    assert result.by_cause == saved["cost_by_cause"]


def test_compare_equals_the_cli_comparison(tmp_path: Path) -> None:
    path = _file(tmp_path)
    ok(invoke("compare", path, "--variant", "slow restart: job.restart.time=30 min", "-r", 3,
              "-o", tmp_path / "cmp"))
    cli = list(csv.DictReader((tmp_path / "cmp" / "compare.csv").read_text().splitlines()))
    api = simulator.compare({"t": simulator.load(path),
                             "slow restart": simulator.load(path, **{"job.restart.time":
                                                                     "30 min"})},
                            replications=3)
    got = {(r["metric"], r["scenario"]): r for r in api.rows}
    for row in cli:
        mine = got[(row["metric"], row["scenario"])]
        assert (repr(mine["mean"]) == row["mean"]) or (row["mean"] == "" and
                                                      math.isnan(mine["mean"]))
    sweep = simulator.sweep(path, {"job.restart.time": ["5 min", "30 min"]}, replications=3)
    frame = sweep.to_frame()
    assert frame["job.restart.time_s"].tolist() == [300.0, 1800.0]
    slow = next(r for r in api.rows if r["metric"] == "wall_clock_days"
                and r["scenario"] == "slow restart")
    assert frame["wall_clock_days_mean"].iloc[1] == slow["mean"]


def _table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def test_studies_write_the_cli_files(tmp_path: Path) -> None:
    """compare, sweep and optimize from Python save what the CLI writes, digit for digit."""
    path = _file(tmp_path)
    ok(invoke("compare", path, "--variant", "slow: job.restart.time=30 min", "-r", 2,
              "--no-plots", "-o", tmp_path / "c1"))
    simulator.compare({"t": simulator.load(path),
                       "slow": simulator.load(path, **{"job.restart.time": "30 min"})},
                      replications=2).save(tmp_path / "c2", plots=False)
    for name in ("compare.csv", "resolved-slow.yaml"):
        assert (tmp_path / "c1" / name).read_text() == (tmp_path / "c2" / name).read_text()
    cli_reps, api_reps = (_table(tmp_path / d / "replications-slow.csv") for d in ("c1", "c2"))
    for row in (*cli_reps, *api_reps):
        row.pop("sim_seconds")  # the computer's time, not the model's
    assert cli_reps == api_reps

    ok(invoke("sweep", path, "--param", "job.checkpoint.interval", "--range", "5 min:40 min:3",
              "--param", "cluster.spare_nodes", "--values", "0,2", "-r", 2, "--no-plots",
              "-o", tmp_path / "s1"))
    api = simulator.sweep(path, {"job.checkpoint.interval": "5 min:40 min:3",
                                 "cluster.spare_nodes": [0, 2]}, replications=2)
    api.save(tmp_path / "s2", plots=False)
    assert _table(tmp_path / "s1" / "sweep.csv") == _table(tmp_path / "s2" / "sweep.csv")
    assert len(api.rows) == 6 and api.computed == 6
    assert sorted(p.name for p in (tmp_path / "s1" / "points").iterdir()) == \
        sorted(p.name for p in (tmp_path / "s2" / "points").iterdir())
    # a cache folder: the second call computes nothing, with the same numbers
    again = simulator.sweep(path, {"job.checkpoint.interval": "5 min:40 min:3",
                                   "cluster.spare_nodes": [0, 2]}, replications=2,
                            cache=tmp_path / "s2")
    assert again.computed == 0 and again.rows == api.rows

    ok(invoke("optimize", path, "--param", "job.checkpoint.interval", "--bounds", "5 min:2 h",
              "--objective", "ettr", "--maximize", "-r", 2, "-o", tmp_path / "o1"))
    best = simulator.optimize(path, "job.checkpoint.interval", ("5 min", "2 h"), "ettr",
                              maximize=True, replications=2)
    best.save(tmp_path / "o2")
    assert (tmp_path / "o1" / "optimize.csv").read_text() == \
        (tmp_path / "o2" / "optimize.csv").read_text()
    cli = json.loads((tmp_path / "o1" / "optimize.json").read_text())
    assert cli["answer"] == json.loads((tmp_path / "o2" / "optimize.json").read_text())["answer"]
    assert best.answer is not None and cli["answer"]["job.checkpoint.interval"] == best.answer.x


def test_study_bad_input_lists_every_problem(tmp_path: Path) -> None:
    path = _file(tmp_path)
    with pytest.raises(ScenarioError) as exc:
        simulator.optimize(path, "job.checkpoint.interval", ("2 h", "5 min"), "nonsense",
                           constraints=["power_trips =< 0"])
    text = "\n".join(exc.value.problems)
    assert "--bounds" in text and "nonsense" in text and "power_trips =< 0" in text
    with pytest.raises(ScenarioError) as exc:
        simulator.sweep(path, {"job.restart.time": ["5 min", "300 s"],
                               "cluster.spare_nodes": "0:4"}, replications=1)
    text = "\n".join(exc.value.problems)
    assert "repeated" in text and "--range" in text


def test_parquet_outputs_hold_the_csv_tables(tmp_path: Path) -> None:
    import pandas as pd

    path = _file(tmp_path)
    ok(invoke("run", path, "-r", 3, "--no-plots", "--parquet", "-o", tmp_path / "run"))
    table = pd.read_parquet(tmp_path / "run" / "replications.parquet")
    plain = pd.read_csv(tmp_path / "run" / "replications.csv")
    assert list(table.columns) == list(plain.columns) and len(table) == 3
    assert table["wall_clock_days"].tolist() == plain["wall_clock_days"].tolist()
    ok(invoke("sweep", path, "--param", "job.restart.time", "--values", "5 min,30 min", "-r", 2,
              "--no-plots", "--parquet", "-o", tmp_path / "sw"))
    sweep = pd.read_parquet(tmp_path / "sw" / "sweep.parquet")
    assert sweep["job.restart.time_s"].tolist() == [300.0, 1800.0]
    assert sweep["ettr_mean"].tolist() == pytest.approx(
        pd.read_csv(tmp_path / "sw" / "sweep.csv")["ettr_mean"].tolist(), rel=1e-15)


def test_parquet_without_its_libraries_is_bad_input(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    lines = assert_bad_input(invoke("run", _file(tmp_path), "--parquet", "-o", tmp_path / "o"))
    assert any("pip install 'dcsim[parquet]'" in x for x in lines), lines
    assert not (tmp_path / "o").exists()


def test_study_options_and_scenario_keys_do_not_collide(tmp_path: Path) -> None:
    """``--set seed=3`` (meant as run.seed) is an unknown scenario key, said as bad input
    with exit 2, not a clash with a function's own seed parameter."""
    path = _file(tmp_path)
    for args in (("sweep", path, "--param", "job.restart.time", "--values", "5 min,30 min"),
                 ("optimize", path, "--param", "job.checkpoint.interval", "--bounds",
                  "5 min:1 h", "--objective", "ettr")):
        lines = assert_bad_input(invoke(*args, "--set", "seed=3", "-r", 1,
                                        "-o", tmp_path / "x"))
        assert any("seed" in line for line in lines), lines
        assert not (tmp_path / "x").exists()


def test_sweep_takes_numpy_values_and_save_keeps_the_folders_points(tmp_path: Path) -> None:
    import numpy as np

    path = _file(tmp_path)
    first = simulator.sweep(path, {"job.checkpoint.interval": np.geomspace(300.0, 1200.0, 2)},
                            replications=1)
    assert [r["job.checkpoint.interval_s"] for r in first.rows] == [300.0, 1200.0]
    first.save(tmp_path / "s", plots=False)
    other = simulator.sweep(path, {"job.restart.time": [np.int64(60), np.float64(120.0)]},
                            replications=1)
    other.save(tmp_path / "s", plots=False)
    kept = {p.name for p in (tmp_path / "s" / "points").iterdir()}
    assert {r["key"] for r in first.rows + other.rows} == {n.removesuffix(".json") for n in kept}


def test_an_executor_that_ignores_probes_still_gives_the_timeline(tmp_path: Path) -> None:
    """Replication 0's probes ride with its task; an executor that does not know the flag
    returns a bare record, and the probes are then taken here (same numbers)."""
    from simulator.executors import InlineExecutor
    from simulator.model import simulate

    class Plain(InlineExecutor):
        def run(self, scenarios, tasks):  # type: ignore[no-untyped-def]
            s = simulator.load(scenarios[0]) if isinstance(scenarios[0], dict) else None
            return iter([(k, simulate(s, t.seed, t.replication)) for k, t in enumerate(tasks)])

    scenario = simulator.load(_file(tmp_path))
    plain = simulator.run(scenario, replications=3, seed=2, executor=Plain())
    inline = simulator.run(scenario, replications=3, seed=2)
    assert plain.timeline(0) == inline.timeline(0) and len(inline.timeline(0)) > 2
    assert [r.wall_clock_days for r in plain.replications] == \
        [r.wall_clock_days for r in inline.replications]


def test_compare_gives_scenarios_of_one_name_their_own_labels(tmp_path: Path) -> None:
    """Two variants of one file share its name: they get distinct labels (as the CLI gives
    them), so neither's files overwrite the other's."""
    path = _file(tmp_path)
    result = simulator.compare([simulator.load(path),
                                simulator.load(path, **{"job.restart.time": "30 min"})],
                               replications=1)
    assert result.labels == ["t", "t-2"]
    result.save(tmp_path / "c", plots=False)
    assert (tmp_path / "c" / "replications-t.csv").exists()
    assert (tmp_path / "c" / "replications-t-2.csv").exists()
