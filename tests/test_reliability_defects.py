"""Defects of the classic restart model, each pinned by a hand-computed or closed-form case:
traced failures during immune restarts, the planned-stop rate, the analytic interruption
count with immune restarts, the stationary start of repairs, failures while waiting."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import DAY, HOUR, make_scenario, run, scenario_dict, values

from simulator.analytic import analytic_for
from simulator.config import Scenario
from simulator.loader import load_scenario
from simulator.model import simulate
from simulator.runner import seeds_for


def _traced(tmp_path: Path, rows: str, **restart: object) -> Path:
    (tmp_path / "events.csv").write_text(rows)
    data = {
        "name": "traced",
        "cluster": {"gpus": 16, "gpus_per_node": 8, "spare_nodes": 0, "repair_time": "1 h"},
        "failures": {"causes": [{"name": "node_fault", "per": "node", "mtbf": "1 yr"}],
                     "trace": "events.csv"},
        "job": {"work": "10 h", "checkpoint": {"interval": "1 h", "write_time": 0},
                "restart": {"time": "10 min", **restart}},
        "run": {"horizon": "30 d"},
    }
    path = tmp_path / "traced.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_traced_failure_during_an_immune_restart_still_takes_its_node_down(
        tmp_path: Path) -> None:
    """Node 0 fails at 1.5 h: the job waits 1 h for it, restarts 2.5-2.667 h. Node 1 fails at
    2.55 h, inside the immune restart: the restart finishes, but node 1 is down until 3.55 h
    and there is no spare, so the job waits for it and restarts again (3.55-3.717 h). The
    sampled-failure argument (drop the event: memorylessness) does not hold for a trace."""
    path = _traced(tmp_path, "5400,node_fault,0\n9180,node_fault,1\n",
                   failures_during_restart=False)
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.hardware_failures == 2
    assert rec.interruptions_by_cause == {"node_fault": 2}
    assert rec.waiting_hours == pytest.approx(1.0 + (3.55 - 2.5 - 1 / 6), abs=1e-9)
    assert rec.restart_hours == pytest.approx(2 / 6, abs=1e-9)
    assert rec.lost_work_hours == pytest.approx(0.5, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(3.55 + 1 / 6 + 9.0, abs=1e-9)


def test_a_traced_failure_during_an_immune_restart_is_absorbed_by_a_spare(
        tmp_path: Path) -> None:
    """With spares, node 1's failure inside the immune restart swaps a spare in during the
    restart: no second restart, no wait, but the failure is counted as hardware."""
    path = _traced(tmp_path, "5400,node_fault,0\n5700,node_fault,1\n",
                   failures_during_restart=False)
    data = yaml.safe_load(path.read_text())
    data["cluster"]["spare_nodes"] = 2  # one for each failure
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.hardware_failures == 2
    assert rec.interruptions == 1
    assert rec.waiting_hours == 0.0
    assert rec.wall_clock_days * 24 == pytest.approx(10.0 + 0.5 + 1 / 6, abs=1e-9)


def test_planned_stops_happen_at_the_configured_rate() -> None:
    """6 planned stops a day, hourly checkpoints, 10 min restarts, no failures: requests
    arrive as a Poisson process in wall-clock time and each is served at the next checkpoint,
    so the long-run count is 6 per wall-clock day. Drawing the next request from when the
    previous stop was taken made it 14% lower (the wait for a boundary and the restart)."""
    scenario = make_scenario(mtbf_h=None, interval_min=60.0, write_min=1.0, restart_min=10.0,
                             work="150 d", **{"job.planned_interruptions_per_day": 6.0})
    recs = run(scenario, 4)
    stops = values(recs, "planned_interruptions").sum()
    expected = 6.0 * values(recs, "wall_clock_days").sum()
    assert stops == pytest.approx(expected, rel=0.05)  # Poisson sd ≈ 1.4%


def test_analytic_interruptions_pause_during_immune_restarts() -> None:
    """With immune restarts the failure clock stops for R after each interruption, so over a
    wall clock T the expected count is ΛT / (1 + ΛR): here M = R = 1 h halves it."""
    scenario = make_scenario(mtbf_h=1.0, restart_min=60.0, interval_min=10.0, write_min=0.5,
                             work="4 d", failures_during_restart=False)
    a = analytic_for(scenario)
    wall_s = a.daly_wall_clock_days * DAY
    assert a.expected_interruptions == pytest.approx(wall_s / HOUR / 2.0, rel=1e-12)
    recs = run(scenario, 6)
    sim = values(recs, "interruptions").mean()
    assert sim == pytest.approx(a.expected_interruptions, rel=0.06)


def test_failures_while_waiting_can_count_as_interruptions(tmp_path: Path) -> None:
    """Node 0 fails at 1.5 h (the job waits 1 h for it); node 1, which the job still holds,
    fails at 2 h, during the wait. By default that only lengthens the wait; with
    ``failures_while_waiting: interrupt`` it is also an interruption of its cause."""
    rows = "5400,node_fault,0\n7200,node_fault,1\n"
    extend = simulate(load_scenario(_traced(tmp_path, rows)), np.random.SeedSequence(0))
    path = _traced(tmp_path, rows, failures_while_waiting="interrupt")
    counted = simulate(load_scenario(path), np.random.SeedSequence(0))
    for rec in (extend, counted):
        assert rec.waiting_hours == pytest.approx(1.5, abs=1e-9)  # until node 1 is back at 3 h
        assert rec.hardware_failures == 2
        assert rec.wall_clock_days * 24 == pytest.approx(3.0 + 1 / 6 + 9.0, abs=1e-9)
    assert extend.interruptions == 1
    assert counted.interruptions == 2
    assert counted.interruptions_by_cause == {"node_fault": 2}
    assert counted.lost_work_hours == extend.lost_work_hours == pytest.approx(0.5)


class _NoJob:
    """The failure driver's view of a job that never runs (the fleet alone is under test)."""

    state = "idle"
    params = type("P", (), {"failures_during_restart": True})()

    def interruptible(self) -> bool:
        return False


