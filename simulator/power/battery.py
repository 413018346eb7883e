"""The battery against the iteration swing: mean charge and discharge rates, and its energy.

The battery delivers the fast residual b(t) = clamp(L(t) − S, −P_b, P_b) between the facility
load L(t) (a periodic trapezoid, W) and the dispatched supply S (grid + generators, W). Over
an iteration its mean discharge and charge rates are (Trapezoid.above(g) = mean of (L − g)⁺):

    d(S) = above(S) − above(S + P_b),      c(S) = below(S) − below(S − P_b),

piecewise quadratic in S, with kinks where S ± P_b crosses L's low or high level. With η the
one-way efficiency the stored energy E (J) obeys dE/dt = η·c(S) − d(S)/η.

* While the dispatch is in transit, S(t) is a sum of ramps and an exponential
  (:class:`simulator.power.dispatch.Supply`); ∫d and ∫c are exact: the interval is cut where S
  crosses a kink or turns, and on each piece the rate is one quadratic in S, whose integral
  needs only ∫S dt and ∫S² dt along α + β·t + γ·e^{−t/τ}.
* Once settled, S = clamp(L̄ + (E_t − E)/τ_soc, Σ_lo, Σ_hi) follows E, so dE/dt = q(E) is
  piecewise quadratic in E: a Riccati equation with an elementary solution on each piece
  (exponential, logistic, 1/t or tangent), and so are ∫E dt and ∫E² dt. The state of charge
  therefore follows its feedback loop exactly however long the segment lasts.
"""

from __future__ import annotations

import itertools
import math

from simulator.power.dispatch import Supply
from simulator.power.trapezoid import Trapezoid


def rates(load: Trapezoid, s: float, pb: float) -> tuple[float, float]:
    """(discharge, charge) mean battery power (W) against supply level s."""
    if pb <= 0:
        return 0.0, 0.0
    dis = load.above(s) - load.above(s + pb)
    chg = load.below(s) - load.below(s - pb)
    return dis, chg


def kinks(load: Trapezoid, pb: float) -> tuple[float, ...]:
    """Supply levels where the rate functions change formula."""
    if load.is_constant:
        return (load.low, load.low - pb, load.low + pb)
    return (load.low, load.high, load.low - pb, load.high - pb, load.low + pb, load.high + pb)


def _moments(alpha: float, beta: float, gamma: float, tau: float, mid: float, ta: float,
             tb: float) -> tuple[float, float]:
    """(∫x dt, ∫x² dt) over [ta, tb] for x(t) = α + β·t + γ·e^{−t/τ} − mid."""
    c = alpha - mid
    span = tb - ta
    t2 = tb * tb - ta * ta
    t3 = tb**3 - ta**3
    m1 = c * span + beta * t2 / 2
    m2 = c * c * span + c * beta * t2 + beta * beta * t3 / 3
    if gamma != 0.0:
        ea, eb = math.exp(-ta / tau), math.exp(-tb / tau)
        e1 = tau * (ea - eb)
        e2 = tau / 2 * (ea * ea - eb * eb)
        te = tau * (ea * (ta + tau) - eb * (tb + tau))  # ∫ t·e^{−t/τ} dt
        m1 += gamma * e1
        m2 += 2 * c * gamma * e1 + gamma * gamma * e2 + 2 * beta * gamma * te
    return m1, m2


def _crossing(alpha: float, beta: float, gamma: float, tau: float, level: float, ta: float,
              tb: float, sa: float, sb: float) -> float | None:
    """Time in (ta, tb) where a monotone piece α + β·t + γ·e^{−t/τ} equals ``level``."""
    if (sa - level) * (sb - level) >= 0:
        return None
    if gamma == 0.0:
        return (level - alpha) / beta
    if beta == 0.0:
        return -tau * math.log((level - alpha) / gamma)
    lo, hi = ta, tb
    for _ in range(100):  # bisection on a monotone function
        mid = 0.5 * (lo + hi)
        v = alpha + beta * mid + gamma * math.exp(-mid / tau) - level
        if (v > 0) == (sa - level > 0):
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9:
            break
    return 0.5 * (lo + hi)


