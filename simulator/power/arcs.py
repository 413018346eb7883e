"""Exact piecewise solution of the bus-frequency equations (swing equation + governor).

State z = (Δf, y): the bus frequency deviation Δf (Hz) and the governor's droop response y
(W, the generators' mechanical power above their dispatch). Input w(t) (W): the electrical
load on the generators above their dispatch, piecewise linear in time. With M = 2·H·S/f0
(J/Hz = W·s/Hz), load damping D (W/Hz), droop gain k = S/(R·f0) (W/Hz), governor time
constant T_g (s) and governor rate limit r (W/s):

    M·dΔf/dt = y − w(t) − D·Δf                            (swing equation)
    dy/dt    = clamp((−k·Δf − y)/T_g, −r, r),  y ∈ [y_lo, y_hi]   (rate-limited governor)

The demand d = (−k·Δf − y)/T_g decides the regime. Within each regime the equations are
linear with a piecewise-linear input, so every arc has a closed form:

* linear (|d| < r): z' = A·z + B·w, A = [[−D/M, 1/M], [−k/T_g, −1/T_g]], B = [−1/M, 0];
  z(t) = z_p(t) + e^{At}(z(0) − z_p(0)) with the particular solution z_p(t) = p0 + p1·t for
  w = a + b·t, and e^{At} from the eigenvalues λ1,2 of A (real or complex; Re λ < 0);
* saturated (d beyond ±r): y = y0 ± r·t, and M·Δf' + D·Δf = y − w is first order:
  Δf = f0 + [(y0 − a)·t + (±r − b)·t²/2]/M when D = 0, else α0 + α1·t + (f0 − α0)·e^{−D·t/M};
* at a headroom bound (the generators at their capacity or minimum): y constant, Δf as above.

Regime changes are found as the first root of d ∓ r, d, or y − bound on each arc (closed form
for the polynomial arcs, a bracketed search on the exponential ones; the chaining is in
:mod:`simulator.power.arcsolve`), so the solution is exact to the root tolerance and its cost
grows with the number of arcs, never with time / dt.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np

ROOT_TOL = 1e-9  # s
LINEAR, SAT_UP, SAT_DOWN, AT_HI, AT_LO = 0, 1, -1, 2, -2


@dataclass(frozen=True)
class FrequencyParams:
    """Aggregate generator/governor parameters (SI).

    Attributes:
        m: 2·H·S/f0, inertia (W·s/Hz).
        d: load damping (W/Hz).
        k: droop gain S/(R·f0) (W/Hz).
        tg: governor time constant (s), > 0.
        rate: governor rate limit (W/s).
        f0: nominal frequency (Hz).
    """

    m: float
    d: float
    k: float
    tg: float
    rate: float
    f0: float

    @staticmethod
    def of(capacity_w: float, inertia_s: float, droop: float, governor_s: float, rate_w_s: float,
           f0: float = 60.0, damping: float = 0.0) -> FrequencyParams:
        """From datasheet quantities: H (s) and droop R (pu) on the rating S (W); ``damping``
        in pu power per pu frequency on the same rating."""
        return FrequencyParams(m=2.0 * inertia_s * capacity_w / f0, d=damping * capacity_w / f0,
                               k=capacity_w / (droop * f0), tg=governor_s, rate=rate_w_s, f0=f0)


class LinearModes:
    """Eigen-structure of the linear regime: e^{At} = P1·e^{λ1 t} + P2·e^{λ2 t}."""

    def __init__(self, p: FrequencyParams):
        a11, a12 = -p.d / p.m, 1.0 / p.m
        a21, a22 = -p.k / p.tg, -1.0 / p.tg
        tr, det = a11 + a22, a11 * a22 - a12 * a21
        disc = tr * tr - 4 * det
        if abs(disc) < 1e-12 * tr * tr:  # critically damped: nudge apart
            disc = -1e-12 * tr * tr
        root = cmath.sqrt(disc)
        self.l1, self.l2 = (tr + root) / 2, (tr - root) / 2
        self.a = (a11, a12, a21, a22)
        self.det = det
        self.p = p

    def project(self, cf: float, cy: float) -> tuple[complex, complex, complex, complex]:
        """Modal coefficients: f_h(t) = Re(αf1 e^{λ1 t} + αf2 e^{λ2 t}), same for y."""
        a11, a12, a21, a22 = self.a
        l1, l2 = self.l1, self.l2
        den = l1 - l2
        # P1 = (A − λ2 I)/(λ1 − λ2), P2 = (A − λ1 I)/(λ2 − λ1)
        f1 = ((a11 - l2) * cf + a12 * cy) / den
        y1 = (a21 * cf + (a22 - l2) * cy) / den
        f2 = ((a11 - l1) * cf + a12 * cy) / -den
        y2 = (a21 * cf + (a22 - l1) * cy) / -den
        return f1, f2, y1, y2

    def equilibrium(self, w: float) -> tuple[float, float]:
        """(Δf, y) at rest under a constant input w."""
        p = self.p
        f = -w / (p.k + p.d)
        return f, -p.k * f


class Arc:
    """One arc of the solution: a regime and an input w = a + b·τ for τ in [0, h]."""

    __slots__ = ("a", "b", "c", "f0", "h", "kind", "modes", "y0", "ybound")

    def __init__(self, kind: int, f0: float, y0: float, a: float, b: float, modes: LinearModes):
        self.kind, self.f0, self.y0, self.a, self.b, self.modes = kind, f0, y0, a, b, modes
        self.h = 0.0
        p = modes.p
        if kind == LINEAR:
            # particular solution p0 + p1·τ: p1 = equilibrium of b, p0 = A⁻¹·p1 + equilibrium of a
            e1f, e1y = modes.equilibrium(b)
            a11, a12, a21, a22 = modes.a
            inv = 1.0 / modes.det
            p0f = inv * (a22 * e1f - a12 * e1y)
            p0y = inv * (-a21 * e1f + a11 * e1y)
            eaf, eay = modes.equilibrium(a)
            p0f += eaf
            p0y += eay
            self.c = (p0f, p0y, e1f, e1y, *modes.project(f0 - p0f, y0 - p0y))
        else:
            slope = p.rate if kind == SAT_UP else -p.rate if kind == SAT_DOWN else 0.0
            self.ybound = slope
            # M·f' + D·f = (y0 − a) + (slope − b)·τ
            c0, c1 = y0 - a, slope - b
            if p.d > 0:
                beta = p.d / p.m
                al1 = c1 / p.d
                al0 = c0 / p.d - c1 * p.m / (p.d * p.d)
                self.c = (c0, c1, beta, al0, al1)
            else:
                self.c = (c0, c1, 0.0, 0.0, 0.0)

    # -- values -------------------------------------------------------------------------------
    def f(self, t: float) -> float:
        """Δf (Hz) at time t of the arc (s)."""
        return self._f(t, cmath.exp, math.exp)

    def f_many(self, t: np.ndarray) -> np.ndarray:
        """Δf at many times of the arc (vectorised)."""
        return self._f(t, np.exp, np.exp)

    def _f(self, t, cexp, rexp):  # scalars with cmath/math (fast), arrays with numpy
        if self.kind == LINEAR:
            p0f, _, p1f, _, f1, f2, _, _ = self.c
            m = self.modes
            return p0f + p1f * t + (f1 * cexp(m.l1 * t) + f2 * cexp(m.l2 * t)).real
        c0, c1, beta, al0, al1 = self.c
        if beta == 0.0:
            return self.f0 + (c0 * t + c1 * t * t / 2) / self.modes.p.m
        return al0 + al1 * t + (self.f0 - al0) * rexp(-beta * t)

    def y(self, t: float) -> float:
        if self.kind == LINEAR:
            _, p0y, _, p1y, _, _, y1, y2 = self.c
            m = self.modes
            return p0y + p1y * t + (y1 * cmath.exp(m.l1 * t) + y2 * cmath.exp(m.l2 * t)).real
        return self.y0 + self.ybound * t

    def y_many(self, t: np.ndarray) -> np.ndarray:
        """Governor power y (W) at many times of the arc (vectorised)."""
        if self.kind == LINEAR:
            _, p0y, _, p1y, _, _, y1, y2 = self.c
            m = self.modes
            return p0y + p1y * t + (y1 * np.exp(m.l1 * t) + y2 * np.exp(m.l2 * t)).real
        return self.y0 + self.ybound * t

    def fp(self, t: float) -> float:
        """dΔf/dt (Hz/s)."""
        p = self.modes.p
        f, y = self.state(t)
        return (y - self.a - self.b * t - p.d * f) / p.m

    def demand(self, t: float) -> float:
        p = self.modes.p
        f, y = self.state(t)
        return (-p.k * f - y) / p.tg

    def state(self, t: float) -> tuple[float, float]:
        if self.kind == LINEAR:  # f and y share their two exponentials: computed once
            return self._linear_state(t)
        return self.f(t), self.y(t)

    def _linear_state(self, t: float) -> tuple[float, float]:
        """(f, y) of a linear arc: the arithmetic of :meth:`f` and :meth:`y`, one exp each."""
        p0f, p0y, p1f, p1y, f1, f2, y1, y2 = self.c
        m = self.modes
        e1, e2 = cmath.exp(m.l1 * t), cmath.exp(m.l2 * t)
        return p0f + p1f * t + (f1 * e1 + f2 * e2).real, p0y + p1y * t + (y1 * e1 + y2 * e2).real

    # -- roots --------------------------------------------------------------------------------
    def _scale(self) -> float:
        """A time step (s) small enough that a root of the arc's functions is not skipped."""
        m = self.modes
        if self.kind == LINEAR:
            return 0.25 / max(abs(m.l1), abs(m.l2))
        p = m.p
        return 0.25 * p.m / p.d if p.d > 0 else math.inf

    def first_root(self, g, horizon: float, quad: tuple[float, float, float] | None = None) -> float:
        """First τ in (0, horizon] where g changes sign (g(0) taken as its sign just after 0);
        ``quad`` = (q0, q1, q2): g is exactly q0 + q1·τ + q2·τ² (closed form)."""
        if quad is not None:
            return _first_quadratic_root(*quad, horizon)
        step = min(self._scale(), horizon)
        g0 = g(1e-12)
        t0 = 0.0
        while t0 < horizon:
            t1 = min(t0 + step, horizon)
            g1 = g(t1)
            if g0 == 0.0 or ((g1 > 0) != (g0 > 0) and g1 != 0.0):
                return _bisect(g, t0, t1, g0)
            if g1 == 0.0:
                return t1
            t0, g0 = t1, g1
        return math.inf