def _shortage_share(repair_start: str, seed: int, days: float) -> tuple[float, int]:
    """Share of [0, days] during which the job lacks a node, and the nodes down at t = 0:
    64 job nodes and 4 spares, per-node MTBF 86.6 d, StepFun-like lognormal repairs
    (median 0.85 d, mean 5.5 d)."""
    import simpy

    from simulator.failures import FailureSource, resolve_causes
    from simulator.fleet import Fleet
    from simulator.layout import layout
    from simulator.model import FailureDriver, component_rngs
    from simulator.runner import seeds_for

    scenario = make_scenario(mtbf_h=86.6 * 24 / 64, nodes=64, spare_nodes=4,
                             repair={"distribution": "lognormal", "median": "0.85 d",
                                     "mean": "5.5 d"},
                             **{"failures.repair_start": repair_start})
    rngs = component_rngs(seeds_for(seed, 1)[0])
    env = simpy.Environment()
    causes = resolve_causes(scenario)
    source = FailureSource(scenario, causes, rngs["failures"])
    fleet = Fleet(env, layout(scenario), causes, source, rngs["repairs"])
    if repair_start == "stationary":
        fleet.start_in_repair(rngs["repair_start"])
    down0 = fleet.nodes_down
    short = {"since": 0.0 if fleet.missing else None, "total": 0.0}

    def changed() -> None:
        if fleet.missing and short["since"] is None:
            short["since"] = env.now
        elif not fleet.missing and short["since"] is not None:
            short["total"] += env.now - short["since"]
            short["since"] = None

    fleet.on_change = changed
    FailureDriver(env, source, fleet, _NoJob())  # type: ignore[arg-type]
    end = days * DAY
    env.run(until=end)
    if short["since"] is not None:
        short["total"] += end - short["since"]
    return short["total"] / end, down0