def integrate(load: Trapezoid, pb: float, supply: Supply, t1: float) -> tuple[float, float]:
    """(∫discharge dt, ∫charge dt) in J over [0, t1] with the supply on its transit path."""
    if pb <= 0 or t1 <= 0:
        return 0.0, 0.0
    edges = sorted({0.0, t1, *supply.structural_cuts(t1)})
    levels = kinks(load, pb)
    exp = math.exp
    dis = chg = 0.0
    for ta, tb in itertools.pairwise(edges):
        alpha, beta, gamma, tau = supply.coeffs(0.5 * (ta + tb))
        sub = [ta, tb]
        if beta != 0.0 and gamma != 0.0:  # the sum may turn once: cut at its extremum
            ratio = beta * tau / gamma
            if ratio > 0:
                tx = -tau * math.log(ratio)
                if ta < tx < tb:
                    sub.insert(1, tx)
        for xa, xb in itertools.pairwise(sub):
            sa = alpha + beta * xa + gamma * exp(-xa / tau)
            sb = alpha + beta * xb + gamma * exp(-xb / tau)
            inner = [x for k in levels if (sa - k) * (sb - k) < 0
                     and (x := _crossing(alpha, beta, gamma, tau, k, xa, xb, sa, sb)) is not None
                     and xa < x < xb]
            if inner:
                pts = [xa, *sorted(inner), xb]
                vals = [sa, *(alpha + beta * x + gamma * exp(-x / tau) for x in pts[1:-1]), sb]
            else:
                pts, vals = [xa, xb], [sa, sb]
            for i in range(len(pts) - 1):
                d, c = _piece(load, pb, alpha, beta, gamma, tau, pts[i], pts[i + 1], vals[i],
                              vals[i + 1])
                dis += d
                chg += c
    return dis, chg


def _rates(lo: float, hi: float, mean: float, t_high: float, t_edge: float, period: float,
           s: float, pb: float) -> tuple[float, float]:
    """:func:`rates` of a swinging load, inlined (the battery integral's inner loop)."""
    def above(g: float) -> float:
        if g >= hi:
            return 0.0
        if g <= lo:
            return mean - g
        return (t_high * (hi - g) + t_edge * (hi - g) ** 2 / (hi - lo)) / period

    a0 = above(s)
    dis = a0 - above(s + pb)
    g = s - pb
    chg = (a0 - (mean - s)) - (above(g) - (mean - g))
    return dis, chg


def _piece(load: Trapezoid, pb: float, alpha: float, beta: float, gamma: float, tau: float,
           ta: float, tb: float, sa: float, sb: float) -> tuple[float, float]:
    """Integrals over a piece where S crosses no kink (S runs from sa to sb): the rates are
    one quadratic in S."""
    lo, hi = (sa, sb) if sa <= sb else (sb, sa)
    mid = 0.5 * (lo + hi)
    span = tb - ta
    m1, m2 = _moments(alpha, beta, gamma, tau, mid, ta, tb)
    if load.is_constant:
        # constant demand: the battery takes L − S, clipped to its power (linear in S)
        gap = load.low - mid
        if gap >= pb:
            return pb * span, 0.0
        if gap >= 0:
            return gap * span - m1, 0.0
        if gap > -pb:
            return 0.0, m1 - gap * span
        return 0.0, pb * span
    shape = (load.low, load.high, load.mean, load.t_high, load.t_edge, load.period)
    d0, c0 = _rates(*shape, mid, pb)
    half = 0.5 * (hi - lo)
    if half <= 1e-6:
        return d0 * span, c0 * span
    dl, cl = _rates(*shape, lo, pb)
    dh, ch = _rates(*shape, hi, pb)
    # quadratic through (−h, y_l), (0, y_0), (h, y_h): y = y0 + b·x + q·x²
    inv = 1.0 / (2 * half)
    dis = d0 * span + (dh - dl) * inv * m1 + (dh - 2 * d0 + dl) * inv / half * m2
    chg = c0 * span + (ch - cl) * inv * m1 + (ch - 2 * c0 + cl) * inv / half * m2
    return dis, chg


def soc_neutral_level(load: Trapezoid, eta: float) -> float:
    """Supply level (W) at which a battery absorbing the swing neither gains nor loses
    charge: η·E[(S − L)⁺] = E[(L − S)⁺] / η, with η the one-way efficiency."""
    lo, hi = load.low, load.high
    if load.is_constant:
        return lo
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if eta * load.below(mid) - load.above(mid) / eta < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
