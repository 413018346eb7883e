"""The solution of the bus-frequency equations over a piecewise-linear input: the regime of
each arc, when it ends, and the chain of arcs (:class:`Solution`).

The equations, their regimes and each arc's closed form are in :mod:`simulator.power.arcs`.
Here: :func:`classify` picks the regime from the state (the governor's demand
d = (−k·Δf − y)/T_g against its rate limit r, and y against its headroom bounds),
:func:`integrate` chains arcs across the input's pieces, cutting an arc at the first root of
d ∓ r, d or y − bound (exact to the root tolerance), and :func:`arc_extreme_values` gives the
extremes of Δf on an arc from its stationary points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.power.arcs import (
    AT_HI,
    AT_LO,
    LINEAR,
    ROOT_TOL,
    SAT_DOWN,
    SAT_UP,
    Arc,
    LinearModes,
    modal_root,
)

_EPS_D_REL = 1e-9
_EPS_Y = 1e-3  # W: at a headroom bound


def classify(modes: LinearModes, f: float, y: float, w: float, y_lo: float, y_hi: float) -> int:
    """The regime at state (f, y) under input w (its value just after the current instant)."""
    p = modes.p
    d = (-p.k * f - y) / p.tg
    eps_d = _EPS_D_REL * max(p.rate, 1.0)
    if y <= y_lo + _EPS_Y and d <= eps_d:
        return AT_LO
    if y >= y_hi - _EPS_Y and d >= -eps_d:
        return AT_HI
    if d > p.rate + eps_d:
        return SAT_UP
    if d < -p.rate - eps_d:
        return SAT_DOWN
    if abs(abs(d) - p.rate) <= eps_d:
        # on the boundary: where would the linear demand go next?
        fp = (y - w - p.d * f) / p.m
        dd = (-p.k * fp - d) / p.tg
        if d > 0 and dd > 0:
            return SAT_UP
        if d < 0 and dd < 0:
            return SAT_DOWN
    return LINEAR


def _exit_time(arc: Arc, horizon: float, y_lo: float, y_hi: float) -> float:
    """Time until the arc's regime ends (inf if not within ``horizon``)."""
    p = arc.modes.p
    kind = arc.kind
    if kind == LINEAR:
        c = arc.c
        p0f, p0y, p1f, p1y, f1, f2, y1, y2 = c
        # envelope test: |d − d_p| and |y − y_p| never exceed their modal amplitudes
        amp_d = (p.k * (abs(f1) + abs(f2)) + abs(y1) + abs(y2)) / p.tg
        dp0 = (-p.k * p0f - p0y) / p.tg
        dp1 = dp0 + (-p.k * p1f - p1y) / p.tg * horizon
        amp_y = abs(y1) + abs(y2)
        yp_hi = max(p0y, p0y + p1y * horizon)
        yp_lo = min(p0y, p0y + p1y * horizon)
        # the modal part decays as e^{σt}: beyond the time its envelope cannot bridge the gap
        # to a boundary, no root can lie
        sigma = max(arc.modes.l1.real, arc.modes.l2.real)

        def reach(amp: float, gap: float) -> float:
            if gap <= 0:
                return horizon
            return min(horizon, math.log(amp / gap) / -sigma) if amp > gap else 0.0

        best = math.inf
        d_far = max(abs(dp0), abs(dp1))
        constant = p1f == 0.0 and p1y == 0.0  # a constant input: roots in closed form
        l1, l2 = arc.modes.l1, arc.modes.l2
        bd1, bd2 = (-p.k * f1 - y1) / p.tg, (-p.k * f2 - y2) / p.tg
        if d_far + amp_d >= p.rate:
            span = reach(amp_d, p.rate - d_far)
            if span > 0:
                for level in (p.rate, -p.rate):
                    r = modal_root(bd1, bd2, l1, l2, dp0 - level, span) if constant else \
                        arc.first_root(lambda t, lv=level: arc.demand(t) - lv, span)
                    best = min(best, r)
        for bound, room in ((y_hi, y_hi - yp_hi), (y_lo, yp_lo - y_lo)):
            if room - amp_y <= 0:
                span = reach(amp_y, room)
                if span > 0:
                    r = modal_root(y1, y2, l1, l2, p0y - bound, span) if constant else \
                        arc.first_root(lambda t, b=bound: arc.y(t) - b, span)
                    best = min(best, r)
        return best
    k, tg, m = p.k, p.tg, p.m
    slope = arc.ybound
    c0, c1, beta, _, _ = arc.c
    d0 = (-k * arc.f0 - arc.y0) / tg
    quad = None
    if beta == 0.0:
        # d(τ) = d0 + (−k·c0/M − slope)/T_g·τ − k·c1/(2M·T_g)·τ²
        quad = (d0, (-k * c0 / m - slope) / tg, -k * c1 / (2 * m * tg))
    best = math.inf
    if kind == SAT_UP:
        q = (quad[0] - p.rate, quad[1], quad[2]) if quad else None
        best = arc.first_root(lambda t: arc.demand(t) - p.rate, horizon, q)
        if slope > 0 and y_hi < math.inf:
            best = min(best, (y_hi - arc.y0) / slope if y_hi > arc.y0 else 0.0)
    elif kind == SAT_DOWN:
        q = (quad[0] + p.rate, quad[1], quad[2]) if quad else None
        best = arc.first_root(lambda t: arc.demand(t) + p.rate, horizon, q)
        if slope < 0 and y_lo > -math.inf:
            best = min(best, (y_lo - arc.y0) / slope if y_lo < arc.y0 else 0.0)
    else:  # at a bound: leave when the governor's demand turns back (with a margin)
        margin = 2 * _EPS_D_REL * max(p.rate, 1.0) * (1 if kind == AT_LO else -1)
        q = (quad[0] - margin, quad[1], quad[2]) if quad else None
        best = arc.first_root(lambda t: arc.demand(t) - margin, horizon, q)
    return best if best <= horizon else math.inf


