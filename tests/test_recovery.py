"""Recovery strategies (job.recovery), detection times and restart times that grow with the
job: hand-computed timelines and closed forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import (
    HOUR,
    MINUTE,
    assert_bad_input,
    invoke,
    ledger_hours,
    make_scenario,
    ok,
    run,
    scenario_dict,
    values,
)

from simulator.analytic import analytic_for, daly_ettr
from simulator.loader import load_scenario
from simulator.model import simulate


def _traced(tmp_path: Path, rows: str, nodes: int = 4, spares: int = 0, repair: str = "1000 d",
            work: str = "10 h", **job: object) -> Path:
    (tmp_path / "events.csv").write_text(rows)
    data = {
        "name": "traced",
        "cluster": {"gpus": 8 * nodes, "gpus_per_node": 8, "spare_nodes": spares,
                    "repair_time": repair},
        "failures": {"causes": [{"name": "node_fault", "per": "node", "mtbf": "1 yr"}],
                     "trace": "events.csv"},
        "job": {"work": work, "checkpoint": {"interval": "1 h", "write_time": 0},
                "restart": {"time": "30 min"}, **job},
        "run": {"horizon": "30 d"},
    }
    path = tmp_path / "traced.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


ELASTIC = {"strategy": "elastic", "replicas": 4, "reconfigure_time": "5 min"}


def test_elastic_without_repair_follows_the_integral_of_its_progress_rate(tmp_path: Path) -> None:
    """4 replicas of one node, no spares, no repair. Replica losses at 2 h and 4 h 05 min:
    rate 1 for 2 h (2 h of work), a 5 min stall, rate 3/4 for 2 h (1.5 h), a stall, then
    rate 1/2 for the 6.5 h left: 13 h. Wall clock 17 h 10 min, nothing rolled back."""
    path = _traced(tmp_path, "2 h,node_fault,0\n245 min,node_fault,1\n", recovery=ELASTIC)
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.wall_clock_days * 24 == pytest.approx(17 + 10 / 60, abs=1e-9)
    assert rec.lost_work_hours == 0.0
    assert rec.restart_hours == pytest.approx(10 / 60, abs=1e-9)
    assert rec.degraded_hours == pytest.approx(2 * 0.25 + 13 * 0.5, abs=1e-9)
    assert rec.productive_hours == pytest.approx(10.0, abs=1e-9)
    assert rec.interruptions == 2
    assert ledger_hours(rec) == pytest.approx(rec.wall_clock_days * 24, rel=1e-12)


def test_an_elastic_replica_rejoins_when_its_node_is_repaired(tmp_path: Path) -> None:
    """Repairs take 3 h: the replica lost at 2 h is back at 5 h. Work: 2 h, stall to 2 h 05,
    rate 3/4 until 5 h (2.1875 h), then full rate for the 5.8125 h left: 10.8125 h."""
    path = _traced(tmp_path, "2 h,node_fault,0\n", repair="3 h", recovery=ELASTIC)
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.wall_clock_days * 24 == pytest.approx(5 + 5.8125, abs=1e-9)
    assert rec.degraded_hours == pytest.approx((5 - 2 - 5 / 60) * 0.25, abs=1e-9)
    assert rec.waiting_hours == 0.0


def test_below_min_replicas_an_elastic_job_rolls_back_and_waits(tmp_path: Path) -> None:
    """min_replicas 3, repairs 3 h, hourly checkpoints. Loss at 2.5 h: 3 replicas left, a
    5 min stall, no roll-back; the checkpoint after 0.5 h more compute (3 h 05) saves 2.875 h.
    Loss at 4 h: 2 replicas left, below the minimum, so the job stops as a restart job does:
    it loses the 0.6875 h since that checkpoint, waits for both nodes (back at 7 h), restarts
    (30 min) and computes the 7.125 h left: 14.625 h."""
    rows = "150 min,node_fault,0\n240 min,node_fault,1\n"
    path = _traced(tmp_path, rows, repair="3 h", recovery={**ELASTIC, "min_replicas": 3})
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.lost_work_hours == pytest.approx(0.6875, abs=1e-9)
    assert rec.waiting_hours == pytest.approx(3.0, abs=1e-9)
    assert rec.restart_hours == pytest.approx(5 / 60 + 0.5, abs=1e-9)
    assert rec.degraded_hours == pytest.approx((4 - 2.5 - 5 / 60) * 0.25, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(14.625, abs=1e-9)
    assert rec.interruptions == 2
    assert ledger_hours(rec) == pytest.approx(rec.wall_clock_days * 24, rel=1e-12)


@pytest.mark.parametrize(("second", "hours", "stops"), [
    (1, 2 + 5 / 60 + 8 / 0.75, 1),  # node 1 sits in replica 0, already out: nothing changes
    (2, 2 + 10 / 60 + 8 / 0.5, 2),  # node 2 breaks replica 1: drop it too (5 min), rate 1/2
])
def test_a_node_lost_during_an_elastic_reconfiguration_stops_the_job_only_if_it_breaks_a_replica(
        tmp_path: Path, second: int, hours: float, stops: int) -> None:
    """8 nodes in 4 replicas of 2, no spares, no repair, immune restarts. Node 0 fails at 2 h:
    replica 0 is dropped in a 5 min reconfiguration. A traced failure at 2 h 02 min falls
    inside it. Judging by the job's missing nodes, which an elastic job already short of
    replica 0 always has, re-planned the job a second time for a node of the replica it
    had already dropped."""
    path = _traced(tmp_path, f"2 h,node_fault,0\n122 min,node_fault,{second}\n", nodes=8,
                   recovery=ELASTIC, restart={"time": "30 min", "failures_during_restart": False})
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.hardware_failures == 2
    assert rec.interruptions == stops
    assert rec.restart_hours == pytest.approx(stops * 5 / 60, abs=1e-9)
    assert rec.lost_work_hours == 0.0
    assert rec.wall_clock_days * 24 == pytest.approx(hours, abs=1e-9)
    assert ledger_hours(rec) == pytest.approx(rec.wall_clock_days * 24, rel=1e-12)


def test_a_replica_broken_and_mended_within_an_elastic_reconfiguration_costs_no_second_one(
        tmp_path: Path) -> None:
    """8 nodes in 4 replicas of 2, no spares, immune restarts. Node 0 fails for good at 2 h:
    replica 0 is dropped (5 min). Node 2 fails at 3 h with a 3 min repair: replica 1 is
    dropped, reconfiguring until 3 h 05. Inside that, node 4 fails for good at 3 h 01 and
    breaks replica 2; node 2, back at 3 h 03, fills the vacancy, so at 3 h 05 the job has the
    two replicas it reconfigured with. Work: 2 h, then 55 min at rate 3/4, then the 7.3125 h
    left at rate 1/2: 17 h 42.5 min, two reconfigurations. Judging by the job's missing
    nodes (replicas 0 and 1 are still out), a third one was counted."""
    (tmp_path / "events.csv").write_text(
        "2 h,node_fault,0\n180 min,quick_fault,2\n181 min,node_fault,4\n")
    data = {
        "name": "mended",
        "cluster": {"gpus": 64, "gpus_per_node": 8, "spare_nodes": 0, "repair_time": "1000 d"},
        "failures": {"causes": [{"name": "node_fault", "per": "node", "mtbf": "1 yr"},
                                {"name": "quick_fault", "per": "node", "mtbf": "1 yr",
                                 "repair_time": "3 min"}],
                     "trace": "events.csv"},
        "job": {"work": "10 h", "checkpoint": {"interval": "1 h", "write_time": 0},
                "restart": {"time": "30 min", "failures_during_restart": False},
                "recovery": ELASTIC},
        "run": {"horizon": "30 d"},
    }
    path = tmp_path / "mended.yaml"
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.hardware_failures == 3
    assert rec.interruptions == 2
    assert rec.restart_hours == pytest.approx(10 / 60, abs=1e-9)
    assert rec.lost_work_hours == 0.0
    assert rec.wall_clock_days * 24 == pytest.approx(3 + 5 / 60 + 7.3125 / 0.5, abs=1e-9)
    assert ledger_hours(rec) == pytest.approx(rec.wall_clock_days * 24, rel=1e-12)


def test_hot_swap_matches_the_renewal_form_with_the_swap_time() -> None:
    """Every failure takes its node out and a spare is always free: each recovery is a swap,
    so ETTR is Daly's with R = swap time (2 min), not the 30 min full restart."""
    scenario = make_scenario(mtbf_h=6.0, nodes=8, spare_nodes=4, interval_min=30.0,
                             write_min=1.0, restart_min=30.0, work="30 d", repair="1 h",
                             **{"job.recovery": {"strategy": "hot_swap", "swap_time": "2 min"}})
    recs = run(scenario, 4)
    swap = daly_ettr(30 * MINUTE, MINUTE, 2 * MINUTE, 6 * HOUR)
    full = daly_ettr(30 * MINUTE, MINUTE, 30 * MINUTE, 6 * HOUR)
    assert values(recs, "ettr").mean() == pytest.approx(swap, rel=0.01)
    assert abs(swap - full) > 0.05
    assert analytic_for(scenario).daly_ettr == pytest.approx(swap, rel=1e-12)
    assert values(recs, "waiting_hours").max() == 0.0


