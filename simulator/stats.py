"""Statistics across replications: mean, std and Student-t 95% confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

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
    half = float(st.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
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
    half = float(st.t.ppf(0.975, dof)) * math.sqrt(se2)
    return Estimate(diff, math.nan, diff - half, diff + half, min(len(x), len(y)))