@dataclass
class Solution:
    """Δf(t) and y(t) over [0, end] as consecutive arcs (t_start, arc); arc.h is its length."""

    arcs: list[tuple[float, Arc]]
    end: float

    def _arc(self, t: float) -> tuple[float, Arc]:
        lo, hi = 0, len(self.arcs) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.arcs[mid][0] <= t:
                lo = mid
            else:
                hi = mid - 1
        return self.arcs[lo]

    def f(self, t: float) -> float:
        t0, arc = self._arc(t)
        return arc.f(t - t0)

    def state(self, t: float) -> tuple[float, float]:
        t0, arc = self._arc(t)
        return arc.state(t - t0)

    def sample(self, dt: float, upto: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, Δf) on a regular grid of step ≈ dt over [0, upto] (vectorised per arc)."""
        end = self.end if upto is None else min(upto, self.end)
        n = max(2, int(end / dt) + 1)
        t = np.linspace(0.0, end, n)
        return t, self.values(t)

    def values(self, t: np.ndarray) -> np.ndarray:
        """Δf at the given times (vectorised per arc)."""
        return self.states(t, with_y=False)[0]

    def states(self, t: np.ndarray, with_y: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(Δf in Hz, governor power y in W) at the given times (vectorised per arc)."""
        out = np.empty(len(t))
        ys = np.empty(len(t) if with_y else 0)
        starts = np.array([a[0] for a in self.arcs])
        idx = np.searchsorted(starts, t, side="right") - 1
        idx[idx < 0] = 0
        for k in np.unique(idx):
            sel = idx == k
            t0, arc = self.arcs[k]
            out[sel] = arc.f_many(t[sel] - t0)
            if with_y:
                ys[sel] = arc.y_many(t[sel] - t0)
        return out, ys

    def extrema(self) -> tuple[float, float]:
        """(min Δf, max Δf) over the solution (Hz), exact to the root tolerance."""
        lo, hi = math.inf, -math.inf
        for _, arc in self.arcs:
            for v in arc_extreme_values(arc):
                lo, hi = min(lo, v), max(hi, v)
        return lo, hi


