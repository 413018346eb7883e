"""The slow layer of the plant controller: where the grid import and the generators are sent.

Merit order for the mean demand X = L̄ + σ (W), where L̄ is the facility load's mean over an
iteration and σ = (E_target − E)/τ_soc the battery's recharge (or discharge) request:

* the grid imports I* = clamp(X − P_min, 0, C) (C its cap; P_min the generators' minimum
  stable load when there are generators, else 0) and moves there at its ramp limit ρ_g (W/s),
  so a utility's "MW per minute" is respected by construction: what the import may not follow
  yet is the battery's to cover;
* the generators are dispatched to G* = clamp(X − I*, P_min, S): their setpoint follows G*
  through a first-order low-pass (τ_f) and never moves faster than their ramp rate;
* the supply S(t) = I(t) + G(t) is what the battery works against: it delivers L(t) − S(t)
  within its power and state-of-charge limits (:mod:`simulator.power.battery`).

Once both have settled, S = clamp(X, Σ_lo, Σ_hi) follows the battery's energy E through σ,
which the battery module solves in closed form. Before that, the target is frozen at its
value at the segment start (corrected once for the charge the transient moves).

Trajectories are closed form: a ramp at ±ρ until the output meets the filter, then the
filter's exponential S + (F0 − S)·e^{−t/τ}. All quantities SI: s, W.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

SETTLED_REL = 1e-4  # a path within this fraction of capacity (and 1 W) of its target is settled


class Trajectory(NamedTuple):
    """A setpoint over a segment: a ramp at ``slope`` W/s until ``t_meet``, then the
    exponential S + (F0 − S)·e^{−t/τ} (or S when τ = 0). ``tol`` (W) defines settled.

    A named tuple: several are built per segment, and a tuple builds fastest."""

    g0: float
    slope: float
    t_meet: float
    s: float
    f0: float
    tau: float
    tol: float = 1.0

    def at(self, t: float) -> float:
        if t < self.t_meet:
            return self.g0 + self.slope * t
        if self.tau <= 0:
            return self.s
        return self.s + (self.f0 - self.s) * math.exp(-t / self.tau)

    def settle_time(self) -> float:
        """Time after which the output is within ``tol`` of the target."""
        if self.tau <= 0:
            return self.t_meet
        gap = abs(self.f0 - self.s)
        if gap <= self.tol:
            return self.t_meet
        return max(self.t_meet, self.tau * math.log(gap / self.tol))

    def integral(self, t1: float) -> float:
        """∫ output dt over [0, t1] (J)."""
        t_r = min(self.t_meet, t1)
        total = self.g0 * t_r + self.slope * t_r * t_r / 2
        if t1 > t_r:
            total += self.s * (t1 - t_r)
            if self.tau > 0:
                total += (self.f0 - self.s) * self.tau * (math.exp(-t_r / self.tau)
                                                          - math.exp(-t1 / self.tau))
        return total

    @property
    def constant(self) -> bool:
        return self.t_meet <= 0 and (self.tau <= 0 or self.f0 == self.s)


def hold(level: float) -> Trajectory:
    return Trajectory(level, 0.0, 0.0, level, level, 0.0)


def trajectory(g0: float, f0: float, s: float, ramp: float, tau: float, tol: float = 1.0) -> Trajectory:
    """Closed-form path from output g0 and filter state f0 toward target s (ramp in W/s)."""
    if not math.isfinite(ramp):
        if tau <= 0 or abs(f0 - s) <= tol:
            return Trajectory(s, 0.0, 0.0, s, s, 0.0, tol)
        return Trajectory(g0, 0.0, 0.0, s, g0, tau, tol)
    if tau <= 0:
        gap = s - g0
        if abs(gap) <= 1e-9:
            return Trajectory(s, 0.0, 0.0, s, s, 0.0, tol)
        return Trajectory(g0, math.copysign(ramp, gap), abs(gap) / ramp, s, s, 0.0, tol)
    if abs(g0 - f0) <= tol and abs(s - f0) / tau <= ramp:
        if abs(s - f0) <= tol:
            return Trajectory(s, 0.0, 0.0, s, s, 0.0, tol)  # settled
        return Trajectory(g0, 0.0, 0.0, s, f0, tau, tol)  # the output can follow the filter

    direction = math.copysign(1.0, (f0 - g0) if abs(f0 - g0) > tol else (s - f0))
    slope = direction * ramp
    gap0 = f0 - s
    exp = math.exp
    # the filter is "ahead" of the output while direction·(F(t) − G(t)) > 0; find where that
    # ends by safeguarded Newton on [lo, hi], to 1 ms or 1 W
    hi = abs(s - g0) / ramp + 5 * tau + 1.0
    if direction * (s + gap0 * exp(-hi / tau) - g0 - slope * hi) > 0:
        return Trajectory(g0, slope, abs(s - g0) / ramp, s, s, 0.0, tol)  # round-off guard
    lo, t = 0.0, min(hi, abs(s - g0) / ramp)
    for _ in range(60):
        e = exp(-t / tau)
        value = direction * (s + gap0 * e - g0 - slope * t)
        if abs(value) < 1.0:
            hi = t
            break
        if value > 0:
            lo = t
        else:
            hi = t
        if hi - lo <= 1e-3:
            break
        slope_t = direction * (-gap0 / tau * e - slope)
        step = t - value / slope_t if slope_t != 0 else -1.0
        t = step if lo < step < hi else 0.5 * (lo + hi)
    # after meeting, the output follows the filter, which never stopped decaying from f0
    return Trajectory(g0, slope, hi, s, f0, tau, tol)


@dataclass(frozen=True)
class Merit:
    """The plant's dispatch limits (W): grid cap, generators' minimum and capacity."""

    grid_cap: float
    gen_min: float
    gen_cap: float

    def split(self, x: float) -> tuple[float, float]:
        """(grid import, generator dispatch) for a mean demand x, grid first (the fine-step
        loop inlines this: keep the two in step)."""
        floor = self.gen_min if self.gen_cap > 0 else 0.0
        grid = min(max(x - floor, 0.0), self.grid_cap)
        gens = min(max(x - grid, self.gen_min), self.gen_cap) if self.gen_cap > 0 else 0.0
        return grid, gens

    @property
    def supply_range(self) -> tuple[float, float]:
        """(lowest, highest) total dispatch S = I + G."""
        lo = self.gen_min if self.gen_cap > 0 else 0.0
        return lo, self.grid_cap + self.gen_cap


class Supply:
    """S(t) = I(t) + G(t) over a segment, as pieces α + β·t + γ·e^{−t/τ}."""

    __slots__ = ("_settle", "gens", "grid", "simple")

    def __init__(self, grid: Trajectory, gens: Trajectory):
        self.grid, self.gens = grid, gens
        # the common case: a constant import, so S is the generators' path shifted
        self.simple = grid.constant
        # asked several times per segment (battery, drift, plots): computed once
        self._settle = max(grid.settle_time(), gens.settle_time())

    def at(self, t: float) -> float:
        return self.grid.at(t) + self.gens.at(t)

    def settle_time(self) -> float:
        """Time after which both paths are within their tolerance of their targets (s)."""
        return self._settle

    def integral(self, t1: float) -> float:
        """∫ S dt over [0, t1] (J)."""
        return self.grid.integral(t1) + self.gens.integral(t1)

    @property
    def target(self) -> float:
        return self.grid.s + self.gens.s

    def coeffs(self, t: float) -> tuple[float, float, float, float]:
        """(α, β, γ, τ) of the piece containing t (β: W/s, γ: W, τ: s; γ = 0 if none)."""
        alpha = beta = gamma = 0.0
        tau = 1.0
        for p in (self.grid, self.gens):
            if t < p.t_meet:
                alpha += p.g0
                beta += p.slope
            elif p.tau > 0:
                alpha += p.s
                gamma += p.f0 - p.s
                tau = p.tau
            else:
                alpha += p.s
        return alpha, beta, gamma, tau

    def crossings(self, levels: list[float], t1: float) -> list[float]:
        """Times in (0, t1) where S(t) crosses one of ``levels`` (W)."""
        edges = [0.0, *sorted(self.structural_cuts(t1)), t1]
        out = []
        for a, b in itertools.pairwise(edges):
            sa, sb = self.at(a), self.at(b - 1e-12)
            for level in levels:
                if (sa - level) * (sb - level) < 0:
                    lo, hi = a, b
                    for _ in range(60):  # bisection: the pieces are monotone in practice
                        mid = 0.5 * (lo + hi)
                        if (self.at(mid) - level) * (sa - level) > 0:
                            lo = mid
                        else:
                            hi = mid
                    out.append(0.5 * (lo + hi))
        return out

    def structural_cuts(self, t1: float) -> list[float]:
        """Times in (0, t1) where a path changes formula."""
        return [t for t in (self.grid.t_meet, self.gens.t_meet) if 0 < t < t1]