def modal_root(b1: complex, b2: complex, l1: complex, l2: complex, const: float,
                horizon: float) -> float:
    """First τ in (0, horizon] where g(τ) = Re(b1·e^{λ1τ} + b2·e^{λ2τ}) + const changes sign.

    g's stationary points are in closed form (where cos(ωτ + φ) = 0 for a complex pair, one
    logarithm for real modes), g is monotone between them, and once the modes' envelope is
    below |const| no root is left: the root is bracketed and bisected."""
    def g(t: float) -> float:
        return (b1 * cmath.exp(l1 * t) + b2 * cmath.exp(l2 * t)).real + const

    points = [0.0]
    if l1.imag != 0.0:
        lam, beta = (l1, b1) if l1.imag > 0 else (l2, b2)
        sigma, omega = lam.real, lam.imag
        gamma = beta * lam  # g' = 2·Re(γ·e^{λτ}) = 2·|γ|·e^{στ}·cos(ωτ + arg γ)
        phi = math.atan2(gamma.imag, gamma.real)
        amp = 2 * abs(beta)
        k = math.ceil((phi - math.pi / 2) / math.pi + 1e-12)
        while True:
            t = (math.pi / 2 - phi + k * math.pi) / omega
            if t >= horizon:
                break
            if t > 0:
                points.append(t)
                if amp * math.exp(sigma * t) < abs(const):
                    break  # the modes can no longer reach the level
            k += 1
    else:
        g1, g2 = (b1 * l1).real, (b2 * l2).real
        if g1 != 0 and -g2 / g1 > 0 and l1.real != l2.real:
            t = math.log(-g2 / g1) / (l1.real - l2.real)
            if 0 < t < horizon:
                points.append(t)
    points.append(horizon)
    g_prev = g(1e-12)
    t_prev = 0.0
    for t in points[1:]:
        gt = g(t)
        if (gt > 0) != (g_prev > 0) or gt == 0.0:
            return _bisect(g, t_prev, t, g_prev)
        t_prev, g_prev = t, gt
    return math.inf


