"""The battery's state of charge under the settled, SoC-restoring dispatch: exact solution.

Once the grid and the generators have settled, the supply follows the stored energy E (J):
S(E) = clamp(L̄ + (E_t − E)/τ_soc, Σ_lo, Σ_hi), and

    dE/dt = q(E) = η·c(S(E)) − d(S(E))/η                      (W)

with c, d the battery's mean charge and discharge rates (:mod:`simulator.power.battery`).
Between the levels of E where S crosses a rate kink or a clamp, q is one quadratic in E. With
u = E − E(0) and q = b0 + b1·u + b2·u², the solution of u' = q(u), u(0) = 0, is

* b2 = 0:  u = (b0/b1)(e^{b1·t} − 1)  (u = b0·t when b1 = 0);
* Δ = b1² − 4·b0·b2 > 0, roots ρ1, ρ2:  u = (ρ2 − ρ1·v)/(1 − v), v = (ρ2/ρ1)·e^{b2(ρ2−ρ1)t},
  ∫u dt = ρ2·t − ln|(1 − v)/(1 − v(0))| / b2;
* Δ = 0, double root ρ:  u = ρ − 1/(b2·t − 1/ρ);
* Δ < 0, ω = √−Δ / 2:  u = −b1/(2·b2) + (ω/b2)·tan(ω·t + θ0),  ∫u dt via ln|cos|;

and ∫u² dt = (u(t) − b0·t − b1·∫u dt)/b2 follows from the equation itself. Every time to
reach the next level is the inverse of these. The discharge and charge integrals, being
quadratic in u on each piece, follow from ∫u and ∫u².
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from typing import NamedTuple

from simulator.power.battery import kinks, rates
from simulator.power.load import Trapezoid


class LoopResult(NamedTuple):
    """The settled phase of one segment.

    Attributes:
        energy_j: stored energy at the end (J).
        discharge_j, charge_j: ∫ discharge and charge power dt (J).
        limit_at_s: first time (s from the phase start) E reached e_min or e_max, or None.
        at_limit_s: time spent held at a limit (s).
    """

    energy_j: float
    discharge_j: float
    charge_j: float
    limit_at_s: float | None
    at_limit_s: float


class Loop(NamedTuple):
    """Parameters of the settled loop (SI); a named tuple, built once per segment."""

    load: Trapezoid
    pb: float
    eta: float
    e_target: float
    tau_soc: float
    s_lo: float
    s_hi: float
    e_min: float
    e_max: float

    def supply(self, e: float) -> float:
        return min(max(self.load.mean + (self.e_target - e) / self.tau_soc, self.s_lo), self.s_hi)

    def dedt(self, e: float) -> float:
        d, c = rates(self.load, self.supply(e), self.pb)
        return self.eta * c - d / self.eta

    def breakpoints(self) -> list[float]:
        """Levels of E where q(E) changes formula, within (e_min, e_max)."""
        levels = [*kinks(self.load, self.pb), *(x for x in (self.s_lo, self.s_hi)
                                                 if math.isfinite(x))]
        out = {self.e_target + self.tau_soc * (self.load.mean - k) for k in levels}
        return sorted(e for e in out if self.e_min < e < self.e_max)


def _quad(fn, u_a: float, u_b: float, e0: float) -> tuple[float, float, float]:
    """Coefficients of the quadratic through fn at three points of [u_a, u_b] (u = E − e0)."""
    u_m = 0.5 * (u_a + u_b)
    ya, ym, yb = fn(e0 + u_a), fn(e0 + u_m), fn(e0 + u_b)
    h = 0.5 * (u_b - u_a)
    if h == 0:
        return ym, 0.0, 0.0
    b = (yb - ya) / (2 * h)
    q = (yb - 2 * ym + ya) / (2 * h * h)
    # re-centre from u_m to 0
    return ym - b * u_m + q * u_m * u_m, b - 2 * q * u_m, q


def _solve(b0: float, b1: float, b2: float, u_end: float, t_max: float
           ) -> tuple[float, float, float, float]:
    """Solve u' = b0 + b1·u + b2·u² from u = 0 until u reaches u_end or t_max.

    Returns (t, u(t), ∫u dt, ∫u² dt).
    """
    span = abs(u_end)
    linear = b2 == 0.0 or abs(b2) * span * span <= 1e-9 * (abs(b0) + abs(b1) * span)
    if linear:
        if b1 == 0.0 or abs(b1) * t_max < 1e-12:
            t = u_end / b0 if b0 != 0 and u_end / b0 > 0 else math.inf
            t = min(t, t_max)
            u = b0 * t + 0.5 * b0 * b1 * t * t
            return t, u, b0 * t * t / 2, b0 * b0 * t**3 / 3
        arg = 1 + b1 * u_end / b0
        t = math.log(arg) / b1 if arg > 0 else math.inf
        t = min(t if t > 0 else math.inf, t_max)
        e = math.expm1(b1 * t)
        a = b0 / b1
        iu = a * (e / b1 - t)
        iu2 = a * a * ((math.expm1(2 * b1 * t)) / (2 * b1) - 2 * e / b1 + t)
        return t, a * e, iu, iu2
    disc = b1 * b1 - 4 * b0 * b2
    if disc > 0:
        sq = math.sqrt(disc)
        qq = -0.5 * (b1 + math.copysign(sq, b1))
        r1, r2 = qq / b2, b0 / qq  # the two roots, either order
        k = r2 / r1
        lam = b2 * (r2 - r1)
        vb = (u_end - r2) / (u_end - r1) if u_end != r1 else math.inf
        ratio = vb / k if k != 0 else -1.0
        t = math.log(ratio) / lam if ratio > 0 and lam != 0 else math.inf
        t = min(t if t > 0 else math.inf, t_max)
        v = k * math.exp(lam * t)
        u = (r2 - r1 * v) / (1 - v)
        iu = r2 * t - math.log(abs((1 - v) / (1 - k))) / b2
    elif disc == 0:
        rho = -b1 / (2 * b2)
        c = -1.0 / rho
        t = (1.0 / (rho - u_end) - c) / b2 if u_end != rho else math.inf
        t = min(t if t > 0 else math.inf, t_max)
        u = rho - 1.0 / (b2 * t + c)
        iu = rho * t - math.log(abs((b2 * t + c) / c)) / b2
    else:
        om = math.sqrt(-disc) / 2
        th0 = math.atan(b1 / (2 * om))
        thb = math.atan((2 * b2 * u_end + b1) / (2 * om))
        t = (thb - th0) / om
        t = min(t if t > 0 else math.inf, t_max)
        u = -b1 / (2 * b2) + om / b2 * math.tan(om * t + th0)
        iu = -b1 * t / (2 * b2) - math.log(abs(math.cos(om * t + th0) / math.cos(th0))) / b2
    iu2 = (u - b0 * t - b1 * iu) / b2
    return t, u, iu, iu2


@functools.lru_cache(maxsize=256)
def _tables(loop: Loop) -> tuple[list[float], list[tuple[float, tuple, tuple, tuple]]]:
    """Marks in E and, per interval, (midpoint, q, d, c) as quadratics in E − midpoint."""
    marks = [loop.e_min, *loop.breakpoints(), loop.e_max]
    fd = lambda x: rates(loop.load, loop.supply(x), loop.pb)[0]  # noqa: E731
    fc = lambda x: rates(loop.load, loop.supply(x), loop.pb)[1]  # noqa: E731
    rows = []
    for a, b in itertools.pairwise(marks):
        mid = 0.5 * (a + b)
        half = 0.5 * (b - a)
        rows.append((mid, _quad(loop.dedt, -half, half, mid), _quad(fd, -half, half, mid),
                     _quad(fc, -half, half, mid)))
    return marks, rows


def _shift(coef: tuple[float, float, float], delta: float) -> tuple[float, float, float]:
    """A quadratic in x re-expressed in u = x − delta."""
    a0, a1, a2 = coef
    return a0 + a1 * delta + a2 * delta * delta, a1 + 2 * a2 * delta, a2


def _shape(loop: Loop) -> Loop:
    """The loop with the load moved to a zero low level (the supply moves with it, so the
    rates do not change) and no clamps: one table serves every load of the same shape."""
    src = loop.load
    load = Trapezoid(0.0, round(src.high - src.low), src.t_high, src.t_edge, src.period) \
        if not src.is_constant else Trapezoid.constant(0.0)
    return Loop(load, loop.pb, loop.eta, loop.e_target, loop.tau_soc, -math.inf, math.inf,
                loop.e_min, loop.e_max)


_BASES: dict[tuple, tuple] = {}


def _based(loop: Loop) -> tuple[Loop, list[float], list[tuple[float, tuple, tuple, tuple]]]:
    """:func:`_shape` and its :func:`_tables`, looked up by the load's shape (every segment of
    a run asks, for a handful of shapes)."""
    src = loop.load
    swing = 0 if src.is_constant else round(src.high - src.low)  # as _shape rounds it
    key = (src.is_constant, swing, src.t_high, src.t_edge, src.period, loop.pb, loop.eta,
           loop.e_target, loop.tau_soc, loop.e_min, loop.e_max)
    got = _BASES.get(key)
    if got is None:
        if len(_BASES) > 256:
            _BASES.clear()
        base = _shape(loop)
        got = _BASES[key] = (base, *_tables(base))
    return got


def settle(loop: Loop, e0: float, duration: float) -> LoopResult:
    """Advance the settled loop from energy e0 (J) for ``duration`` s."""
    base, marks0, rows = _based(loop)
    low = loop.load.low
    s_lo, s_hi = loop.s_lo - low, loop.s_hi - low
    # the supply S(E) = L̄ + (E_t − E)/τ meets its clamps at these energies
    e_hi_clamp = base.e_target + base.tau_soc * (base.load.mean - s_hi)  # below: S = s_hi
    e_lo_clamp = base.e_target + base.tau_soc * (base.load.mean - s_lo)  # above: S = s_lo
    clamps = {x for x in (e_hi_clamp, e_lo_clamp) if loop.e_min < x < loop.e_max}
    marks = sorted({*marks0, *clamps})
    flat: dict[float, tuple] = {}

    def region(e: float) -> tuple[float, tuple, tuple, tuple]:
        """(midpoint, q, d, c) quadratics in E − midpoint for the piece containing e."""
        if e < e_hi_clamp or e > e_lo_clamp:
            s = s_hi if e < e_hi_clamp else s_lo
            got = flat.get(s)
            if got is None:
                d, c = rates(base.load, s, base.pb)
                got = flat[s] = ((base.eta * c - d / base.eta, 0.0, 0.0), (d, 0.0, 0.0),
                                 (c, 0.0, 0.0))
            return (e, *got)
        k = min(max(bisect.bisect_right(marks0, e) - 1, 0), len(rows) - 1)
        return rows[k]

    e, t = min(max(e0, loop.e_min), loop.e_max), 0.0
    dis = chg = 0.0
    limit_at: float | None = None
    held = 0.0
    while duration - t > 1e-9:
        mid, qc, dc, cc = region(e)
        q0 = _shift(qc, e - mid)[0]
        at_min, at_max = e <= loop.e_min and q0 < 0, e >= loop.e_max and q0 > 0
        if at_min or at_max or abs(q0) < 1e-3:
            # at a limit the battery holds; at an equilibrium it stays
            rest = duration - t
            if at_min or at_max:
                held += rest
                if limit_at is None:
                    limit_at = t
            else:
                dis += _shift(dc, e - mid)[0] * rest
                chg += _shift(cc, e - mid)[0] * rest
            break
        if q0 > 0:
            e_end = next((m for m in marks if m > e + 1e-6), loop.e_max)
        else:
            e_end = next((m for m in reversed(marks) if m < e - 1e-6), loop.e_min)
        mid, qc, dc, cc = region(0.5 * (e + e_end))
        b0, b1, b2 = _shift(qc, e - mid)
        u_end = e_end - e
        step, u, iu, iu2 = _solve(b0, b1, b2, u_end, duration - t)
        d0, d1, d2 = _shift(dc, e - mid)
        c0, c1, c2 = _shift(cc, e - mid)
        dis += d0 * step + d1 * iu + d2 * iu2
        chg += c0 * step + c1 * iu + c2 * iu2
        reached = step < duration - t - 1e-9
        e = e_end if reached and math.isfinite(step) else e + u
        t += step
        if reached and e_end in (loop.e_min, loop.e_max) and limit_at is None:
            limit_at = t
    return LoopResult(e, max(dis, 0.0), max(chg, 0.0), limit_at, held)
