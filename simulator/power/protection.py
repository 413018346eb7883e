"""Protection: when the site trips, and why.

Trip reasons, checked on the exact (closed-form) solution of the bus:

* ``block_step``: a load change on the generators that lasts their governor time T_g is larger
  than the block load they accept (``max_step``, the ISO 8528-5 notion). The change is
  measured on the T_g-moving average of their load, so a pulse shorter than T_g counts by its
  energy (the rotors carry it: that is the frequency model's business), and a lasting step
  counts in full. It is checked first and trips at once.
* ``underfrequency`` / ``overfrequency``: Δf outside ``frequency_band`` for ``trip_delay``
  without a break (a definite-time relay, ANSI 81U/81O).
* ``rocof``: |Δf(t) − Δf(t − W)|/W above ``rocof_limit``, with W the ``rocof_window``.
* ``unserved``: a deficit no source can cover: the generators at their capacity while the
  frequency falls out of the band, or, on a site without generators, load beyond the grid's
  cap and the battery for ``trip_delay``.
* ``grid_tie``: on a site without generators, power the tie would have to export (or import
  beyond its cap before the battery responds) for ``trip_delay``.

``frequency_excursion_hours`` counts the time |Δf| spends outside the normal band.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from simulator.power.arcs import AT_HI
from simulator.power.arcsolve import Solution
from simulator.power.waveform import Pwl

REASONS = ("unserved", "underfrequency", "overfrequency", "rocof", "grid_tie", "block_step")


@dataclass(frozen=True)
class Protection:
    """Settings, as deviations from nominal (Hz), seconds, Hz/s and W."""

    band_lo: float
    band_hi: float
    trip_delay: float
    rocof_limit: float
    rocof_window: float
    normal_lo: float
    normal_hi: float
    block_step: float
    step_window: float


def outside_intervals(sol: Solution, offset: float, lo: float, hi: float, upto: float
                      ) -> list[tuple[float, float, int]]:
    """Intervals (start, end, side) within [0, upto] where offset + Δf(t) < lo (side −1) or
    > hi (side +1), exact to the root tolerance."""
    out: list[tuple[float, float, int]] = []
    cur: list = []  # [start, side]
    for t0, arc in sol.arcs:
        if t0 >= upto:
            break
        h = min(arc.h, upto - t0)
        if h <= 0:
            continue
        times = [0.0]
        for level in (lo - offset, hi - offset):
            start = 0.0
            while start < h:
                r = arc.first_root(lambda x, a=arc, s=start, lv=level: a.f(s + x) - lv, h - start)
                if not math.isfinite(r):
                    break
                start += r
                times.append(start)
                start += 1e-9
        times = [*sorted(set(times)), h]
        for a, b in itertools.pairwise(times):
            if b - a <= 0:
                continue
            v = offset + arc.f(0.5 * (a + b))
            side = -1 if v < lo else 1 if v > hi else 0
            if cur and cur[1] != side:
                out.append((cur[0], t0 + a, cur[1]))
                cur = []
            if side and not cur:
                cur = [t0 + a, side]
    if cur:
        out.append((cur[0], min(upto, sol.end), cur[1]))
    return out


def band_trip(sol: Solution, offset: float, p: Protection, upto: float) -> tuple[float, str] | None:
    """First band trip within [0, upto] of the transient: (time, reason)."""
    for a, b, side in outside_intervals(sol, offset, p.band_lo, p.band_hi, upto):
        if b - a >= p.trip_delay - 1e-12:
            at = a + p.trip_delay
            if side < 0:
                _t_arc, arc = sol._arc(at)
                reason = "unserved" if arc.kind == AT_HI else "underfrequency"
            else:
                reason = "overfrequency"
            return at, reason
    return None


def excursion_time(sol: Solution, offset: float, p: Protection, upto: float) -> float:
    return sum(b - a for a, b, _ in outside_intervals(sol, offset, p.normal_lo, p.normal_hi, upto))


def windowed_rocof(values: np.ndarray, dt: float, window: float) -> np.ndarray:
    """|x(t) − x(t − W)|/W on a regular grid, for the samples that have W of history."""
    shift = max(1, round(window / dt))
    if shift >= len(values):
        return np.zeros(1)
    return np.abs(values[shift:] - values[:-shift]) / window


def sustained(w: Pwl, window: float, samples: int = 2048) -> float:
    """Largest change of the ``window``-moving average of a periodic waveform (W)."""
    if window <= 0:
        return max((abs(s) for _, s in w.jumps()), default=0.0)
    v = w.samples(samples)
    dt = w.period / samples
    k = max(1, round(window / dt))
    # a window of `full` whole periods and `rem` samples: the whole periods add the same
    # energy wherever the window ends, so only the remainder moves the average
    full, rem = divmod(k, samples)
    c = np.concatenate(([0.0], np.cumsum(np.concatenate((v, v))) * dt))
    idx = np.arange(samples, 2 * samples)
    avg = (full * float(v.sum()) * dt + c[idx + 1] - c[idx + 1 - rem]) / (k * dt)
    # the average is periodic: its change over the window is a shift by k mod samples
    return float(np.max(np.abs(avg - np.roll(avg, k % samples))))


def window_mean(w: Pwl, start: float, window: float) -> float:
    """Mean of a periodic waveform over [start, start + window]."""
    if window <= 0:
        return w(start)
    return w.integral(start, window) / window


def run_beyond(w: Pwl, tol: float) -> tuple[float, float]:
    """(longest time w > tol, longest time w < −tol) within a period, the period repeating."""
    v = w.samples(2048)
    dt = w.period / len(v)

    def longest(mask: np.ndarray) -> float:
        if not mask.any():
            return 0.0
        if mask.all():
            return math.inf
        rolled = np.roll(mask, -int(np.argmin(mask)))
        best = run = 0
        for x in rolled:
            run = run + 1 if x else 0
            best = max(best, run)
        return best * dt

    return longest(v > tol), longest(v < -tol)
