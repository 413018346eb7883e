"""Recovery strategies (job.recovery), detection times and restart times that grow with the
job: hand-computed timelines and closed forms."""

from __future__ import annotations

from pathlib import Path

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
    run,
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