def test_a_stationary_repair_start_matches_the_long_run_shortage_from_the_first_day() -> None:
    """Started with repairs under way, the fleet is in its long-run state from t = 0: nodes
    down at the start average (N + s)·p, p = rE[R]/(1 + rE[R]), and the share of a 10-day
    window with the job short of a node matches the binomial P[Binomial(N + s, p) > s].
    Started all healthy, the same window is far more optimistic (repairs average 5.5 d)."""
    from simulator.analytic import spare_shortage_probability

    rate = 1.0 / (86.6 * DAY)
    mean_repair = 5.5 * DAY
    x = rate * mean_repair
    p_long = spare_shortage_probability(64, 4, rate, mean_repair)
    trials = 400
    stationary = [_shortage_share("stationary", s, 10.0) for s in range(trials)]
    healthy = [_shortage_share("healthy", s, 10.0) for s in range(trials)]
    downs = np.array([d for _, d in stationary], dtype=float)
    assert downs.mean() == pytest.approx(68 * x / (1 + x), rel=0.08)
    assert all(d == 0 for _, d in healthy)
    share = np.array([v for v, _ in stationary])
    se = share.std(ddof=1) / np.sqrt(trials)
    assert abs(share.mean() - p_long) < max(3 * se, 0.02)
    assert np.mean([v for v, _ in healthy]) < 0.6 * p_long


def test_the_run_says_which_start_it_used(tmp_path: Path) -> None:
    import json

    from helpers import invoke, ok, scenario_dict

    data = scenario_dict(mtbf_h=50.0, nodes=8, spare_nodes=1, work="2 d",
                         repair={"distribution": "lognormal", "median": "1 d", "mean": "3 d"})
    data["failures"]["repair_start"] = "stationary"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    res = ok(invoke("run", path, "-r", 2, "--no-plots", "-o", tmp_path / "o"))
    assert "start: repairs stationary (repairs under way" in res.stdout
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["initial_state"]["repairs"].startswith("stationary")
    assert "weibull_ages" not in summary["initial_state"]


def test_a_trip_during_the_launch_wait_leaves_later_waits_as_restarts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that waits for repairs at its launch and is darkened by a power trip meanwhile
    still launches as a first launch (nothing ran, nothing to restart) whether the repairs end
    during the outage or after it; once it has launched, every wait for hardware ends in a
    restart. (The launch flag used to survive an outage that ended with the nodes ready: the
    job was charged a restart for a launch, and its first later wait went straight back to
    compute, with no restart.)"""
    import dataclasses

    import simulator.model as model
    from simulator.job import POWER_TRIP, WAITING, Job
    from simulator.model import Timeline

    class TripAtLaunch(Job):
        def __init__(self, env: Any, params: Any, *args: Any, **kw: Any) -> None:
            super().__init__(env, dataclasses.replace(params, outage_s=30 * HOUR), *args, **kw)

            def trip() -> Any:
                yield env.timeout(60.0)
                if self.state == WAITING:  # still waiting for the repairs at the start
                    self.interrupt(POWER_TRIP)

            env.process(trip())

    monkeypatch.setattr(model, "Job", TripAtLaunch)
    # about half the replications start short of a node (2 h repairs, 48 h node MTBF)
    data = scenario_dict(mtbf_h=3.0, nodes=16, work="10 d",
                         repair={"distribution": "exponential", "mean": "2 h"})
    data["failures"]["repair_start"] = "stationary"
    scenario = Scenario.model_validate(data)
    ready_after_outage = later_waits = 0
    for k, seed in enumerate(seeds_for(3, 16)):
        probe = Timeline()
        model.simulate(scenario, seed, k, probe)
        states = [s for _, s, _ in probe.changes]
        if states[1:3] != ["waiting", "outage"]:
            continue
        ready_after_outage += states[3] != "waiting"
        launch = next(i for i, st in enumerate(states) if i > 0
                      and st not in ("waiting", "outage"))
        assert states[launch] == "compute", states[:launch + 1]
        for a, b in itertools.pairwise(states[launch:]):
            if a == "waiting":
                assert b == "restart", states
                later_waits += 1
    assert ready_after_outage >= 2 and later_waits >= 5
