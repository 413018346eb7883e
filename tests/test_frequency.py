"""Bus frequency against closed forms: RoCoF, droop, threshold crossing, a battery that takes
the step late, and the steady oscillation of square and trapezoid iteration swings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_power import MW, plant, protection, run_event, run_fine
from scipy.optimize import brentq

from simulator.power.arcs import FrequencyParams, LinearModes
from simulator.power.arcsolve import integrate
from simulator.power.frequency import periodic_orbit, transfer
from simulator.power.load import Trapezoid
from simulator.power.protection import outside_intervals
from simulator.power.waveform import Pwl

S, H, R, TG, F0 = 130 * MW, 3.5, 0.04, 0.5, 60.0
DP = 20 * MW
FAST = FrequencyParams.of(S, H, R, TG, 1e15, F0)  # a governor that never hits its rate


def underdamped_step(p: FrequencyParams, dp: float, t: float) -> float:
    """Δf(t) after a load step dp onto the generators at t = 0 from rest, written out by hand:
    M·T_g·λ² + (M + D·T_g)·λ + (k + D) = 0 gives λ = σ ± jω_d; Δf = Δf∞·[1 − e^{σt}(cos ω_d t
    + B·sin ω_d t)] with Δf∞ = −dp/(k + D), and Δf'(0) = −dp/M gives B = −(σ + (k + D)/M)/ω_d."""
    m, k, tg, d = p.m, p.k, p.tg, p.d
    a, b, c = m * tg, m + d * tg, k + d
    sigma = -b / (2 * a)
    omega = math.sqrt(4 * a * c - b * b) / (2 * a)
    f_inf = -dp / c
    weight = -(sigma + c / m) / omega
    return f_inf * (1 - math.exp(sigma * t) * (math.cos(omega * t) + weight * math.sin(omega * t)))


def rate_limited_plant():
    """Generators alone (no battery), their governor limited to 13 MW/s (0.1 pu/s)."""
    return plant(protection(), gen_cap=S, inertia=H, droop=R, governor_time=TG,
                 governor_ramp=13 * MW, bat_power=0.0, bat_energy=0.0, e_max=0.0, e_min=0.0,
                 e_target=0.0, e_initial=0.0, gen_ramp=1e15)


def swing_from_rest(params, load: Trapezoid, duration: float, dt: float, tail_s: float):
    """Both solvers on one swing from rest at its mean, without a trip: (event-level solver,
    fine-step result, the fine-step Δf over the last ``tail_s`` s)."""
    rest = Trapezoid.constant(load.mean)
    solver, events = run_event(params, [(duration, load)], rest=rest)
    assert events == [None]
    fine = run_fine(params, [(duration, load)], rest=rest, dt=dt, keep_every=1)
    return solver, fine, fine.frequency[fine.t > duration - tail_s]


def step(p: FrequencyParams, duration: float = 30.0, dp: float = DP):
    return integrate(LinearModes(p), 0.0, 0.0, [(duration, dp, 0.0)])


def test_initial_rocof_is_dp_f0_over_2hs() -> None:
    sol = step(FAST)
    hand = -DP * F0 / (2 * H * S)
    assert sol.arcs[0][1].fp(0.0) == pytest.approx(hand, rel=1e-12)
    # and by a finite difference of the solution over its first millisecond
    assert (sol.f(1e-3) - sol.f(0.0)) / 1e-3 == pytest.approx(hand, rel=2e-3)
    assert hand == pytest.approx(-1.3187, abs=1e-4)


def test_droop_steady_state_is_r_dp_over_s_f0() -> None:
    sol = step(FAST, duration=120.0)
    assert sol.f(120.0) == pytest.approx(-R * DP / S * F0, rel=1e-9)
    assert pytest.approx(-0.36923, abs=1e-5) == -R * DP / S * F0
    # with load damping the droop gain and the damping share the step
    damped = FrequencyParams.of(S, H, R, TG, 1e15, F0, damping=1.0)
    assert step(damped, 120.0).f(120.0) == pytest.approx(-DP / (damped.k + damped.d), rel=1e-9)


def test_trajectory_and_threshold_crossing_match_the_analytic_step_response() -> None:
    sol = step(FAST)
    for t in (0.1, 0.5, 1.0, 2.0, 5.0):
        assert sol.f(t) == pytest.approx(underdamped_step(FAST, DP, t), abs=1e-9)
    level = -0.3  # Hz: crossed on the way to the nadir
    hand = brentq(lambda t: underdamped_step(FAST, DP, t) - level, 1e-6, 2.0)
    found = outside_intervals(sol, 0.0, level, 1e9, 30.0)
    assert found and found[0][0] == pytest.approx(hand, abs=1e-7)