def test_hot_swap_restarts_fully_without_a_spare(tmp_path: Path) -> None:
    """No spare: the job waits 1 h for the repair, then restarts fully (30 min)."""
    path = _traced(tmp_path, "90 min,node_fault,0\n", repair="1 h",
                   recovery={"strategy": "hot_swap", "swap_time": "2 min"})
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.restart_hours == pytest.approx(0.5, abs=1e-9)
    assert rec.waiting_hours == pytest.approx(1.0, abs=1e-9)
    spare = _traced(tmp_path, "90 min,node_fault,0\n", spares=1, repair="1 h",
                    recovery={"strategy": "hot_swap", "swap_time": "2 min"})
    rec = simulate(load_scenario(spare), np.random.SeedSequence(0))
    assert rec.restart_hours == pytest.approx(2 / 60, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(10 + 0.5 + 2 / 60, abs=1e-9)


def test_detection_stalls_the_job_before_it_recovers(tmp_path: Path) -> None:
    """A hang noticed after a 10 min watchdog: the failure at 1.5 h costs 0.5 h of work, 10 min
    of detection and the 30 min restart; detection is booked to its cause."""
    path = _traced(tmp_path, "90 min,node_fault,0\n", repair="0 s")
    data = yaml.safe_load(path.read_text())
    data["failures"]["causes"][0]["detect_time"] = "10 min"
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.detect_hours == pytest.approx(10 / 60, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(10 + 0.5 + 10 / 60 + 0.5, abs=1e-9)
    assert rec.restart_hours_by_cause["node_fault"] == pytest.approx(10 / 60 + 0.5, abs=1e-9)
    assert ledger_hours(rec) == pytest.approx(rec.wall_clock_days * 24, rel=1e-12)


def test_restart_time_grows_with_the_job() -> None:
    law = make_scenario(nodes=1024, **{"job.restart": {"time": "2 min",
                                                       "per_doubling": "30 s"}})
    assert law.restart_s == pytest.approx(120 + 30 * 10)
    table = make_scenario(nodes=4096, **{"job.restart": {"table": {1024: "4 min",
                                                                   16384: "8 min"}}})
    assert table.restart_s == pytest.approx(240 + 240 * (12 - 10) / (14 - 10))
    small = make_scenario(nodes=8, **{"job.restart": {"table": {1024: "4 min", 16384: "8 min"}}})
    assert small.restart_s == 240.0
    # the model and the closed forms use it
    assert analytic_for(law).daly_ettr == pytest.approx(
        daly_ettr(600.0, 60.0, 420.0, 24 * HOUR), rel=1e-12)


@pytest.mark.parametrize(("recovery", "message"), [
    ({"strategy": "hot_swap"}, "hot_swap needs swap_time"),
    ({"strategy": "elastic"}, "elastic needs replicas"),
    ({"strategy": "elastic", "replicas": 3}, "must divide the job's 4 nodes"),
    ({"strategy": "elastic", "replicas": 4, "min_replicas": 5}, "min_replicas (5) exceeds"),
    ("teleport", "job.recovery.strategy"),
])
def test_bad_recovery_blocks_are_named(tmp_path: Path, recovery: object, message: str) -> None:
    path = _traced(tmp_path, "90 min,node_fault,0\n", recovery=recovery)
    lines = assert_bad_input(invoke("validate", path))
    assert any(message in line for line in lines), lines


def _age(rate: float, tau: float) -> float:
    """E[T mod τ] for T ~ Exp(rate): the age of a copy written every τ at a failure."""
    return 1.0 / rate - tau / np.expm1(rate * tau)


def _two_tiers(causes: list[dict], work: str, persistent_min: float = 120.0) -> Any:
    return make_scenario(
        mtbf_h=None, nodes=8, interval_min=persistent_min, write_min=0.0, restart_min=0.0,
        work=work, **{"failures.causes": causes,
                      "job.checkpoint.tiers": [{"name": "memory", "interval": "10 min",
                                                "location": "peer"}]})


NODE = {"name": "node_fault", "per": "node", "mtbf": "8 h", "repair_time": 0}  # λ = 1/h
RACK = {"name": "rack_fault", "per": "rack", "mtbf": "2 h", "repair_time": 0}  # λ = 1/h


@pytest.mark.parametrize(("cause", "tau_s"), [(NODE, 600.0), (RACK, 7200.0)])
def test_each_failure_rolls_back_to_the_freshest_copy_that_survives_it(
        cause: dict, tau_s: float) -> None:
    """Peer-replicated memory copies every 10 min, persistent ones every 2 h; no write stall,
    no restart time. A node fault leaves the peer copy, a rack fault takes it. Rolling back
    lands on a multiple of that tier's interval and compute since the restart is Exp(λ), so
    the mean loss per failure is exactly E[T mod τ] = 1/λ − τ/(e^{λτ} − 1) of that tier."""
    recs = run(_two_tiers([cause], "40 d"), 3)
    per_failure = values(recs, "lost_work_hours").sum() / values(recs, "interruptions").sum()
    assert per_failure == pytest.approx(_age(1 / HOUR, tau_s) / HOUR, rel=0.04)
    name = "memory" if cause is NODE else "persistent"
    for r in recs:
        assert r.lost_hours_by_tier[name] == pytest.approx(r.lost_work_hours, rel=1e-9)


def test_mixed_failures_lose_the_rate_weighted_age_of_each_tier() -> None:
    """Node faults (λ = 1/h) and rare rack faults (λ = 1/20 h), memory copies every 10 min,
    persistent every hour: a rack fault finds progress at a near-uniform phase of the hourly
    schedule (node faults do not reset it), so the mean loss per failure is
    q·E[T mod 10 min] + (1 − q)·(1 h)/2, q the node faults' share."""
    rack = {**RACK, "mtbf": "40 h"}
    recs = run(_two_tiers([NODE, rack], "60 d", persistent_min=60.0), 4)
    q = 1.0 / (1.0 + 0.05)
    expected_h = (q * _age(1 / HOUR, 600.0) + (1 - q) * 1800.0) / HOUR
    per_failure = values(recs, "lost_work_hours").sum() / values(recs, "interruptions").sum()
    assert per_failure == pytest.approx(expected_h, rel=0.08)
    for r in recs:
        assert sum(r.lost_hours_by_tier.values()) == pytest.approx(r.lost_work_hours, rel=1e-9)
        assert r.lost_hours_by_tier["persistent"] > 0 and r.lost_hours_by_tier["memory"] > 0


def test_which_copy_survives_which_failure() -> None:
    from simulator.checkpoints import Checkpoints, Tier

    tiers = [Tier("persistent", 3600.0, 0.0), Tier("peer", 600.0, 0.0, location="peer"),
             Tier("local", 300.0, 0.0, location="local")]
    for kind, took, trip, expect in [("node", True, False, "peer"), ("node", False, False, "local"),
                                     ("rack", True, False, "persistent"),
                                     ("node", False, True, "persistent")]:
        c = Checkpoints(tiers)
        c.saved = [100.0, 200.0, 300.0]
        saved, k = c.recover(350.0, 0.0, trip, took, kind)
        assert tiers[k].name == expect and saved == c.saved[k] == {
            "persistent": 100.0, "peer": 200.0, "local": 300.0}[expect]
        assert c.lost_s[k] == 350.0 - saved


def test_a_planned_stop_persists_only_what_was_written() -> None:
    """A planned stop at a boundary where only the peer tier was due lets the copies written
    there (and those still persisting) become recoverable; the storage copy stays where it
    was last written. A rack failure after the stop rolls back to that storage copy, not to
    the stop (which used to count as a storage write that never happened, at no cost)."""
    from simulator.checkpoints import Checkpoints, Tier

    tiers = [Tier("persistent", 3600.0, 60.0), Tier("peer", 600.0, 2.0, location="peer",
                                                       persist_s=5.0)]
    c = Checkpoints(tiers)
    for progress in (600.0, 1200.0, 1800.0, 2400.0, 3000.0, 3600.0, 4200.0):
        c.start_write(progress, False)
        c.written(progress, progress + 10.0)
    assert c.writing == [] and c.pending[1][-1] == (4200.0, 4215.0)
    c.save_all(4200.0)  # the planned stop at the 4,200 s boundary
    assert c.saved == [3600.0, 4200.0] and c.pending == [[], []]
    saved, k = c.recover(4500.0, 5000.0, False, True, "rack")
    assert (tiers[k].name, saved) == ("persistent", 3600.0)


def test_a_rack_lost_during_an_immune_restart_rolls_back_as_a_rack_failure(
        tmp_path: Path) -> None:
    """A node fault at 90 min rolls back to the peer copy of 80 min (tiers: storage hourly,
    peer every 10 min), and the one spare takes the node's place. During the 30-min restart,
    immune to failures, a rack fault takes three more of the job's nodes out; no spare is
    left, so the job waits and restarts again. That second
    roll-back is a rack failure's: the peer copy died with the rack and the job goes back to
    the storage copy of 60 min, losing 20 min more (it used to be taken with the previous
    failure's kind, a node, and lost nothing)."""
    path = _traced(tmp_path, "90 min,node_fault,0\n100 min,rack_fault,0\n", nodes=8,
                   spares=1, repair="2 h", restart={"time": "30 min", "failures_during_restart": False},
                   checkpoint={"interval": "1 h", "write_time": 0,
                               "tiers": [{"name": "memory", "interval": "10 min",
                                          "write_time": 0, "location": "peer"}]})
    data = yaml.safe_load(path.read_text())
    data["failures"]["causes"].append({"name": "rack_fault", "per": "rack", "mtbf": "1 yr"})
    data["cluster"]["nodes_per_rack"] = 4
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(1), 0)
    assert rec.lost_hours_by_tier["memory"] == pytest.approx(10 / 60, abs=1e-9)
    assert rec.lost_hours_by_tier["persistent"] == pytest.approx(20 / 60, abs=1e-9)
    assert rec.lost_work_hours == pytest.approx(30 / 60, abs=1e-9)


def test_write_times_come_from_size_and_bandwidth(tmp_path: Path) -> None:
    s = make_scenario(**{"job.checkpoint": {"interval": "1 h", "size": "1.6 TB",
                                            "bandwidth": "400 GB/s",
                                            "tiers": [{"name": "mem", "interval": "5 min",
                                                       "size": "1.6 TB",
                                                       "bandwidth": "3.2 TB/s"}]}})
    assert s.job.checkpoint.write_s == pytest.approx(4.0)
    assert s.job.checkpoint.tiers[0].write_s == pytest.approx(0.5)
    path = _traced(tmp_path, "90 min,node_fault,0\n")
    data = yaml.safe_load(path.read_text())
    data["job"]["checkpoint"] = {"interval": "1 h", "write_time": "1 min", "size": "1 TB",
                                 "bandwidth": "1 GB/s",
                                 "tiers": [{"name": "persistent", "interval": "5 min"}]}
    path.write_text(yaml.safe_dump(data))
    lines = assert_bad_input(invoke("validate", path))
    assert any("give write_time or size and bandwidth, not both" in x for x in lines), lines


def test_rare_stragglers_cost_rate_times_duration_times_their_slowness() -> None:
    """Fail-slow episodes on 512 nodes at 2 per node-year, 6 min each, steps 1.5× as long; no
    failures, no write stall. Each episode costs D(1 − 1/f) of progress, so over a wall clock
    T of compute slow_hours ≈ rU·T·E[D]·(1 − 1/f) (rare episodes seldom overlap: rUE[D] ≈
    0.012), and the wall clock is the work plus that. About 2,200 episodes: the Poisson
    count's relative s.d. is 2.1%."""
    scenario = make_scenario(
        mtbf_h=None, nodes=512, interval_min=60.0, write_min=0.0, work="200 d",
        **{"failures.slowdowns": [{"name": "thermal", "per": "node", "rate_per_year": 2.0,
                                   "duration": "6 min", "factor": 1.5}]})
    recs = run(scenario, 4)
    wall_h = values(recs, "wall_clock_days") * 24
    rate_per_h = 512 * 2.0 / (365 * 24)
    expected = rate_per_h * wall_h * 0.1 * (1 - 1 / 1.5)
    slow = values(recs, "slow_hours")
    assert slow.sum() == pytest.approx(expected.sum(), rel=0.07)
    assert wall_h == pytest.approx(200 * 24 + slow, rel=1e-9)
    assert values(recs, "interruptions").max() == 0


def test_a_straggler_evicted_after_detection_becomes_a_failure() -> None:
    """Episodes of 3 h at 2× are evicted after 20 min: each costs 20 min × (1 − 1/2) of
    progress, then a failure of its node (a spare takes its place) and a restart."""
    scenario = make_scenario(
        mtbf_h=None, nodes=64, spare_nodes=8, interval_min=60.0, write_min=0.0,
        restart_min=10.0, work="100 d", repair="2 h",
        **{"failures.slowdowns": [{"name": "slow_nic", "per": "gpu", "rate_per_year": 0.5,
                                   "duration": "3 h", "factor": 2.0,
                                   "evict_after": "20 min"}]})
    recs = run(scenario, 3)
    for r in recs:
        assert r.straggler_evictions == r.slow_episodes > 0
        assert r.interruptions_by_cause == {"slow_nic": r.straggler_evictions}
        assert r.hardware_failures == r.straggler_evictions
        # rare episodes: each slowed the job for its 20 min before eviction (if computing)
        assert r.slow_hours <= r.slow_episodes * (20 / 60) * 0.5 + 1e-9
        assert r.slow_hours >= 0.7 * r.slow_episodes * (20 / 60) * 0.5
        assert ledger_hours(r) == pytest.approx(r.wall_clock_days * 24, rel=1e-12)


def _fleet_only(scenario: Any, seed: int, days: float) -> Any:
    """Run the failure side alone (no job interrupts) for ``days``: the fleet and its driver."""
    import simpy

    from simulator.badnodes import BadNodes
    from simulator.driver import FailureDriver
    from simulator.failures import FailureSource, resolve_causes
    from simulator.fleet import Fleet
    from simulator.layout import layout
    from simulator.model import component_rngs
    from simulator.runner import seeds_for

    class NoJob:
        state = "idle"
        params = type("P", (), {"failures_during_restart": True})()

        def interruptible(self) -> bool:
            return False

    rngs = component_rngs(seeds_for(seed, 1)[0])
    env = simpy.Environment()
    causes = resolve_causes(scenario)
    source = FailureSource(scenario, causes, rngs["failures"])
    fleet = Fleet(env, layout(scenario), causes, source, rngs["repairs"])
    driver = FailureDriver(env, source, fleet, NoJob())  # type: ignore[arg-type]
    f = scenario.failures
    bad = None
    if f.bad_nodes is not None:
        bad = BadNodes(env, fleet.causes, fleet.n_nodes, f.bad_nodes.multiplier,
                       rngs["bad_nodes"], lambda c, u: driver.apply(c, u, True))
        bad.start_bad(f.bad_nodes.fraction, fleet.group_of)
    fleet.imperfect(bad, f.repair_success, f.retire_after, rngs["bad_nodes"])
    env.run(until=days * 86400.0)
    return fleet


def test_bad_nodes_fail_at_the_mixture_rate() -> None:
    """1,000 nodes, 10% bad at 5×, GPU and node causes (repairs of 0 s: nothing is ever out):
    failures per day = Σ λ·u·N·(1 − f + f·m) = 1.4 × the fleet's base rate."""
    scenario = make_scenario(
        mtbf_h=None, nodes=1000,
        **{"failures.causes": [{"name": "gpu_fault", "per": "gpu", "mtbf": "1000 d",
                                "repair_time": 0},
                               {"name": "node_fault", "per": "node", "mtbf": "500 d",
                                "repair_time": 0}],
           "failures.bad_nodes": {"fraction": 0.1, "multiplier": 5}})
    days = 200.0
    base_per_day = 1000 * (8 / 1000 + 1 / 500)
    counts = [_fleet_only(scenario, s, days).failures for s in range(3)]
    expected = base_per_day * days * (1 - 0.1 + 0.1 * 5)
    assert np.mean(counts) == pytest.approx(expected, rel=0.03)  # Poisson s.d. ≈ 0.9%


def test_failed_repairs_make_nodes_bad_and_retirement_stops_repairs() -> None:
    """Repairs fix their node with probability 0.5, the rest return it bad (3×); a node is
    retired at its 3rd failure. Bad nodes accumulate; retired nodes stay down."""
    scenario = make_scenario(
        mtbf_h=None, nodes=200, spare_nodes=10,
        **{"failures.causes": [{"name": "node_fault", "per": "node", "mtbf": "50 d",
                                "repair_time": "1 d"}],
           "failures.bad_nodes": {"fraction": 0.0, "multiplier": 3},
           "failures.repair_success": 0.5, "failures.retire_after": 3})
    fleet = _fleet_only(scenario, 1, 300.0)
    assert fleet.bad is not None and len(fleet.bad.bad) > 20
    assert len(fleet.retired) > 5
    for n in fleet.retired:
        assert fleet.down[n] > 0 and fleet._failed_times[n] >= 3
    # through the model, a replication reports them (10 days: about 40 failures, half of
    # their repairs failing)
    rec = simulate(scenario, np.random.SeedSequence(1))
    assert rec.bad_nodes > 5 and rec.hardware_failures > 20


def test_a_domain_fault_keeps_n_nodes_down_for_its_repair() -> None:
    """A spine switch behind each 16 nodes fails at 1 per 20 days and takes all 16 down for
    a fixed 1 d. Each domain alternates up Exp(λ) and down R, so the expected GPU-hours out
    of service over T are domains × 16 × 8 × T × λR/(1 + λR) (the N × rate × repair of a
    domain fault, with the renewal correction for the time it is already down)."""
    scenario = make_scenario(
        mtbf_h=None, nodes=256,
        **{"failures.causes": [{"name": "spine_switch", "per": "domain", "domain_nodes": 16,
                                "mtbf": "20 d", "repair_time": "1 d"}]})
    days = 400.0
    fleets = [_fleet_only(scenario, s, days) for s in range(3)]
    for f in fleets:
        f.finish()
    lam_r = 1.0 / 20.0
    expected = 16 * 16 * 8 * days * 24 * lam_r / (1 + lam_r)
    got = np.mean([f.gpu_seconds_down / HOUR for f in fleets])
    assert got == pytest.approx(expected, rel=0.05)  # ~960 faults: s.d. about 3%
    # every fault took whole domains: nodes go down in blocks of 16
    assert all(f.failures > 0 for f in fleets)


def test_with_rack_swaps_a_tray_fault_replaces_its_whole_rack(tmp_path: Path) -> None:
    """NVL72-like racks of 4 trays, a job of 2 racks and 1 spare rack, repairs of 2 h. A tray
    fault at 90 min takes its rack out of the job (its 3 healthy trays idle) and the spare
    rack takes its place at once: a plain restart, no wait. A second tray fault (other rack)
    at 3 h finds no whole spare rack (the first is still in repair until 3.5 h), so the job
    waits for it, then restarts."""
    (tmp_path / "events.csv").write_text("90 min,tray,0\n3 h,tray,5\n")
    data = {
        "name": "racks",
        "cluster": {"gpus": 32, "gpus_per_node": 4, "nodes_per_rack": 4, "spare_nodes": 4,
                    "repair_time": "2 h", "spare_unit": "rack"},
        "failures": {"causes": [{"name": "tray", "per": "node", "mtbf": "1 yr"}],
                     "trace": "events.csv"},
        "job": {"work": "10 h", "checkpoint": {"interval": "1 h", "write_time": 0},
                "restart": {"time": "10 min"}},
        "run": {"horizon": "30 d"},
    }
    path = tmp_path / "racks.yaml"
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    # 1 h of work saved at 1 h; the fault at 1.5 h loses 0.5 h, the restart ends at 1 h 40;
    # 2 h saved at 2 h 40; the fault at 3 h loses 20 min, the job waits until rack 0 is
    # whole (3.5 h), restarts until 3 h 40 and does the 8 h left: 11 h 40 in all
    assert rec.waiting_hours == pytest.approx(0.5, abs=1e-9)
    assert rec.lost_work_hours == pytest.approx(0.5 + 1 / 3, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(11 + 2 / 3, abs=1e-9)
    assert rec.interruptions == 2
    node = dict(data)
    node["cluster"] = {**data["cluster"], "spare_unit": "node"}
    path.write_text(yaml.safe_dump(node))
    plain = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert plain.waiting_hours == 0.0  # spare trays of the spare rack replace trays singly
    bad = {**data, "cluster": {**data["cluster"], "spare_nodes": 2}}
    path.write_text(yaml.safe_dump(bad))
    lines = assert_bad_input(invoke("validate", path))
    assert any("spare_unit: rack needs whole racks" in x for x in lines), lines


def test_adaptive_replications_stop_at_the_ci_target(tmp_path: Path) -> None:
    """--ci-target 0.3%: replications until the wall clock's 95% CI half-width is within 0.3% of
    its mean; the records are those of a fixed run of the same count (same seeds)."""
    import csv
    import json

    path = tmp_path / "s.yaml"
    data = scenario_dict(mtbf_h=6.0, nodes=8, work="5 d")
    path.write_text(yaml.safe_dump(data))
    res = ok(invoke("run", path, "--ci-target", "0.3%", "--no-plots", "-j", 2, "-o",
                    tmp_path / "a"))
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    prec = summary["precision"]
    assert prec["met"] and prec["achieved_rel"] <= 0.003 and prec["replications"] > 8
    n = prec["replications"]
    assert summary["replications"] == n and "precision: wall_clock_days" in res.stdout
    est = summary["wall_clock_days"]
    assert (est["ci95_high"] - est["ci95_low"]) / 2 <= 0.003 * est["mean"] * (1 + 1e-9)
    ok(invoke("run", path, "-r", n, "--no-plots", "-o", tmp_path / "f"))
    rows = [list(csv.DictReader((tmp_path / d / "replications.csv").read_text().splitlines()))
            for d in "af"]
    for a, b in zip(*rows, strict=True):
        assert a["wall_clock_days"] == b["wall_clock_days"]
    # a cap too small: a warning says so
    res = ok(invoke("run", path, "--ci-target", "0.01%", "-r", 10, "--no-plots", "-o",
                    tmp_path / "c"))
    assert "ci_target_not_met" in (tmp_path / "c" / "summary.json").read_text()
    assert_bad_input(invoke("run", path, "--ci-target", "150%"))
    assert_bad_input(invoke("run", path, "--ci-target", "1%", "--ci-metric", "wall"))


def test_a_failure_while_detecting_a_hang_is_waited_for(tmp_path: Path) -> None:
    """A hang at 1.5 h (a software fault, no node out) takes 10 min to detect. Node 1 fails
    for good at 1 h 35 min, inside the detection stall, with no spare: after the stall the
    job must wait for node 1 (repairs of 1 h, back at 2 h 35 min), then restart (30 min). It
    cannot restart at once and compute on a missing node."""
    path = _traced(tmp_path, "90 min,hang,0\n95 min,node_fault,1\n", repair="1 h")
    data = yaml.safe_load(path.read_text())
    data["failures"]["causes"].append({"name": "hang", "per": "node", "mtbf": "1 yr",
                                       "repair_time": "0 s", "detect_time": "10 min"})
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.detect_hours == pytest.approx(10 / 60, abs=1e-9)
    assert rec.waiting_hours == pytest.approx(95 / 60 + 1 - 100 / 60, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(95 / 60 + 1 + 0.5 + 9.0, abs=1e-9)
    assert rec.hardware_failures == 2
