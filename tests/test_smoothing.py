"""GPU-side smoothing: ramp limits, the damper and the floor against their closed forms, their
effect on the spectrum and on energy, and the damper's throughput cost in the job model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import invoke, make_scenario, ok, run, scenario_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import Scenario
from simulator.power.battery import rates
from simulator.power.load import LoadModel
from simulator.power.screening import Band, band_peaks
from simulator.power.smoothing import damp, rack_shave, ramp_limit
from simulator.power.trapezoid import Trapezoid
from simulator.power.waveform import Pwl

T = 2.0


def _time_mean(w: Trapezoid, n: int = 200_000) -> float:
    ts = (np.arange(n) + 0.5) * w.period / n
    return float(np.mean([w.value(t) for t in ts]))


def test_asymmetric_trapezoid_mean_value_and_waveform_agree() -> None:
    w = Trapezoid(350.0, 700.0, 1.3, 0.225, T, t_fall=0.35)  # rise 0.1 s, fall 0.35 s
    assert w.t_rise == pytest.approx(0.1)
    assert _time_mean(w) == pytest.approx(w.mean, rel=1e-5)
    assert w.value(1.3 + 0.175) == pytest.approx(525.0)  # half-way down the fall
    assert w.value(T - 0.05) == pytest.approx(525.0)  # half-way up the rise
    v = Pwl.trapezoid(w.low, w.high, w.t_high, w.t_edge, T, t_fall=w.t_fall)
    for t in np.linspace(0, T, 97, endpoint=False):
        assert v(t) == pytest.approx(w.value(t), abs=1e-9)


def test_a_ramp_down_limit_costs_the_triangle_of_its_slow_fall() -> None:
    base = Trapezoid(350.0, 700.0, 1.3, 0.1, T)  # per GPU, 0.1-s edges
    slow = ramp_limit(base, None, 1000.0)  # 350 W at 1 kW/s: a 0.35-s fall
    assert slow.t_fall == pytest.approx(0.35) and slow.t_rise == pytest.approx(0.1)
    assert slow.t_high == base.t_high and slow.low == base.low
    triangle = 0.5 * 350.0 * (0.35 - 0.1)  # J per iteration
    assert (slow.mean - base.mean) * T == pytest.approx(triangle, rel=1e-12)
    both = ramp_limit(base, 1400.0, 1000.0)  # and a 0.25-s rise: 0.6 s of the 0.7-s gap
    assert (both.mean - base.mean) * T == pytest.approx(
        triangle + 0.5 * 350.0 * (0.25 - 0.1), rel=1e-12)


def test_ramps_that_need_more_than_the_gap_turn_before_the_low_level() -> None:
    base = Trapezoid(350.0, 700.0, 1.3, 0.1, T)
    slow = ramp_limit(base, 500.0, 500.0)  # 0.7 s each way, only 0.7 s between plateaus
    depth = 0.7 / (1 / 500.0 + 1 / 500.0)  # 175 W
    assert slow.low == pytest.approx(700.0 - depth)
    assert slow.t_low == pytest.approx(0.0, abs=1e-12)
    assert slow.t_rise == pytest.approx(0.35) and slow.t_fall == pytest.approx(0.35)


def test_damper_holds_the_communication_level_and_costs_its_closed_form() -> None:
    base = Trapezoid(350.0, 700.0, 1.3, 0.1, T)
    held = damp(base, 0.8 * 700.0)  # 560 W during communication
    t_e = 0.1 * (700.0 - 560.0) / 350.0
    expect = T * (560.0 - 350.0) + (700.0 - 560.0) * (1.3 + t_e) - 350.0 * (1.3 + 0.1)
    assert held.low == 560.0 and held.t_edge == pytest.approx(t_e)
    assert (held.mean - base.mean) * T == pytest.approx(expect, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(up=st.one_of(st.none(), st.floats(100.0, 1e5)), down=st.one_of(st.none(), st.floats(100.0, 1e5)),
       damper=st.one_of(st.none(), st.floats(0.3, 1.0)),
       rack=st.one_of(st.none(), st.tuples(st.floats(1.0, 500.0), st.floats(1.0, 500.0),
                                           st.floats(0.8, 1.0))))
def test_each_mitigation_lowers_the_swing_and_never_saves_energy(up, down, damper, rack) -> None:
    base = Trapezoid(350.0, 700.0, 1.3, 0.1, T)
    w = damp(base, damper * 700.0) if damper is not None else base
    w = ramp_limit(w, up, down)
    if rack is not None:
        w = rack_shave(w, rack[0], rack[1], rack[2])
    assert w.mean >= base.mean - 1e-9
    bands = (Band(0.1, 20.0),)
    assert band_peaks(load_of(w), bands)[0] <= band_peaks(load_of(base), bands)[0] + 1e-9


def load_of(w: Trapezoid) -> Pwl:
    return Pwl.trapezoid(w.low, w.high, w.t_high, w.t_edge, w.period, t_fall=w.t_fall)


def _power_scenario(**smoothing) -> Scenario:
    data = scenario_dict(mtbf_h=None, nodes=100, work="1 d", interval_min=60, write_min=1)
    data["power"] = {"grid": {"capacity": "20 MW"}, "pue": 1.0, "node_overhead": 0,
                     "smoothing": smoothing}
    return Scenario.model_validate(data)


def test_facility_extras_by_mechanism_add_up_per_gpu_closed_forms() -> None:
    sc = _power_scenario(ramp_down="1 kW/s", damper=0.6)
    loads = LoadModel(sc.power, sc.cluster.groups, sc.job.iteration_time)
    floor, damper, ramp, rack = loads.extras("compute", 100)
    assert rack == 0.0
    gpus = 800
    raw = loads.groups[0].stages("compute")[0]
    held = damp(raw, 0.6 * 700.0)
    assert floor == 0.0
    assert damper == pytest.approx((held.mean - raw.mean) * gpus, rel=1e-12)
    dp = held.high - held.low
    triangle = 0.5 * dp * (dp / 1000.0 - held.t_fall)
    assert ramp == pytest.approx(triangle / T * gpus, rel=1e-12)
    facility = loads.facility("compute", 100, 0)
    assert facility.mean - raw.mean * gpus == pytest.approx(damper + ramp, rel=1e-9)


def test_damper_throughput_cost_lengthens_the_job_and_lowers_ettr() -> None:
    cost = 0.05
    plain = run(_power_scenario(), 1)[0]
    damped = run(_power_scenario(damper=0.6, damper_throughput_cost=cost), 1)[0]
    assert plain.throttled_hours == 0.0
    compute = 24.0 * (1 + cost)  # a day of work at 1/(1 + c) of full speed
    assert damped.throttled_hours == pytest.approx(compute - 24.0, rel=1e-9)
    assert damped.productive_hours == pytest.approx(24.0, rel=1e-9)
    # 1.2 h more compute, and 26 hourly checkpoints (1 min each) instead of 24
    assert (damped.wall_clock_days - plain.wall_clock_days) * 24 == pytest.approx(
        24.0 * cost + 2 / 60, rel=1e-9)
    assert damped.ettr < plain.ettr
    ledger = (damped.productive_hours + damped.throttled_hours + damped.checkpoint_hours
              + damped.lost_work_hours + damped.restart_hours + damped.waiting_hours
              + damped.outage_hours)
    assert ledger == pytest.approx(damped.wall_clock_days * 24, rel=1e-9)
    assert damped.smoothing_energy_mwh["damper"] > 0
    assert damped.smoothing_energy_mwh["ramp"] == 0.0


def test_a_throughput_cost_without_a_damper_costs_nothing() -> None:
    sc = make_scenario()
    assert run(sc, 1)[0].throttled_hours == 0.0
    free = run(_power_scenario(damper_throughput_cost=0.3), 1)[0]
    assert free.throttled_hours == 0.0


def test_smoothing_reaches_the_table_summary_and_csv(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None, nodes=64, work="2 h")
    data["power"] = {"grid": {"capacity": "5 MW"},
                     "smoothing": {"ramp_up": "2 kW/s", "ramp_down": "1 kW/s", "damper": 0.6,
                                   "damper_throughput_cost": 0.02}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(data))
    res = ok(invoke("run", path, "-o", tmp_path / "out", "--no-plots", "-r", 2))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    energy = summary["smoothing_energy_mwh"]
    assert energy["damper"]["mean"] > 0 and energy["ramp"]["mean"] > 0
    assert summary["throttled_hours"]["mean"] > 0
    header = (tmp_path / "out" / "replications.csv").read_text().splitlines()[0]
    assert "smoothing_energy_mwh.ramp" in header and "throttled_hours" in header
    assert "smoothing energy: ramp (MWh)" in res.output
    assert "throttled by smoothing (h)" in res.output


@settings(max_examples=40, deadline=None)
@given(rise=st.floats(0.0, 0.4), fall=st.floats(0.0, 0.4), frac=st.floats(-0.2, 1.2))
def test_level_statistics_of_asymmetric_edges_depend_only_on_their_mean(rise, fall, frac) -> None:
    """The battery's closed forms use mean(L) and E[(L − g)⁺] with the mean edge time only:
    check them against a fine sampling of the asymmetric waveform itself."""
    lo, hi = 300.0, 700.0
    w = Trapezoid(lo, hi, 1.0, 0.5 * (rise + fall), T, t_fall=fall)
    g = lo + frac * (hi - lo)
    n = 40_000
    v = np.array([w.value((k + 0.5) * T / n) for k in range(n)])
    assert w.mean == pytest.approx(v.mean(), rel=1e-4)
    assert w.above(g) == pytest.approx(np.maximum(v - g, 0).mean(), rel=1e-3, abs=1e-3)


SWING = Trapezoid(350.0, 700.0, 1.3, 0.1, T)  # per GPU


def test_rack_storage_with_room_to_spare_makes_the_swing_invisible() -> None:
    site = rack_shave(SWING, 1000.0, 1e6, 1.0)
    assert site.is_constant and site.low == pytest.approx(SWING.mean, rel=1e-9)
    lossy = rack_shave(SWING, 1000.0, 1e6, 0.9 ** 0.5)  # 90 % round trip
    assert lossy.is_constant
    # the site pays the losses: charge·η_rt = discharge, and mean(S) = mean(L) + charge − discharge
    m = lossy.low
    dis, chg = rates(SWING, m, 1000.0)
    assert chg * 0.9 == pytest.approx(dis, rel=1e-9)
    assert lossy.mean - SWING.mean == pytest.approx(chg - dis, rel=1e-6)
    assert chg - dis == pytest.approx(dis * (1 / 0.9 - 1), rel=1e-6)


SQUARE = Trapezoid(350.0, 700.0, 1.4, 0.0, T)  # 70 % at 700 W, 30 % at 350 W


def test_rack_storage_short_of_power_passes_the_rest_through() -> None:
    """Lossless, P = 50 W per GPU on a 70/30 square wave: charging (30 % of the time) saturates
    at P, and the balance 0.7·(high − m) = 0.3·P holds the top at m = 700 − 0.3·50/0.7."""
    p = 50.0
    site = rack_shave(SQUARE, p, 1e6, 1.0)
    assert site.high == pytest.approx(700.0 - 0.3 * p / 0.7, rel=1e-9)
    assert site.low == pytest.approx(350.0 + p, rel=1e-9)
    assert site.mean == pytest.approx(SQUARE.mean, rel=1e-9)  # lossless: energy unchanged
    bands = (Band(0.1, 20),)
    assert band_peaks(load_of(site), bands)[0] < band_peaks(load_of(SQUARE), bands)[0]


def test_rack_storage_short_of_energy_uses_all_of_it_each_iteration() -> None:
    """20 J per GPU, far less than the 147 J a full shave needs: the power is cut to
    p = E / (0.3·T) = 33.3 W, and each iteration discharges exactly E."""
    e = 20.0
    site = rack_shave(SQUARE, 1000.0, e, 1.0)
    p = e / (0.3 * T)
    assert site.low == pytest.approx(350.0 + p, rel=1e-6)
    assert site.high == pytest.approx(700.0 - 0.3 * p / 0.7, rel=1e-6)
    assert T * 0.7 * (700.0 - site.high) == pytest.approx(e, rel=1e-6)
    assert site.mean == pytest.approx(SQUARE.mean, rel=1e-9)


def test_rack_storage_reaches_the_facility_and_books_its_losses() -> None:
    sc = _power_scenario(rack_storage_power="30 kW", rack_storage_energy="20 kJ",
                         rack_storage_efficiency=0.9)
    loads = LoadModel(sc.power, sc.cluster.groups, sc.job.iteration_time)
    *_, rack = loads.extras("compute", 100)
    assert rack > 0  # the losses
    plain = _power_scenario()
    raw = LoadModel(plain.power, plain.cluster.groups, plain.job.iteration_time)
    a = loads.facility("compute", 100, 0)
    b = raw.facility("compute", 100, 0)
    assert a.high - a.low < b.high - b.low
    assert a.mean - b.mean == pytest.approx(rack, rel=1e-9)


def test_storage_capex_counts_every_rack_and_battery_unit() -> None:
    sc = _power_scenario(rack_storage_power="30 kW", rack_storage_energy="20 kJ",
                         rack_storage_capex="15000 USD")
    r = run(sc, 1)[0]
    assert r.power_capex_usd == pytest.approx(25 * 15000.0)  # 100 nodes, 4 per rack
    data = sc.model_dump()
    data["power"]["battery"].update(count=3, unit_capex=1e6)
    r = run(Scenario.model_validate(data), 1)[0]
    assert r.power_capex_usd == pytest.approx(25 * 15000.0 + 3e6)