def test_nadir_when_a_battery_takes_the_step_after_its_delay() -> None:
    """The generators carry the step until the battery answers T_b later: the nadir is the
    step response at T_b (the governor turns the rotors round after that)."""
    tb = 0.2
    # a dispatch that does not move (else fast generators would pick the step up themselves)
    params = plant(gen_cap=S, inertia=H, droop=R, governor_time=TG, bat_power=100 * MW,
                   response_s=tb, tau_filter=1e9)
    plan = [(20.0, Trapezoid.constant(50 * MW)), (60.0, Trapezoid.constant(50 * MW + DP))]
    solver, events = run_event(params, plan)
    assert events == [None, None]
    fast = FrequencyParams.of(S, H, R, TG, 1e15, F0)
    hand = underdamped_step(fast, DP, tb)
    assert solver.metrics.frequency_low_hz == pytest.approx(hand, rel=1e-6)
    assert hand == pytest.approx(-0.2531, abs=1e-3)
    fine = run_fine(params, plan, dt=1e-3)
    assert fine.frequency_low == pytest.approx(hand, rel=0.02)


A = 28.75 * MW  # half of a 57.5 MW swing


def _series_amplitude(p: FrequencyParams, w: Pwl, harmonics: int = 4000) -> float:
    """Steady oscillation amplitude through G(jω), from the waveform's samples (numpy's FFT,
    independent of the closed-form coefficients)."""
    n = 2 * harmonics
    c = np.fft.rfft(w.samples(n)) / n
    c[0] = 0
    omega = 2 * math.pi / w.period * np.arange(len(c))
    f = np.fft.irfft(c * transfer(p, omega) * n, n=n)
    return 0.5 * (f.max() - f.min())


@pytest.mark.parametrize("edge", [0.0, 0.1])
def test_oscillation_amplitude_of_square_and_trapezoid_from_the_fourier_series(edge: float) -> None:
    w = Pwl.trapezoid(-A, A, 1.0 - edge, edge, 2.0)
    orbit = periodic_orbit(FAST, LinearModes(FAST), w)
    assert orbit.linear
    assert orbit.amplitude == pytest.approx(_series_amplitude(FAST, w), rel=2e-3)
    # by brute force: the exact solver run for 40 periods from rest
    sol = integrate(LinearModes(FAST), 0.0, 0.0, w.pieces(0.0, 80.0))
    _, f = sol.sample(1e-3, 80.0)
    assert orbit.amplitude == pytest.approx(0.5 * (f[-2000:].max() - f[-2000:].min()), rel=2e-3)


def test_saturated_governor_leaves_the_inertia_triangle() -> None:
    """A governor that cannot move (rate → 0) leaves the rotors alone: a square swing ±A of
    period T gives a triangle of amplitude A·T/(4M)."""
    frozen = FrequencyParams.of(S, H, R, TG, 1.0, F0)
    w = Pwl.trapezoid(-A, A, 1.0, 0.0, 2.0)
    orbit = periodic_orbit(frozen, LinearModes(frozen), w)
    assert not orbit.linear
    assert orbit.amplitude == pytest.approx(A * 2.0 / (4 * frozen.m), rel=1e-3)


def test_rate_limited_orbit_matches_the_fine_step_solver() -> None:
    params = rate_limited_plant()
    load = Trapezoid(60 * MW, 60 * MW + 2 * A, 0.9, 0.1, 2.0)
    solver, fine, tail = swing_from_rest(params, load, 120.0, 5e-4, 20.0)
    amp = 0.5 * (tail.max() - tail.min())
    assert solver.metrics.oscillation_hz == pytest.approx(amp, rel=0.02)
    assert solver.metrics.frequency_low_hz == pytest.approx(fine.frequency_low, rel=0.02)
    assert solver.metrics.frequency_high_hz == pytest.approx(fine.frequency_high, rel=0.02)


