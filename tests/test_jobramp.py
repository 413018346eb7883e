"""Soft start and stop (power.job_ramp_time): the ledger books the ramps, and taking the step
in ten parts keeps a generator site within its block-load acceptance."""

from __future__ import annotations

import pytest
from helpers import ledger_hours, run, scenario_dict

from simulator.config import Scenario


def _site(ramp: float | str = 0.0, work: str = "2 h") -> Scenario:
    """4,000 H100s on 8 MW of generators with no battery: the idle → compute step (0.4 → 2.8
    MW) is beyond their 25 % block-load acceptance (2 MW). No iteration swing (communication at
    compute power), so the steps are all there is: 2.4 MW on 8 MW with H = 3 s is a RoCoF
    of 2.4·60/(2·3·8) = 3 Hz/s; a tenth of it, 0.3 Hz/s."""
    data = scenario_dict(mtbf_h=None, nodes=500, work=work, interval_min=60, write_min=1,
                         horizon="1 d")
    data["power"] = {
        "pue": 1.0, "node_overhead": 0, "job_ramp_time": ramp,
        "gpu_watts": {"compute": "700 W", "communication": "700 W", "checkpoint": "700 W",
                      "restart": "100 W", "idle": "100 W"},
        "generators": {"capacity": "8 MW", "min_load": 0.0, "max_step": 0.25, "inertia": "3 s"},
    }
    return Scenario.model_validate(data)


def test_a_soft_start_keeps_the_site_within_its_block_load_acceptance() -> None:
    hard = run(_site(), 1)[0]
    assert hard.power_trips > 0 and not hard.completed  # every start trips
    soft = run(_site("60 s"), 1)[0]
    assert soft.power_trips == 0
    assert soft.completed


def test_the_ramps_cost_their_time_and_the_ledger_still_sums() -> None:
    plain = run(_site(work="2 h"), 1)[0]
    soft = run(_site("60 s", work="2 h"), 1)[0]
    # no failures: one ramp up at the start, one down after the last checkpoint
    assert soft.ramp_hours == pytest.approx(2 * 60 / 3600, rel=1e-12)
    assert plain.ramp_hours == 0.0
    assert soft.productive_hours == pytest.approx(2.0, rel=1e-12)
    assert ledger_hours(soft) == pytest.approx(soft.wall_clock_days * 24, rel=1e-12)
    assert soft.energy_mwh > 0


def test_every_restart_ramps_up_again() -> None:
    data = scenario_dict(mtbf_h=2.0, nodes=4, work="1 d", interval_min=30, write_min=1,
                         restart_min=5, failures_during_restart=False)
    data["power"] = {"grid": {"capacity": "10 MW"}, "job_ramp_time": "30 s"}
    r = run(Scenario.model_validate(data), 1)[0]
    assert r.interruptions > 3
    # failures may land in a ramp (it counts as running): at most one ramp per start
    ramps = r.ramp_hours * 3600 / 30
    assert r.interruptions + 2 + 1e-9 >= ramps >= r.interruptions + 1 - 1e-9
    assert ledger_hours(r) == pytest.approx(r.wall_clock_days * 24, rel=1e-12)


def test_the_launch_ramp_is_no_cause_s_cost_even_after_waiting_for_repairs_at_the_start() -> None:
    """Repairs under way at t = 0 (long repairs, frequent failures: nodes are down at the
    start) make the job wait, then launch. That launch ramp is the same one a healthy start
    takes, so it is nobody's cost: the per-cause restart time sums to the restart time and
    every ramp but the launch and the final ramp down. It used to be booked to the repairs
    at the start."""
    data = scenario_dict(mtbf_h=10.0, nodes=8, work="2 d", interval_min=30, write_min=1,
                         restart_min=5, repair={"distribution": "exponential", "mean": "1 d"},
                         spare_nodes=0)
    data["failures"]["repair_start"] = "stationary"
    data["power"] = {"grid": {"capacity": "10 MW"}, "job_ramp_time": "30 s"}
    r = run(Scenario.model_validate(data), 1)[0]
    assert r.down_hours_by_cause["repairs_at_start"] > 0  # it did wait for them
    assert r.interruptions > 0
    assert "repairs_at_start" not in r.restart_hours_by_cause
    assert sum(r.restart_hours_by_cause.values()) == pytest.approx(
        r.restart_hours + r.ramp_hours - 2 * 30 / 3600, rel=1e-9)