def arc_extreme_values(arc: Arc, tol: float = 1e-7) -> list[float]:
    """Δf at the arc's ends and at its interior stationary points (those whose swing can still
    exceed ``tol`` Hz)."""
    h = arc.h
    vals = [arc.f(0.0), arc.f(h)]
    if h <= 0:
        return vals
    if arc.kind != LINEAR:
        c0, c1, beta, al0, al1 = arc.c
        if beta == 0.0:  # Δf' = (c0 + c1·τ)/M
            if c1 != 0 and 0 < -c0 / c1 < h:
                vals.append(arc.f(-c0 / c1))
        else:  # Δf' = α1 − β(f0 − α0)e^{−βτ}
            k = beta * (arc.f0 - al0)
            if al1 != 0 and k / al1 > 0:
                t = math.log(k / al1) / beta
                if 0 < t < h:
                    vals.append(arc.f(t))
        return vals
    _p0f, _, p1f, _, f1, f2, _, _ = arc.c
    m = arc.modes
    if p1f == 0.0:
        if abs(m.l1.imag) > 0:
            # Δf' = 2·e^{σt}·|g|·cos(ωt + φ), g = αf1·λ1: zeros at ωt + φ = π/2 + kπ
            g = f1 * m.l1
            sigma, omega = m.l1.real, abs(m.l1.imag)
            if m.l1.imag < 0:
                g = g.conjugate()
            phi = math.atan2(g.imag, g.real)
            k = math.ceil((phi - math.pi / 2) / math.pi)
            while True:
                t = (math.pi / 2 - phi + k * math.pi) / omega
                if t >= h or 2 * abs(f1) * math.exp(sigma * t) < tol:
                    break
                if t > 0:
                    vals.append(arc.f(t))
                k += 1
        else:
            g1, g2 = (f1 * m.l1).real, (f2 * m.l2).real
            if g1 != 0 and -g2 / g1 > 0:
                t = math.log(-g2 / g1) / (m.l1.real - m.l2.real)
                if 0 < t < h:
                    vals.append(arc.f(t))
        return vals
    start = 0.0
    for _ in range(64):  # a ramp input (short pieces): search numerically
        if start >= h:
            break
        r = arc.first_root(lambda x, s=start: arc.fp(s + x), h - start)
        if not math.isfinite(r):
            break
        start += r
        vals.append(arc.f(start))
        start += 1e-9
    return vals


def integrate(modes: LinearModes, f0: float, y0: float, pieces: list[tuple[float, float, float]],
              y_lo: float = -math.inf, y_hi: float = math.inf) -> Solution:
    """Solve from (f0, y0) through input pieces (duration s, w at the start W, dw/dt W/s)."""
    arcs: list[tuple[float, Arc]] = []
    t = 0.0
    f, y = f0, y0
    for h, a, b in pieces:
        tau = 0.0
        guard = 0
        while h - tau > ROOT_TOL:
            w = a + b * tau
            kind = classify(modes, f, y, w, y_lo, y_hi)
            if kind == AT_HI:
                y = y_hi
            elif kind == AT_LO:
                y = y_lo
            arc = Arc(kind, f, y, w, b, modes)
            step = _exit_time(arc, h - tau, y_lo, y_hi)
            guard += 1
            if step <= ROOT_TOL and guard > 8:
                # grazing a regime boundary: step past it
                step = min(h - tau, max(1e-6, 1e-4 * (h - tau)))
            step = min(step, h - tau)
            if step > ROOT_TOL:
                guard = 0
            arc.h = step
            arcs.append((t + tau, arc))
            f, y = arc.state(step)
            tau += step
        t += h
    return Solution(arcs, t)
