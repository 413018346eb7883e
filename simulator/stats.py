"""Statistics across replications: mean, std and Student-t 95% confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.records import METRICS, ReplicationRecord, metric_range


@dataclass(frozen=True)
class Estimate:
    """Mean of a metric over replications with its spread.

    ``ci95_low``/``ci95_high`` bound the mean (t distribution, n − 1 degrees of freedom),
    cut to the values the metric can take (a count's interval never goes below 0); with one
    replication there is no interval, and ``std`` and both bounds are NaN.
    """

    mean: float
    std: float
    ci95_low: float
    ci95_high: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std, "ci95_low": self.ci95_low,
                "ci95_high": self.ci95_high}

    @property
    def half_width(self) -> float:
        return (self.ci95_high - self.ci95_low) / 2.0


def _t975(dof: float) -> float:
    """The 97.5% quantile of Student's t (scipy imported here: it dominates start-up)."""
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def estimate(values: Iterable[float],
             bounds: tuple[float, float] = (-math.inf, math.inf)) -> Estimate:
    """Mean, sample std and 95% t-interval of the finite values (NaN if none), the interval
    cut to ``bounds``, the range the metric can take."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    nan = math.nan
    if n == 0:
        return Estimate(nan, nan, nan, nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, nan, nan, nan, 1)
    std = float(x.std(ddof=1))
    half = _t975(n - 1) * std / math.sqrt(n)
    lo, hi = bounds
    return Estimate(mean, std, max(mean - half, lo), min(mean + half, hi), n)


def summarize(records: Sequence[ReplicationRecord]) -> dict[str, Estimate]:
    """Estimates of every scalar metric and of each cause's interruption count."""
    out = {m: estimate((float(getattr(r, m)) for r in records), metric_range(m))
           for m in METRICS}
    return out


def summarize_causes(records: Sequence[ReplicationRecord], attr: str = "interruptions_by_cause",
                     keys: Sequence[str] = ()) -> dict[str, Estimate]:
    """Per-key count estimates of a count dictionary of the records (by default each cause's
    interruptions; a key missing from a record counts 0). ``keys`` are always included."""
    found = sorted({c for r in records for c in getattr(r, attr)} | set(keys))
    return {c: estimate((float(getattr(r, attr).get(c, 0)) for r in records), (0.0, math.inf))
            for c in found}


def paired_difference(b: Sequence[float], a: Sequence[float]) -> Estimate:
    """Mean of the per-replication differences ``b[i] − a[i]`` with its paired 95% t-interval.

    Replication i of both samples must share its random numbers (common random numbers); pairs
    with a non-finite member are dropped.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(b)} vs {len(a)}")
    return estimate(float(y) - float(x) for x, y in zip(a, b, strict=True)
                    if math.isfinite(x) and math.isfinite(y))


def welch_difference(b: Sequence[float], a: Sequence[float]) -> Estimate:
    """``mean(b) − mean(a)`` with the unpaired (Welch) 95% t-interval, for comparison with
    :func:`paired_difference`: what the interval would be without common random numbers.
    (``std`` is NaN: there is no single sample.)"""
    x = np.asarray([v for v in a if math.isfinite(v)], dtype=float)
    y = np.asarray([v for v in b if math.isfinite(v)], dtype=float)
    if len(x) == 0 or len(y) == 0:
        nan = math.nan
        return Estimate(nan, nan, nan, nan, 0)
    diff = float(y.mean() - x.mean())
    if len(x) < 2 or len(y) < 2:
        return Estimate(diff, math.nan, diff, diff, min(len(x), len(y)))
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se2 = float(vx + vy)
    if se2 == 0.0:
        return Estimate(diff, math.nan, diff, diff, min(len(x), len(y)))
    dof = se2 ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    half = _t975(dof) * math.sqrt(se2)
    return Estimate(diff, math.nan, diff - half, diff + half, min(len(x), len(y)))


def cost_by_cause(records: Sequence[ReplicationRecord]) -> dict[str, dict[str, float]]:
    """Mean per replication, per cause: interruptions, hours of work lost, of restarts and of
    time down after it, and their total; the costliest cause first ("planned": planned
    stops)."""
    n = len(records)
    names = {c for r in records for d in (r.interruptions_by_cause, r.lost_hours_by_cause,
                                          r.restart_hours_by_cause, r.down_hours_by_cause)
             for c in d}
    out = {}
    for c in names:
        interruptions = sum(r.interruptions_by_cause.get(c, 0) for r in records)
        if c == "planned":
            interruptions += sum(r.planned_interruptions for r in records)
        row = {"interruptions": interruptions / n,
               "lost_hours": sum(r.lost_hours_by_cause.get(c, 0.0) for r in records) / n,
               "restart_hours": sum(r.restart_hours_by_cause.get(c, 0.0) for r in records) / n,
               "down_hours": sum(r.down_hours_by_cause.get(c, 0.0) for r in records) / n}
        row["total_hours"] = row["lost_hours"] + row["restart_hours"] + row["down_hours"]
        out[c] = row
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["total_hours"], kv[0])))

