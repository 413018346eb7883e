"""The transient of a segment start: from the state the previous segment left to the new
orbit, solved exactly by arcs (:mod:`simulator.power.arcs`).

At a segment start the battery keeps delivering its old output for its response delay T_b,
so for t in [0, T_b) the generators' rotors see

    w_g(t) = [L_new(t) − S(t)] − clamp(L_old(t − T_b) − S_old, −P_c, P_d) − tie(t)   (W)

(S: the dispatched supply, moving with the dispatch when it ramps within the delay; tie(t):
the stiff tie's share within its room). After T_b the input is the new residual's ripple.
The solution runs period by period until the period map repeats (the orbit is reached) or
for at most TRANSIENT_MAX_S; its extrema, time outside the normal band and windowed RoCoF
are its metrics, and a band or RoCoF crossing is its trip.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from simulator.power.arcs import LinearModes
from simulator.power.arcsolve import Solution, arc_extreme_values, integrate
from simulator.power.dispatch import Supply
from simulator.power.pieces import Pieces, clamp, merge, window_of
from simulator.power.protection import Protection, band_trip, excursion_time, windowed_rocof
from simulator.power.waveform import Pwl

SETTLE_F = 2e-5  # Hz: one period later the state repeats to this: the orbit
TRANSIENT_MAX_S = 60.0  # beyond this a transient is taken as settled
YPAD = 1e3  # W: margin on a transient's governor range when reusing it under other bounds


@dataclass
class Transient:
    """The exact transient of a segment start, with its metrics over its whole length (cached:
    identical starts recur at every checkpoint and restart)."""

    sol: Solution
    settled: float  # s: from here on the orbit holds
    trip: tuple[float, str] | None
    low: float  # Δf extremes relative to the equilibrium (Hz)
    high: float
    excursion: float = 0.0  # s outside the normal band (with the segment's offset)
    _rocof: float | None = None  # Hz/s, largest windowed (computed when asked)
    y_low: float = 0.0  # the governor response's range (W, relative to the equilibrium)
    y_high: float = 0.0
    key: tuple = ()

    def rocof_series(self, window: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, windowed RoCoF) within the transient (t ≥ W), on a grid of window/25."""
        ts, f = self.sol.sample(window / 25)
        g = windowed_rocof(f, ts[1] - ts[0], window)
        return ts[len(ts) - len(g):], g

    def rocof(self, window: float, floor: float) -> float:
        """Largest windowed RoCoF (Hz/s); 0 when it cannot exceed ``floor``."""
        if self._rocof is None:
            if (self.high - self.low) / window <= floor:
                return 0.0
            self._rocof = float(self.rocof_series(window)[1].max())
        return self._rocof


def start_window(load: Pwl, phase: float, supply: float, path: Supply | None, early: bool,
                 old: Pwl, old_phase: float, old_supply: float, old_pd: float, old_pc: float,
                 delay: float, grid: float, grid_cap: float) -> Pieces:
    """The generators' load above dispatch while the battery still delivers its old output:
    t in [0, T_b) (``delay``, s), as pieces (duration, value W, slope W/s). ``load`` and
    ``old`` are the new and previous facility waveforms at waveform times ``phase`` and
    ``old_phase``; ``grid`` is the import (the tie's room is [−grid, grid_cap − grid])."""
    span = delay
    command = load.pieces(phase, span)
    if path is not None and early:
        # the dispatch may move within the battery's delay (a fast ramp): follow it
        cuts = sorted({0.0, span, *path.structural_cuts(span)})
        supplied = [(b - a, path.at(a), (path.at(b) - path.at(a)) / (b - a))
                    for a, b in itertools.pairwise(cuts) if b > a]
    else:
        supplied = [(span, supply, 0.0)]
    command = [(h, vl - vs, sl - ss) for h, vl, sl, vs, ss in merge(command, supplied)]
    before = clamp(old.pieces(old_phase - span, span, old_supply), -old_pc, old_pd)
    out = []
    lo_t, hi_t = -grid, grid_cap - grid
    for h, vc, sc, vb, sb in merge(command, before):
        w = [(h, vc - vb, sc - sb)]
        if grid_cap > 0:
            # one merge cuts both at the same breaks (slivers under 1e-12 s dropped alike)
            w = [(hh, v - kv, sl - ks) for hh, v, sl, kv, ks in merge(w, clamp(w, lo_t, hi_t))]
        out += w
    return out


