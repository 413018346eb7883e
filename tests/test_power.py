"""Power system: hand-checkable cases, solver cross-checks, properties."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from helpers_power import ETA, MW, MWH, plant, protection, run_event, run_fine
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import FleetGroup, PowerConfig
from simulator.loader import load_scenario
from simulator.model import simulate
from simulator.power.battery import soc_neutral_level
from simulator.power.load import LoadModel, Trapezoid
from simulator.power.plant import EventSolver, PlantParams

# ---- hand cases ------------------------------------------------------------------------------


def test_70mw_step_against_1mw_per_s_ramp() -> None:
    plan = [(10.0, Trapezoid.constant(30 * MW)), (300.0, Trapezoid.constant(100 * MW))]
    solver, events = run_event(plant(), plan)
    assert events == [None, None]
    m = solver.metrics
    assert m.battery_peak_w == pytest.approx(70 * MW, rel=0.02)
    # the battery covers the triangle ΔP²/(2·ramp) = 70²/2 MJ = 0.681 MWh
    assert m.battery_discharge_j / MWH == pytest.approx(70**2 / 2 / 3600, rel=0.02)
    assert pytest.approx(0.681, abs=0.001) == 70**2 / 2 / 3600
    fine = run_fine(plant(), plan)
    assert fine.battery_peak_w == pytest.approx(70 * MW, rel=0.02)
    assert fine.battery_discharge_j / MWH == pytest.approx(0.681, rel=0.02)
    assert fine.trip_at is None


def test_50mw_battery_leaves_20mw_on_the_generators_which_trip() -> None:
    """The 20 MW the battery cannot carry land on the generators as a block step: beyond
    their block acceptance (here none) the site trips at once, and so does the fine-step."""
    plan = [(10.0, Trapezoid.constant(30 * MW)), (300.0, Trapezoid.constant(100 * MW))]
    params = plant(bat_power=50 * MW, gen_step=0.0)
    _, events = run_event(params, plan)
    assert events[1] is not None and events[1][1] == "block_step"
    fine = run_fine(params, plan, stop_at_trip=True)
    assert fine.trip_kind == "block_step"
    assert fine.trip_at == pytest.approx(10.0 + events[1][0], abs=0.01)
    # accepted as a block, the 20 MW decelerate the rotors: ramp-limited governors that pick
    # up only 0.5 MW/s let the frequency fall out of the band
    weak = plant(protection(band_lo=-1.0, band_hi=1.0), bat_power=50 * MW, governor_ramp=0.5 * MW)
    _, events = run_event(weak, plan)
    assert events[1] is not None and events[1][1] == "underfrequency"
    fine = run_fine(weak, plan, stop_at_trip=True)
    assert fine.trip_kind == "underfrequency"
    assert fine.trip_at == pytest.approx(10.0 + events[1][0], abs=0.01)
    # with no machines on the bus the 20 MW the battery cannot give are simply not served
    alone = plant(bat_power=50 * MW, gen_cap=0.0)
    _, events = run_event(alone, [(10.0, Trapezoid.constant(30 * MW)),
                                  (300.0, Trapezoid.constant(80 * MW))])
    assert events[1] is not None and events[1][1] == "unserved"


def test_first_order_lag_generator_battery_delivers_dp_tau() -> None:
    params = plant(tau_filter=10.0, gen_ramp=1e15)
    plan = [(10.0, Trapezoid.constant(30 * MW)), (300.0, Trapezoid.constant(100 * MW))]
    solver, _ = run_event(params, plan)
    assert solver.metrics.battery_discharge_j == pytest.approx(70 * MW * 10.0, rel=0.01)
    fine = run_fine(params, plan)
    assert fine.battery_discharge_j == pytest.approx(70 * MW * 10.0, rel=0.01)


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
    held = plant(gen_ramp=1e15)
    solver, _ = run_event(held, [(3600.0, SQUARE)])
    assert solver.gen == pytest.approx(105 * MW)
    assert (solver.energy_stored - 5e12) / MWH == pytest.approx(hand, rel=0.01)
    fine = run_fine(held, [(3600.0, SQUARE)], dt=0.01, keep_every=1000)
    assert (fine.final["energy"] - 5e12) / MWH == pytest.approx(hand, rel=0.01)


def test_checkpoint_dip_beyond_charge_power_trips() -> None:
    plan = [(600.0, Trapezoid.constant(100 * MW)), (30.0, Trapezoid.constant(40 * MW))]
    # a checkpoint drops the load to 40 MW: 60 MW surplus, 30 MW into the battery, 30 MW more
    # than the generators accept as a block
    params = plant(bat_power=30 * MW, gen_step=10 * MW, gen_min=20 * MW)
    _, events = run_event(params, plan)
    assert events[1] is not None and events[1][1] == "block_step"
    fine = run_fine(params, plan, stop_at_trip=True)
    assert fine.trip_kind == "block_step"
    # the T_g-moving average of the 30 MW step passes 10 MW a third of T_g in
    assert events[1][0] == pytest.approx(params.governor_time / 3)
    assert fine.trip_at == pytest.approx(600.0 + events[1][0], abs=0.01)
    # within the battery's charge power it is absorbed
    _, ok = run_event(plant(bat_power=70 * MW, gen_step=10 * MW, gen_min=20 * MW), plan)
    assert ok == [None, None]


# ---- the two solvers on the same window --------------------------------------------------------


def test_event_level_and_fine_step_agree_on_a_window() -> None:
    scenario = load_scenario("scenarios/100k_h100.yaml")
    cfg = scenario.power
    assert cfg is not None
    loads = LoadModel(cfg, scenario.cluster.groups, scenario.job.iteration_time)
    params = PlantParams.from_config(cfg, scenario.job.iteration_time)
    plan = [("compute", 600), ("checkpoint", 30), ("compute", 300.7), ("restart", 600),
            ("compute", 600), ("checkpoint", 30), ("compute", 200)]
    segs = [(float(d), loads.facility(state, 12_500, 320)) for state, d in plan]
    rest = loads.facility("idle", 12_500, 320)
    solver, events = run_event(params, segs, rest)
    assert events == [None] * len(plan)
    fine = run_fine(params, segs, rest, dt=0.002, keep_every=500)
    m = solver.metrics
    assert fine.trip_at is None
    assert m.energy_j == pytest.approx(fine.energy_j, rel=0.01)
    assert m.battery_peak_w == pytest.approx(fine.battery_peak_w, rel=0.01)
    assert m.battery_throughput_j == pytest.approx(fine.battery_throughput_j, rel=0.01)
    assert solver.energy_stored == pytest.approx(fine.final["energy"], rel=0.001)
    # frequency extremes within 2 %, RoCoF within 2 %
    assert m.frequency_low_hz == pytest.approx(fine.frequency_low, rel=0.02)
    assert m.frequency_high_hz == pytest.approx(fine.frequency_high, rel=0.02)
    assert m.rocof_max_hz_s == pytest.approx(fine.rocof_max, rel=0.02)


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
    energy = packs * 3.916 * MWH
    params = plant(bat_power=packs * 0.979 * MW, bat_energy=energy, gen_ramp=0.5 * MW,
                   tau_filter=30.0, tau_soc=1800.0, gen_min=10 * MW, e_min=0.05 * energy,
                   e_max=0.95 * energy, e_target=0.5 * energy, e_initial=0.5 * energy)
    solver = EventSolver(params)
    solver.start(0.0, Trapezoid.constant(segments[0][0] * MW))
    t = 0.0
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


def test_power_floor_shrinks_the_oscillation_and_makes_the_site_trip_free() -> None:
    """A floor of 90 % of TDP leaves a swing the generators' rotors ride within the band; the
    frequency still oscillates at the iteration rate, and the floor costs energy."""
    scenario = load_scenario("scenarios/no_battery.yaml",
                             ["power.gpu_power_floor=0.9", "job.work=2 d", "run.horizon=10 d"])
    r = simulate(scenario, np.random.SeedSequence(3).spawn(1)[0])
    assert r.power_trips == 0
    assert r.completed
    assert r.floor_energy_mwh > 0
    assert 0.0 < r.oscillation_amplitude_hz < 0.5
    lower = load_scenario("scenarios/no_battery.yaml",
                          ["power.gpu_power_floor=0.6", "job.work=2 d", "run.horizon=10 d"])
    low = simulate(lower, np.random.SeedSequence(3).spawn(1)[0])
    assert low.power_trips > 0 or low.oscillation_amplitude_hz > r.oscillation_amplitude_hz


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
    solver.start(0.0, Trapezoid.constant(60 * MW))
    solver.begin(0.0, Trapezoid.constant(60 * MW), max_duration=100.0)
    solver.end(100.0)
    energy, stored = solver.metrics.energy_j, solver.energy_stored
    solver.begin_dark(100.0)
    assert (solver.gen, solver.grid) == (0.0, 0.0)  # a dark site generates nothing
    solver.end(1900.0)
    assert solver.metrics.energy_j == energy
    assert solver.energy_stored == stored
    # after the outage the plant is restored to rest, then the job's load is a checked step
    rest = Trapezoid.constant(30 * MW)
    assert solver.begin(1900.0, Trapezoid.constant(30 * MW), max_duration=600.0, rest=rest) is None
    assert solver.gen == pytest.approx(30 * MW)
    solver.end(2500.0)
    solver.begin_dark(2500.0)
    solver.end(4300.0)
    event = solver.begin(4300.0, Trapezoid.constant(90 * MW), max_duration=600.0, rest=rest)
    assert event is None and solver.metrics.battery_peak_w == 0.0  # checked, not yet booked
    solver.end(4900.0)
    assert solver.metrics.battery_peak_w == pytest.approx(60 * MW, rel=1e-6)


def test_dark_rows_of_the_segment_log_show_no_generation() -> None:
    from simulator.power.plant import SegmentLog
    from simulator.power.windows import GEN, GRID, STATE

    scenario = load_scenario("scenarios/no_battery.yaml", ["run.horizon=1 d"])
    log = SegmentLog()
    simulate(scenario, np.random.SeedSequence(3).spawn(1)[0], segments=log)
    dark = [row for row in log.rows if row[STATE] == "outage"]
    assert dark, "the no-battery site trips"
    assert all(row[GEN] == 0.0 and row[GRID] == 0.0 for row in dark)


def test_load_follows_repairs_within_a_segment() -> None:
    """A node back from repair draws idle power from that moment, not from the next job event:
    the segment log gets a row with the same job state and more load at the repair time."""
    from simulator.power.plant import SegmentLog
    from simulator.power.windows import LOW, STATE, T

    scenario = load_scenario("scenarios/100k_h100.yaml", ["run.horizon=2 d"])
    log = SegmentLog()
    simulate(scenario, np.random.SeedSequence(5).spawn(1)[0], segments=log)
    rows = log.rows
    splits = [(a, b) for a, b in itertools.pairwise(rows) if a[STATE] == b[STATE]]
    assert splits
    idle_node = 8 * 100 + 1500  # W: a DGX at idle (100 W GPUs) with its overhead
    steps = {round((b[LOW] - a[LOW]) / (idle_node * 1.2)) for a, b in splits}
    assert steps & {1, -1, 4, -4}  # nodes (or a 4-node rack) coming back or going down
    assert all(b[T] > a[T] for a, b in splits)


def test_plotted_generator_line_follows_the_fine_step_solver() -> None:
    """The generator line of timeline.png is each segment's closed-form dispatch path (ramp,
    then exponential): over the fine-step windows of a day, it stays within 2.5% of the
    generators' capacity of the fine-step solver's output averaged over an iteration (its
    governor swings at the iteration rate), where joining the segment starts misses by >8%."""
    from simulator.power.coupling import plant_params
    from simulator.power.plant import SEGMENT_COLUMNS, SegmentLog
    from simulator.power.windows import GEN, T, pick_windows, solve_window
    from simulator.powerplots import generator_line

    scenario = load_scenario("scenarios/100k_h100.yaml", ["run.horizon=1 d"])
    log = SegmentLog()
    simulate(scenario, np.random.SeedSequence(1).spawn(1)[0], segments=log)
    rows = log.rows
    assert {len(r) for r in rows} == {len(SEGMENT_COLUMNS)}  # every segment's end logged
    params = plant_params(scenario)
    line_t, line_w = generator_line(rows, 86400.0)
    windows = pick_windows(rows, 86400.0)
    assert {label for label, _, _ in windows} == {"failure", "checkpoint", "restart ends"}
    worst = worst_join = 0.0
    for label, a, b in windows:
        window = solve_window(params, rows, a, b, label)
        r = window.result
        t = r.t + window.origin_s
        n = max(round(params.period / float(np.median(np.diff(r.t)))), 1)
        smooth = np.convolve(r.generators, np.ones(n) / n, mode="same")
        inner = slice(n, len(t) - n)
        keep = (t[inner] >= a) & (t[inner] <= b)
        tt, fine = t[inner][keep], smooth[inner][keep]
        worst = max(worst, float(np.max(np.abs(np.interp(tt, line_t, line_w) - fine))))
        joins = np.interp(tt, [x[T] for x in rows], [x[GEN] for x in rows])
        worst_join = max(worst_join, float(np.max(np.abs(joins - fine))))
    assert worst < 0.025 * params.gen_cap
    assert worst_join > 0.08 * params.gen_cap


def test_segment_logs_of_earlier_versions_still_redraw(tmp_path: Path) -> None:
    """power_segments.csv written before the generators' path was logged (15 columns) is read
    as it is, and its generator line joins the segment starts."""
    from simulator.output import read_segments, segments_csv
    from simulator.power.plant import SegmentLog
    from simulator.power.windows import GEN, T
    from simulator.powerplots import generator_line

    scenario = load_scenario("scenarios/100k_h100.yaml", ["run.horizon=3 h"])
    log = SegmentLog()
    simulate(scenario, np.random.SeedSequence(1).spawn(1)[0], segments=log)
    lines = segments_csv(log).splitlines()
    old = tmp_path / "power_segments.csv"
    old.write_text("\n".join(",".join(x.split(",")[:15]) for x in lines) + "\n")
    rows = read_segments(old)
    assert {len(r) for r in rows} == {15}
    t, w = generator_line(rows, 3 * 3600.0)
    assert list(t) == [r[T] for r in rows] and list(w) == [r[GEN] for r in rows]
    new = tmp_path / "new.csv"
    new.write_text(segments_csv(log))
    assert read_segments(new) == [tuple(float(v) if k != 1 else v for k, v in enumerate(r))
                                  for r in log.rows]