def test_no_battery_iteration_swing_on_slow_generators_is_rejected() -> None:
    """115/57.5 MW square wave, 2-s period, a 15 MW grid, generators ramping 0.5 MW/s and
    accepting any block: following the swing would take 575 MW/s; the rotors swing instead,
    and protection trips on the rate of change of frequency."""
    prot = protection(band_lo=-3.5, band_hi=2.0, rocof_limit=1.0, rocof_window=0.5)
    params = plant(prot, grid_cap=15 * MW, gen_cap=130 * MW, gen_ramp=0.5 * MW,
                   governor_ramp=0.5 * MW, inertia=3.0, droop=0.04, bat_power=0.0,
                   bat_energy=0.0, e_min=0.0, e_max=0.0, e_target=0.0, e_initial=0.0)
    square = Trapezoid(57.5 * MW, 115 * MW, 1.0, 0.0, 2.0)
    _, events = run_event(params, [(600.0, square)], rest=Trapezoid.constant(square.mean))
    assert events[0] is not None and events[0][1] == "rocof"
    fine = run_fine(params, [(600.0, square)], rest=Trapezoid.constant(square.mean),
                    stop_at_trip=True)
    assert fine.trip_kind == "rocof"
    assert fine.trip_at == pytest.approx(events[0][0], abs=0.05)


def test_subharmonic_response_of_a_rate_limited_governor_matches_the_fine_step_solver() -> None:
    """Near resonance (the governor-inertia mode here is 0.42 Hz, the swing 0.5 Hz) a governor
    held at its rate limit locks into a response that repeats only every few iterations: the
    one-period map has no attracting fixed point. The orbit found is the attractor reached
    from rest at the mean load, the state the fine-step solver starts from."""
    params = rate_limited_plant()
    load = Trapezoid(50 * MW, 92 * MW, 1.3, 0.1, 2.0)
    ripple = Pwl.trapezoid(load.low - load.mean, load.high - load.mean, load.t_high,
                           load.t_edge, load.period)
    freq = params.frequency
    orbit = periodic_orbit(freq, LinearModes(freq), ripple)
    assert not orbit.linear
    assert orbit.period > load.period and orbit.period % load.period == pytest.approx(0.0)
    solver, fine, tail = swing_from_rest(params, load, 900.0, 1e-3, 100.0)
    amp = 0.5 * (tail.max() - tail.min())
    assert solver.metrics.oscillation_hz == pytest.approx(amp, rel=0.02)
    assert orbit.low == pytest.approx(tail.min(), rel=0.02)
    assert orbit.high == pytest.approx(tail.max(), rel=0.02)
    # the fine-step run is periodic with the orbit's period, not with the iteration's
    sel = fine.t > 800.0
    lag = round(orbit.period / 1e-3)
    f = fine.frequency[sel]
    assert np.max(np.abs(f[lag:] - f[:-lag])) < 0.01 * amp
    assert np.max(np.abs(f[1000 * 2:] - f[:-1000 * 2])) > 0.1 * amp


def test_frequency_recovers_as_the_dispatch_catches_up_on_a_periodic_load() -> None:
    """No battery: the iteration swing and a 25 MW step of its mean land on the generators.
    The droop holds the frequency low by ΔP/k until the dispatch (0.5 MW/s behind a 30-s
    filter) has moved; the event-level solver superposes that move on the swing, so the time
    outside the normal band and the extremes match the fine-step solver's."""
    prot = protection(normal_lo=-0.5, normal_hi=0.5)
    params = plant(prot, gen_cap=S, inertia=H, droop=R, governor_time=TG, governor_ramp=13 * MW,
                   bat_power=0.0, bat_energy=0.0, e_max=0.0, e_min=0.0, e_target=0.0,
                   e_initial=0.0, gen_ramp=0.5 * MW, tau_filter=30.0)
    rest = Trapezoid.constant(45 * MW)
    plan = [(60.0, rest), (300.0, Trapezoid(60 * MW, 80 * MW, 1.3, 0.1, 2.0))]
    solver, events = run_event(params, plan, rest=rest)
    assert events == [None, None]
    fine = run_fine(params, plan, rest=rest, dt=1e-3, keep_every=1)
    m = solver.metrics
    assert m.excursion_s == pytest.approx(fine.excursion_s, rel=0.02)
    assert 5.0 < m.excursion_s < 60.0  # recovers: not the whole 300 s
    assert m.frequency_low_hz == pytest.approx(fine.frequency_low, rel=0.02)
    assert m.frequency_high_hz == pytest.approx(fine.frequency_high, rel=0.02)
    assert m.rocof_max_hz_s == pytest.approx(fine.rocof_max, rel=0.02)
    tail = fine.frequency[fine.t > 340.0]
    assert m.oscillation_hz == pytest.approx(0.5 * (tail.max() - tail.min()), rel=0.02)