def _first_quadratic_root(q0: float, q1: float, q2: float, horizon: float) -> float:
    """First τ in (0, horizon] where q0 + q1·τ + q2·τ² crosses zero (changes sign)."""
    roots: list[float] = []
    if abs(q2) < 1e-300:
        if q1 != 0:
            roots = [-q0 / q1]
    else:
        disc = q1 * q1 - 4 * q2 * q0
        if disc >= 0:
            s = math.sqrt(disc)
            # numerically stable pair
            q = -0.5 * (q1 + math.copysign(s, q1))
            roots = [q / q2, q0 / q] if q != 0 else [0.0]
    best = math.inf
    for r in roots:
        if ROOT_TOL < r <= horizon and r < best:
            mid = r * (1 - 1e-9)
            # a sign change, not a tangency
            after = q0 + q1 * (r * (1 + 1e-9) + 1e-12) + q2 * (r * (1 + 1e-9) + 1e-12) ** 2
            before = q0 + q1 * mid + q2 * mid * mid
            if (before > 0) != (after > 0) or before == 0:
                best = r
    return best


def _bisect(g, lo: float, hi: float, glo: float) -> float:
    for _ in range(80):
        if hi - lo <= ROOT_TOL:
            break
        mid = 0.5 * (lo + hi)
        gm = g(mid)
        if (gm > 0) == (glo > 0) and gm != 0.0:
            lo, glo = mid, gm
        else:
            hi = mid
    return hi


# -- integration ----------------------------------------------------------------------------------
