"""Power system: hand-checkable cases (DESIGN §5, issue 3), solver cross-checks, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import FleetGroup, PowerConfig
from simulator.loader import load_scenario
from simulator.model import simulate
from simulator.power.finestep import simulate_window
from simulator.power.load import LoadModel, Trapezoid
from simulator.power.plant import EventSolver, PlantParams, soc_neutral_level

MW, MWH = 1e6, 3.6e9
ETA = math.sqrt(0.9)


def plant(**overrides: float) -> PlantParams:
    """A plant with no grid, a large slow generator, a big battery and no SoC pull."""
    base = dict(grid_cap=0.0, grid_ramp=math.inf, gen_cap=300 * MW, gen_ramp=1 * MW,
                gen_min=0.0, gen_step=0.0, bat_power=100 * MW, bat_energy=1e13, eta=ETA,
                e_min=0.0, e_max=1e13, e_target=5e12, e_initial=5e12, response_s=0.0,
                tau_filter=0.0, tau_soc=1e18, edge_s=0.1)
    base.update(overrides)
    return PlantParams(**base)


def step_event(params: PlantParams, before: float = 30 * MW, after: float = 100 * MW,
               duration: float = 300.0) -> tuple[EventSolver, tuple[float, str] | None]:
    solver = EventSolver(params)
    solver.begin(0.0, Trapezoid.constant(before), max_duration=10.0)
    solver.end(10.0)
    trip = solver.begin(10.0, Trapezoid.constant(after), max_duration=duration)
    if trip is None:
        solver.end(10.0 + duration)
    return solver, trip


# ---- hand cases ------------------------------------------------------------------------------


def test_70mw_step_against_1mw_per_s_ramp() -> None:
    solver, trip = step_event(plant())
    assert trip is None
    m = solver.metrics
    assert m.battery_peak_w == pytest.approx(70 * MW, rel=0.02)
    # the battery covers the triangle ΔP²/(2·ramp) = 70²/2 MJ = 0.681 MWh
    assert m.battery_discharge_j / MWH == pytest.approx(70**2 / 2 / 3600, rel=0.02)
    assert pytest.approx(0.681, abs=0.001) == 70**2 / 2 / 3600
    fine = simulate_window(plant(), [(300.0, Trapezoid.constant(100 * MW))], 30 * MW, 30 * MW, 5e12)
    assert fine.battery_peak_w == pytest.approx(70 * MW, rel=0.02)
    assert fine.battery_throughput_j / MWH == pytest.approx(0.681, rel=0.02)
    assert fine.trip_at is None


def test_50mw_battery_leaves_20mw_unserved_and_trips() -> None:
    _, trip = step_event(plant(bat_power=50 * MW))
    assert trip == (0.0, "unserved")
    fine = simulate_window(plant(bat_power=50 * MW), [(300.0, Trapezoid.constant(100 * MW))],
                           30 * MW, 30 * MW, 5e12)
    assert fine.trip_kind == "unserved"
    assert fine.trip_at == pytest.approx(0.0, abs=0.02)
    # the same 20 MW residual is carried if the generators accept 20 MW steps
    _, ok = step_event(plant(bat_power=50 * MW, gen_step=21 * MW))
    assert ok is None


def test_first_order_lag_generator_battery_delivers_dp_tau() -> None:
    params = plant(tau_filter=10.0, gen_ramp=1e15)
    solver, trip = step_event(params)
    assert trip is None
    assert solver.metrics.battery_discharge_j == pytest.approx(70 * MW * 10.0, rel=0.01)
    fine = simulate_window(params, [(300.0, Trapezoid.constant(100 * MW))], 30 * MW, 30 * MW, 5e12)
    assert fine.battery_throughput_j == pytest.approx(70 * MW * 10.0, rel=0.01)


SQUARE = Trapezoid(70 * MW, 140 * MW, t_high=1.0, t_edge=0.0, period=2.0)


def test_square_wave_soc_neutral_generator_level() -> None:
    # (G − 70)·η = (140 − G)/η with η = √0.9
    level = soc_neutral_level(SQUARE, ETA)
    assert level / MW == pytest.approx(106.84, abs=0.1)
    hand = (140 / ETA + 70 * ETA) / (ETA + 1 / ETA)
    assert level / MW == pytest.approx(hand, abs=1e-6)


def test_square_wave_soc_drift_with_generators_held_at_105mw() -> None:
    # held at the mean, the battery loses its round-trip losses: per 2-s cycle
    # 35 MJ/η out, 35 MJ·η in: −1.84 MWh per hour
    hand = 1800 * (35 * ETA - 35 / ETA) / 3600
    assert hand == pytest.approx(-1.84, abs=0.01)
    held = plant(gen_ramp=1e15, tau_filter=1e12)
    solver = EventSolver(held)
    solver.begin(0.0, SQUARE, max_duration=3600.0, resync=True)
    assert solver.gen == pytest.approx(105 * MW)
    e0 = solver.energy_stored
    solver.end(3600.0)
    assert (solver.energy_stored - e0) / MWH == pytest.approx(hand, rel=0.01)
    fine = simulate_window(held, [(3600.0, SQUARE)], 105 * MW, 105 * MW, 5e12, dt=0.01,
                           keep_every=1000)
    assert (fine.soc[-1] * 1e13 - 5e12) / MWH == pytest.approx(hand, rel=0.01)


def test_checkpoint_dip_beyond_charge_power_trips_overspeed() -> None:
    params = plant(bat_power=30 * MW, gen_step=10 * MW, gen_min=20 * MW)
    solver = EventSolver(params)
    solver.begin(0.0, Trapezoid.constant(100 * MW), max_duration=600.0)
    solver.end(600.0)
    # a checkpoint drops the load to 40 MW: 60 MW surplus, 30 MW into the battery,
    # 30 MW more than the generators can shed as a step
    assert solver.begin(600.0, Trapezoid.constant(40 * MW), max_duration=30.0) == (0.0, "overspeed")
    fine = simulate_window(params, [(60.0, Trapezoid.constant(100 * MW)),
                                    (30.0, Trapezoid.constant(40 * MW))],
                           100 * MW, 100 * MW, 5e12)
    assert fine.trip_kind == "overspeed"
    assert fine.trip_at == pytest.approx(60.0, abs=0.02)
    # within the battery's charge power it is absorbed
    ok = EventSolver(plant(bat_power=70 * MW, gen_step=10 * MW, gen_min=20 * MW))
    ok.begin(0.0, Trapezoid.constant(100 * MW), max_duration=600.0)
    ok.end(600.0)
    assert ok.begin(600.0, Trapezoid.constant(40 * MW), max_duration=30.0) is None


# ---- the two solvers on the same window --------------------------------------------------------


def test_event_level_and_fine_step_agree_on_a_window() -> None:
    scenario = load_scenario("scenarios/100k_h100.yaml")
    cfg = scenario.power
    assert cfg is not None
    loads = LoadModel(cfg, scenario.cluster.groups, scenario.job.iteration_time)
    params = PlantParams.from_config(cfg)
    plan = [("compute", 600), ("checkpoint", 30), ("compute", 300), ("restart", 600),
            ("compute", 600), ("checkpoint", 30), ("compute", 200)]
    solver = EventSolver(params)
    segments, t = [], 0.0
    for state, duration in plan:
        load = loads.facility(state, 12_500, 320)
        segments.append((float(duration), load))
        assert solver.begin(t, load, max_duration=duration) is None
        if t == 0.0:
            start = (solver.gen, solver.filt, solver.energy_stored)
        t += duration
        solver.end(t)
    fine = simulate_window(params, segments, *start, dt=0.01, keep_every=100)
    m = solver.metrics
    assert fine.trip_at is None
    assert m.energy_j == pytest.approx(fine.energy_j, rel=0.01)
    assert m.battery_peak_w == pytest.approx(fine.battery_peak_w, rel=0.01)
    assert m.battery_throughput_j == pytest.approx(fine.battery_throughput_j, rel=0.01)
    assert solver.energy_stored == pytest.approx(fine.soc[-1] * params.bat_energy, rel=0.001)


# ---- load model --------------------------------------------------------------------------------


def test_power_floor_extra_energy_matches_closed_form() -> None:
    cfg = PowerConfig(gpu_watts={"compute": 700, "communication": 350, "checkpoint": 250},
                      waveform={"compute_fraction": 0.7, "edge_time": 0.1},
                      gpu_power_floor=0.6, pue=1.2)
    loads = LoadModel(cfg, [FleetGroup(gpu="h100", gpus=8)], 2.0)
    hi, lo, fl, f, e, period = 700.0, 350.0, 420.0, 0.7, 0.1, 2.0
    # per GPU, per period: the low plateau ((1−f)T − e) lifted by (fl − lo), and on each edge the
    # part below the floor, a triangle of height (fl − lo) over e·(fl − lo)/(hi − lo)
    per_gpu = (((1 - f) * period - e) * (fl - lo) + e * (fl - lo) ** 2 / (hi - lo)) / period
    nodes = 1000
    assert loads.floor_extra("compute", nodes) == pytest.approx(per_gpu * nodes * 8 * 1.2, rel=1e-9)
    # the checkpoint level (250 W) is lifted to the floor in full
    assert loads.floor_extra("checkpoint", nodes) == pytest.approx((fl - 250) * nodes * 8 * 1.2)
    # and by numerical integration of the two waveforms
    raw = LoadModel(cfg.model_copy(update={"gpu_power_floor": 0.0}), [FleetGroup(gpu="h100", gpus=8)], 2.0)
    t = np.arange(0, period, 1e-4)
    a = np.array([loads.facility("compute", nodes, 0).value(x) for x in t]).mean()
    b = np.array([raw.facility("compute", nodes, 0).value(x) for x in t]).mean()
    assert a - b == pytest.approx(loads.floor_extra("compute", nodes), rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(low=st.floats(0, 100), swing=st.floats(0.1, 100), f=st.floats(0.1, 0.9),
       edge=st.floats(0, 0.2), g=st.floats(-10, 210))
def test_trapezoid_excess_matches_numerical_integration(low: float, swing: float, f: float,
                                                        edge: float, g: float) -> None:
    period = 2.0
    edge = min(edge, f * period, (1 - f) * period)
    tr = Trapezoid(low, low + swing, f * period - edge, edge, period)
    t = np.arange(0, period, 2e-4) + 1e-4
    v = np.array([tr.value(x) for x in t])
    assert tr.mean == pytest.approx(v.mean(), abs=1e-2)
    assert tr.mean == pytest.approx(low + swing * f, rel=1e-9)
    assert tr.above(g) == pytest.approx(np.maximum(v - g, 0).mean(), abs=1e-2)
    assert tr.below(g) == pytest.approx(np.maximum(g - v, 0).mean(), abs=1e-2)
    clipped = tr.clip_below(g)
    assert clipped.mean == pytest.approx(np.maximum(v, g).mean(), abs=1e-2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(20, 140), st.floats(0, 60), st.floats(1, 900)),
                min_size=1, max_size=12),
       st.integers(1, 60))
def test_soc_stays_within_limits(segments: list[tuple[float, float, float]], packs: int) -> None:
    params = plant(bat_power=packs * 0.979 * MW, bat_energy=packs * 3.916 * MWH, gen_ramp=0.5 * MW,
                   tau_filter=30.0, tau_soc=1800.0, gen_step=1e15, gen_min=10 * MW,
                   e_min=0.05 * packs * 3.916 * MWH, e_max=0.95 * packs * 3.916 * MWH,
                   e_target=0.5 * packs * 3.916 * MWH, e_initial=0.5 * packs * 3.916 * MWH)
    solver, t = EventSolver(params), 0.0
    for low, swing, duration in segments:
        load = Trapezoid(low * MW, (low + swing) * MW, 0.6, 0.1, 2.0) if swing > 0 else \
            Trapezoid.constant(low * MW)
        solver.begin(t, load, max_duration=duration)
        t += duration
        solver.end(t)
        assert params.e_min - 1.0 <= solver.energy_stored <= params.e_max + 1.0


# ---- coupling with the job ----------------------------------------------------------------------


def test_trips_interrupt_the_job_and_keep_the_site_dark() -> None:
    scenario = load_scenario("scenarios/no_battery.yaml", ["run.horizon=3 d"])
    r = simulate(scenario, np.random.SeedSequence(3).spawn(1)[0])
    assert r.power_trips > 10
    assert r.interruptions_by_cause["power_trip"] == r.power_trips
    outage_h = scenario.power.trip_outage_time / 3600.0  # type: ignore[union-attr]
    # every trip keeps the site dark for the outage time (the last one may be cut by the horizon)
    assert (r.power_trips - 1) * outage_h <= r.outage_hours <= r.power_trips * outage_h + 1e-9
    assert r.unserved_mwh > 0


def test_power_floor_makes_the_generators_only_site_trip_free() -> None:
    scenario = load_scenario("scenarios/no_battery.yaml",
                             ["power.gpu_power_floor=0.65", "job.work=3 d", "run.horizon=10 d"])
    r = simulate(scenario, np.random.SeedSequence(3).spawn(1)[0])
    assert r.power_trips == 0
    assert r.completed
    assert r.floor_energy_mwh > 0
    assert r.generator_oscillation_hours > 0  # the generators now follow the iteration swing


def test_power_does_not_change_reliability_when_nothing_trips() -> None:
    with_power = load_scenario("scenarios/100k_h100.yaml", ["job.work=2 d"])
    without = with_power.model_copy(update={"power": None})
    seed = np.random.SeedSequence(11).spawn(1)[0]
    a, b = simulate(with_power, seed), simulate(without, seed)
    assert a.power_trips == 0
    assert a.wall_clock_days == b.wall_clock_days
    assert a.interruptions_by_cause == b.interruptions_by_cause
    assert math.isnan(b.energy_mwh) and a.energy_mwh > 0
    # energy = ∫ facility power: between the all-idle and all-compute-peak bounds
    assert a.energy_mwh < a.peak_facility_mw * a.wall_clock_days * 24


def test_dark_site_holds_battery_charge_and_draws_nothing() -> None:
    solver = EventSolver(plant(gen_min=20 * MW))
    solver.begin(0.0, Trapezoid.constant(60 * MW), max_duration=100.0)
    solver.end(100.0)
    energy, stored = solver.metrics.energy_j, solver.energy_stored
    solver.begin_dark(100.0)
    solver.end(1900.0)
    assert solver.metrics.energy_j == energy
    assert solver.energy_stored == stored
    # the restart after the outage is a black start: synchronised, not a load step
    assert solver.begin(1900.0, Trapezoid.constant(30 * MW), max_duration=600.0, resync=True) is None
    assert solver.gen == pytest.approx(30 * MW)