def solve_transient(modes: LinearModes, prot: Protection, ripple: Pwl | None, phase: float,
                    f_e: float, z0: tuple[float, float], window: Pieces, drift: Pieces,
                    horizon: float, y_lo: float, y_hi: float) -> Transient:
    """The transient from z0 = (Δf Hz, y W) relative to the equilibrium f_e (Hz): first the
    ``window`` input, then the ripple from waveform time ``phase`` period by period until
    the orbit is reached (``ripple`` None: a constant input, plus ``drift`` when the dispatch
    moves, in one solution up to the horizon). y_lo/y_hi bound the governor (W)."""
    limit = min(horizon, TRANSIENT_MAX_S)
    span = sum(h for h, _, _ in window)
    if ripple is None:  # no ripple: one solution to the horizon
        pieces = list(window)
        if drift:  # the dispatch catching up moves the load left on the generators
            limit = min(horizon, max(limit, sum(h for h, _, _ in drift)))
            t = span
            for h, v, sl in drift:
                a, b = max(t, span), min(t + h, limit)
                if b > a:
                    pieces.append((b - a, v + sl * (a - t), sl))
                t += h
            if limit > t:
                last = drift[-1]
                pieces.append((limit - t, last[1] + last[2] * last[0], 0.0))
        elif limit > span:
            pieces.append((limit - span, 0.0, 0.0))
        sol = integrate(modes, *z0, pieces, y_lo, y_hi)
        settled = sol.end
    else:
        if drift:
            limit = min(horizon, max(limit, sum(h for h, _, _ in drift)))
        sol, settled = _periods(modes, ripple, phase, z0, window, span, limit, y_lo, y_hi,
                                drift)
    lo, hi = sol.extrema()
    ys = [v for _, a in sol.arcs for v in (a.y0, a.y(a.h))]
    trip = band_trip(sol, f_e, prot, sol.end) if (
        lo + f_e < prot.band_lo or hi + f_e > prot.band_hi) else None
    tr = Transient(sol, settled, trip, lo, hi, y_low=min(ys, default=0.0) - YPAD,
                   y_high=max(ys, default=0.0) + YPAD)
    if lo + f_e < prot.normal_lo or hi + f_e > prot.normal_hi:
        tr.excursion = excursion_time(sol, f_e, prot, sol.end)
    if trip is None and (hi - lo) / prot.rocof_window > prot.rocof_limit:
        ts, g = tr.rocof_series(prot.rocof_window)
        over = np.nonzero(g > prot.rocof_limit)[0]
        if len(over):
            tr.trip = (float(ts[over[0]]), "rocof")
    return tr


def _periods(modes: LinearModes, ripple: Pwl, phase: float, z0: tuple[float, float],
             window: Pieces, span: float, limit: float, y_lo: float, y_hi: float,
             drift: Pieces) -> tuple[Solution, float]:
    """Period by period until the period map repeats, and not before the dispatch's move
    (``drift``, added to the ripple) has ended: (the solution, when it settled in s)."""
    T = ripple.period
    drift_end = sum(h for h, _, _ in drift)
    f, y = z0
    arcs: list = []
    t = 0.0
    settled = math.inf
    first = True
    while limit - t > 1e-9:
        head = list(window) if first else []
        done = span if first else 0.0
        chunk = head + ripple.pieces(phase + t + done, min(T, limit - t - done))
        if not chunk:
            break
        if drift:
            length = sum(h for h, _, _ in chunk)
            chunk = [(h, va + vb, sa + sb) for h, va, sa, vb, sb in
                     merge(chunk, window_of(drift, t, length))]
        part = integrate(modes, f, y, chunk, y_lo, y_hi)
        arcs += [(t0 + t, a) for t0, a in part.arcs]
        t += part.end
        f_prev, y_prev = f, y
        f, y = part.state(part.end)
        if not first and t >= drift_end and abs(f - f_prev) < SETTLE_F and \
                abs(y - y_prev) < SETTLE_F * modes.p.k:
            settled = t  # the period map has reached its fixed point: the orbit
            break
        first = False
    return Solution(arcs, t), settled if math.isfinite(settled) else t


def truncated_extrema(sol: Solution, t: float) -> tuple[float, float]:
    """(min Δf, max Δf) of the solution over [0, t] (Hz)."""
    lo, hi = math.inf, -math.inf
    for t0, arc in sol.arcs:
        if t0 >= t:
            break
        h = arc.h
        arc.h = min(h, t - t0)
        for v in arc_extreme_values(arc):
            lo, hi = min(lo, v), max(hi, v)
        arc.h = h
    return (lo, hi) if math.isfinite(lo) else (0.0, 0.0)
