"""The grid tie: a ramp limit the battery enforces, recharging in merit order, excursions
counted once, and a capped grid that recharges the battery under the iteration swing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_power import ETA, MW, MWH, plant, run_event, run_fine

from simulator.loader import load_scenario
from simulator.model import simulate
from simulator.power.load import Trapezoid
from simulator.power.plant import EventSolver

NO_GENS = dict(gen_cap=0.0, gen_min=0.0, gen_step=0.0)


def battery(energy_usable: float, soc: float = 0.95, lo: float = 0.05, hi: float = 0.95,
            target: float | None = None) -> dict[str, float]:
    total = energy_usable / (hi - lo)
    return dict(bat_energy=total, e_min=lo * total, e_max=hi * total,
                e_initial=soc * total, e_target=(target if target is not None else soc) * total)


def test_battery_covers_what_a_ramp_limited_import_may_not_follow_yet() -> None:
    """A 60 MW load step on a grid limited to 20 MW/min: the import ramps, the battery covers
    the triangle ΔP²/(2·ramp) = 60² MW² / (2 · 1/3 MW/s) = 5400 MJ = 1.5 MWh, and the import
    never changes more than 20 MW over a minute."""
    ramp = 20 * MW / 60
    params = plant(grid_cap=200 * MW, grid_ramp=ramp, **NO_GENS, **battery(100 * MWH, 0.5))
    plan = [(120.0, Trapezoid.constant(40 * MW)), (600.0, Trapezoid.constant(100 * MW))]
    solver, events = run_event(params, plan)
    assert events == [None, None]
    hand = (60 * MW) ** 2 / (2 * ramp)
    assert hand / MWH == pytest.approx(1.5)
    assert solver.metrics.battery_discharge_j == pytest.approx(hand, rel=1e-6)
    assert solver.metrics.grid_ramp_violations == 0
    fine = run_fine(params, plan, dt=0.01, keep_every=100)
    assert fine.battery_discharge_j == pytest.approx(hand, rel=0.01)
    assert fine.grid_ramp_violations == 0
    # without the battery the tie takes the step at once: one excursion, counted once
    bare = plant(grid_cap=200 * MW, grid_ramp=ramp, **NO_GENS, bat_power=0.0, bat_energy=0.0,
                 e_min=0.0, e_max=0.0, e_target=0.0, e_initial=0.0)
    solver, _ = run_event(bare, [*plan, (600.0, Trapezoid.constant(100 * MW))])
    assert solver.metrics.grid_ramp_violations == 1
    fine = run_fine(bare, plan, dt=0.01, keep_every=100)
    assert fine.grid_ramp_violations == 1


def test_an_iteration_swing_is_not_a_ramp_violation() -> None:
    """A 2 MW swing every 2 s changes the import by 2 MW, not by 20 MW/min: measured over a
    60-s window it does not move the import at all."""
    ramp = 20 * MW / 60
    params = plant(grid_cap=200 * MW, grid_ramp=ramp, **NO_GENS, bat_power=0.0, bat_energy=0.0,
                   e_min=0.0, e_max=0.0, e_target=0.0, e_initial=0.0)
    swing = Trapezoid(99 * MW, 101 * MW, 0.9, 0.1, 2.0)
    solver, events = run_event(params, [(600.0, swing)], rest=Trapezoid.constant(swing.mean))
    assert events == [None]
    assert solver.metrics.grid_ramp_violations == 0
    fine = run_fine(params, [(600.0, swing)], rest=Trapezoid.constant(swing.mean), dt=0.01)
    assert fine.grid_ramp_violations == 0


CAPPED = Trapezoid(100 * MW, 200 * MW, t_high=1.0, t_edge=0.0, period=2.0)


def test_capped_grid_recharges_the_battery_under_a_square_wave_for_37_9_h() -> None:
    """A grid capped at 150 MW under a 200/100 MW square wave, no generators, a 90 % battery
    with 100 MWh usable: the grid holds 150 MW, the battery gives 50 MW half the time and takes
    50 MW the other half, losing 25·(1/η − η) = 2.635 MW: 100 MWh last 37.95 h."""
    drift = 25 * MW * (1 / ETA - ETA)
    hours = 100 * MWH / drift / 3600
    assert hours == pytest.approx(37.95, abs=0.01)
    params = plant(grid_cap=150 * MW, **NO_GENS, bat_power=200 * MW, tau_soc=1800.0,
                   **battery(100 * MWH))
    solver = EventSolver(params)
    solver.start(0.0, CAPPED)
    event = solver.begin(0.0, CAPPED, max_duration=100 * 3600.0)
    assert event is not None and event[1] == "battery_limit"
    assert event[0] / 3600 == pytest.approx(hours, rel=1e-6)
    solver.end(event[0])
    # at the limit the battery stops discharging: the deficit has nowhere to go
    tripped = solver.begin(event[0], CAPPED, max_duration=3600.0)
    assert tripped is not None and tripped[1] == "unserved"
    # the fine-step solver, over the first two hours: the same drift
    fine = run_fine(params, [(7200.0, CAPPED)], dt=0.01, keep_every=1000)
    assert (params.e_initial - fine.final["energy"]) / 7200 == pytest.approx(drift, rel=0.01)


def test_grid_with_headroom_pulls_the_soc_back_on_an_exponential() -> None:
    """With a 170 MW cap the import rises with the SoC request X = 150 MW + (E_t − E)/τ and the
    battery settles where the import is SoC-neutral: S* = (200/η + 100·η)/(η + 1/η). On the
    way dE/dt = η(S − 100)/2 − (200 − S)/(2η) is linear in E: an exponential with time
    constant 2·τ/(η + 1/η)."""
    tau = 1800.0
    params = plant(grid_cap=170 * MW, **NO_GENS, bat_power=200 * MW, tau_soc=tau,
                   **battery(100 * MWH, soc=0.8))
    s_star = (200 / ETA + 100 * ETA) / (ETA + 1 / ETA) * MW
    e_inf = params.e_target - tau * (s_star - 150 * MW)
    tc = 2 * tau / (ETA + 1 / ETA)
    solver = EventSolver(params)
    solver.start(0.0, CAPPED)
    t = 0.0
    for hours in (0.5, 1.0, 3.0):
        assert solver.begin(t, CAPPED, max_duration=hours * 3600 - t) is None
        t = hours * 3600
        solver.end(t)
        hand = e_inf + (params.e_initial - e_inf) * math.exp(-t / tc)
        assert solver.energy_stored == pytest.approx(hand, rel=1e-9)
    fine = run_fine(params, [(3600.0, CAPPED)], dt=0.01, keep_every=1000)
    hand = e_inf + (params.e_initial - e_inf) * math.exp(-3600.0 / tc)
    assert fine.final["energy"] == pytest.approx(hand, rel=1e-3)


def test_the_capped_grid_case_runs_37_9_hours_through_the_cli_model() -> None:
    """The same site as a scenario: the compute that starts at t = 0 ends in a power trip
    37.9 h in (the rest load at idle equals the mean, so the battery starts full and drains at
    2.635 MW)."""
    scenario = load_scenario("scenarios/no_battery.yaml", [
        "failures.causes=[]", "power.generators.capacity=0", "power.grid.capacity=150 MW",
        "power.grid.ramp_limit=null", "power.battery.count=1",
        "power.battery.unit_power=200 MW", "power.battery.unit_energy=111.111111 MWh",
        "power.battery.initial_soc=0.95", "power.battery.soc_max=0.95", "power.pue=1",
        "power.node_overhead=0", "cluster.spare_nodes=0",
        "power.gpu_watts.compute=2000 W", "power.gpu_watts.communication=1000 W",
        "power.waveform.edge_time=0", "power.waveform.compute_fraction=0.5",
        "power.gpu_watts.idle=1500 W", "job.work=60 h", "run.horizon=38.6 h",
        "job.checkpoint.interval=100 h"])
    r = simulate(scenario, np.random.SeedSequence(1).spawn(1)[0])
    assert r.power_trips == 1
    assert r.power_trips_by_reason == {"unserved": 1}
    assert r.lost_work_hours == pytest.approx(37.95, abs=0.05)


def test_a_small_grid_only_site_rides_its_load_drops_on_the_tie() -> None:
    """A 0.5-MW site on a 20-MW tie: every checkpoint drops the load by 0.28 MW, which the
    tie takes (the import falls). The tie's room was once taken to whole MW, which left such a
    site no room to reduce its import, and it tripped at every checkpoint."""
    from helpers import run, scenario_dict

    from simulator.config import Scenario

    data = scenario_dict(mtbf_h=None, nodes=100, work="1 d", interval_min=60, write_min=1)
    data["power"] = {"grid": {"capacity": "20 MW"}, "pue": 1.0, "node_overhead": 0}
    r = run(Scenario.model_validate(data), 1)[0]
    assert r.power_trips == 0
    assert r.completed and r.wall_clock_days * 24 == pytest.approx(24 + 24 / 60, rel=1e-9)
