"""Closed forms the simulation is checked against.

M = job MTBF, τ = checkpoint interval, δ = checkpoint write time, R = restart time (seconds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from simulator.config import Scenario
from simulator.failures import job_failure_rate

__all__ = ["job_failure_rate"]


def young_interval(write_s: float, mtbf_s: float) -> float:
    """Young (1974): τ* = √(2δM)."""
    return math.sqrt(2.0 * write_s * mtbf_s)


def daly_interval(write_s: float, mtbf_s: float) -> float:
    """Daly (2006) higher-order optimum: √(2δM)[1 + ⅓√(δ/2M) + (δ/2M)/9] − δ for δ < 2M, else M."""
    if write_s >= 2.0 * mtbf_s:
        return mtbf_s
    x = write_s / (2.0 * mtbf_s)
    return math.sqrt(2.0 * write_s * mtbf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - write_s


def daly_wall_time(work_s: float, interval_s: float, write_s: float, restart_s: float,
                   mtbf_s: float) -> float:
    """Daly's complete model: E[wall] = M e^{R/M} (e^{(τ+δ)/M} − 1) W/τ (failures in restarts)."""
    m = mtbf_s
    return m * math.exp(restart_s / m) * math.expm1((interval_s + write_s) / m) * work_s / interval_s


def daly_ettr(interval_s: float, write_s: float, restart_s: float, mtbf_s: float,
              failures_during_restart: bool = True) -> float:
    """Expected productive fraction of wall clock.

    With failures during restart: τ / (M e^{R/M} (e^{(τ+δ)/M} − 1)); without:
    τ / ((e^{(τ+δ)/M} − 1)(M + R)).
    """
    m = mtbf_s
    if math.isinf(m):
        return interval_s / (interval_s + write_s)
    try:
        grow = math.expm1((interval_s + write_s) / m)
        if failures_during_restart:
            return interval_s / (m * math.exp(restart_s / m) * grow)
        return interval_s / (grow * (m + restart_s))
    except OverflowError:  # failures so frequent that no interval ever completes
        return 0.0


def expected_interruptions(rate_per_s: float, wall_s: float, restart_s: float,
                           failures_during_restart: bool = True) -> float:
    """Expected failures that interrupt the job over a wall clock T (s): ΛT, or with immune
    restarts (the failure clock stops for R after each interruption) ΛT / (1 + ΛR)."""
    if failures_during_restart:
        return rate_per_s * wall_s
    return rate_per_s * wall_s / (1.0 + rate_per_s * restart_s)


def spare_shortage_probability(nodes: int, spares: int, rate_per_s: float,
                               mean_repair_s: float) -> float:
    """Long-run P(job waits for hardware) = P[Binomial(N+s, p) > s], p = rE[R] / (1 + rE[R])."""
    x = rate_per_s * mean_repair_s
    p = x / (1.0 + x)
    from scipy import stats  # here, not at import: scipy.stats costs most of start-up

    return float(stats.binom.sf(spares, nodes + spares, p))


@dataclass(frozen=True)
class Analytic:
    """The analytic block printed beside the simulation (times in hours)."""

    exponential_only: bool
    job_failure_rate_per_day: float
    job_mtbf_hours: float
    young_interval_min: float
    daly_interval_min: float
    daly_ettr: float
    daly_wall_clock_days: float
    expected_interruptions: float

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)


def analytic_for(scenario: Scenario) -> Analytic:
    """Closed-form expectations for a scenario (ignores spare shortage and planned stops;
    with hot swaps, R is the swap time)."""
    lam = job_failure_rate(scenario)
    m = 1.0 / lam if lam > 0 else math.inf
    j = scenario.job
    tau, delta, r = j.checkpoint.interval, j.checkpoint.write_s, scenario.restart_s
    if j.recovery.strategy == "hot_swap":
        r = float(j.recovery.swap_time or 0.0)  # each recovery remaps a spare (if one is free)
    ettr = daly_ettr(tau, delta, r, m, j.restart.failures_during_restart)
    work = scenario.work_seconds
    wall = work / ettr if ettr > 0 else math.inf
    return Analytic(
        exponential_only=all(c.weibull_shape is None for c in scenario.failures.causes),
        job_failure_rate_per_day=lam * 86400.0,
        job_mtbf_hours=m / 3600.0,
        young_interval_min=young_interval(delta, m) / 60.0,
        daly_interval_min=daly_interval(delta, m) / 60.0,
        daly_ettr=ettr,
        daly_wall_clock_days=wall / 86400.0,
        expected_interruptions=expected_interruptions(
            lam, min(wall, scenario.run.horizon), r, j.restart.failures_during_restart),
    )
