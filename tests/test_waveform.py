"""Periodic piecewise-linear waveforms: operations against direct evaluation, the closed-form
Fourier series against numpy's FFT, and the exact SoC loop against small steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_power import ETA, MW, MWH
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.power.battery import rates
from simulator.power.load import Trapezoid
from simulator.power.socloop import Loop, settle
from simulator.power.waveform import Pwl, synthesize

T = 2.0


def trapezoids():
    return st.builds(
        lambda lo, swing, f, edge, phase: Pwl.trapezoid(
            lo, lo + swing, f * T - min(edge, f * T, (1 - f) * T),
            min(edge, f * T, (1 - f) * T), T, phase),
        st.floats(-50, 50), st.floats(0.5, 100), st.floats(0.1, 0.9), st.floats(0, 0.3),
        st.floats(0, 2))


def grid(n: int = 4000) -> np.ndarray:
    return (np.arange(n) + 0.37) * (T / n)  # off the knots


def values(w: Pwl, t: np.ndarray) -> np.ndarray:
    return np.array([w(float(x)) for x in t])


@settings(max_examples=40, deadline=None)
@given(trapezoids(), st.floats(-40, 40), st.floats(0, 60), st.floats(0, 1.5))
def test_operations_match_pointwise_evaluation(w: Pwl, lo: float, width: float, d: float) -> None:
    t = grid()
    v = values(w, t)
    assert w.mean == pytest.approx(v.mean(), abs=0.05)
    clipped = w.clip(lo, lo + width)
    assert np.allclose(values(clipped, t), np.clip(v, lo, lo + width), atol=1e-6)
    delayed = w.delay(d)
    assert np.allclose(values(delayed, t), values(w, t - d), atol=1e-6)
    diff = w.combine(delayed, 1.0, -1.0)
    assert np.allclose(values(diff, t), v - values(w, t - d), atol=1e-6)
    # pieces and integral over a stretch longer than a period, from a late start
    start = 1234.5 + d
    assert w.integral(start, 3.3) == pytest.approx(
        np.mean(values(w, start + (np.arange(33000) + 0.5) * 1e-4)) * 3.3, abs=0.05)


@settings(max_examples=30, deadline=None)
@given(trapezoids())
def test_closed_form_fourier_series_matches_the_fft(w: Pwl) -> None:
    n = 1 << 14
    c_fft = np.fft.rfft(values(w, np.arange(n) * (T / n))) / n
    c = w.fourier(64)
    # the FFT of samples aliases; low harmonics agree closely
    assert np.allclose(c[:33], c_fft[:33], atol=2e-3 * max(1.0, w.high - w.low))
    back = synthesize(w.fourier(2048), 4096)
    inside = values(w, np.arange(4096) * (T / 4096))
    assert np.mean(np.abs(back - inside)) < 0.02 * (w.high - w.low)


def test_square_wave_fourier_coefficients_by_hand() -> None:
    """±1 square wave: c_n = 2/(jπn) for odd n, 0 for even n."""
    w = Pwl.trapezoid(-1.0, 1.0, 1.0, 0.0, T)
    c = w.fourier(7)
    for n in range(1, 8):
        hand = 2 / (1j * math.pi * n) if n % 2 else 0.0
        assert c[n] == pytest.approx(hand, abs=1e-12)
    assert c[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("cap", [150 * MW, 160 * MW])
@pytest.mark.parametrize("edge", [0.0, 0.1])
def test_soc_loop_matches_small_steps(cap: float, edge: float) -> None:
    load = Trapezoid(100 * MW, 200 * MW, 1.0 - edge, edge, T)
    total = 100 * MWH / 0.9
    loop = Loop(load, 200 * MW, ETA, 0.95 * total, 1800.0, 0.0, cap, 0.05 * total, 0.95 * total)
    res = settle(loop, 0.95 * total, 20 * 3600.0)
    e, dis = 0.95 * total, 0.0
    for _ in range(20 * 3600):  # 1-s Euler steps of the same loop
        d, _ = rates(load, loop.supply(e), 200 * MW)
        e += loop.dedt(e)
        dis += d
    assert res.energy_j == pytest.approx(e, rel=1e-4)
    assert res.discharge_j == pytest.approx(dis, rel=1e-4)


def test_combine_at_knots_one_rounding_apart() -> None:
    """A square wave less itself delayed by its own high time: the delayed jump lands one
    rounding error before the original's, and the two knots merge. Each waveform must be read
    at its own knot, not just before its jump."""
    f = 0.6623523136061583
    w = Pwl.trapezoid(0.0, 1.0, f * T, 0.0, T, f)
    d = w.delay(f)
    diff = w.combine(d, 1.0, -1.0)
    t = grid()
    assert np.allclose(values(diff, t), values(w, t) - values(w, t - f), atol=1e-9)
