"""Adaptive replications: run until a metric's 95% confidence interval is narrow enough.

The half-width of a Student-t interval shrinks as 1/√n, so from n replications with relative
half-width h the run needs about n·(h/target)² of them; each round runs up to that many (at
least a quarter more, at most the cap). Replication i always uses the i-th seed of the run,
so the records are the same as a fixed-count run of the same length, at any ``-j``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.records import ReplicationRecord
from simulator.runner import RunResult, run_range, run_replications
from simulator.stats import estimate

if TYPE_CHECKING:
    from simulator.config import Scenario
    from simulator.executors import Executor

#: replications of the first round (fewer make the t interval too wide to plan from)
FIRST_ROUND = 8


@dataclass(frozen=True)
class Precision:
    """What an adaptive run aimed at and what it reached."""

    metric: str
    target_rel: float  # wanted 95% CI half-width / |mean|
    achieved_rel: float
    replications: int
    cap: int

    @property
    def met(self) -> bool:
        return self.achieved_rel <= self.target_rel

    def to_dict(self) -> dict[str, float | int | str | bool]:
        return {"metric": self.metric, "target_rel": self.target_rel,
                "achieved_rel": self.achieved_rel, "replications": self.replications,
                "cap": self.cap, "met": self.met}


def relative_half_width(records: list[ReplicationRecord], metric: str) -> float:
    """95% CI half-width over |mean| of a metric (inf when it cannot be told yet)."""
    est = estimate(float(getattr(r, metric)) for r in records)
    if not (math.isfinite(est.ci95_low) and math.isfinite(est.ci95_high)) or est.mean == 0:
        return math.inf
    return (est.ci95_high - est.ci95_low) / 2.0 / abs(est.mean)


def run_until(scenario: Scenario, seed: int, metric: str, target_rel: float, cap: int,
              jobs: int = 1, progress: Callable[[int], None] | None = None,
              executor: Executor | None = None) -> tuple[RunResult, Precision]:
    """Replications until ``metric``'s 95% CI half-width is at most ``target_rel`` × |mean|,
    or ``cap`` replications."""
    n = min(cap, FIRST_ROUND)
    result = run_replications(scenario, n, seed, jobs, progress, executor)
    rel = relative_half_width(result.records, metric)
    while rel > target_rel and n < cap:
        need = math.ceil(n * (rel / target_rel) ** 2) if math.isfinite(rel) else 2 * n
        nxt = min(cap, max(need, n + max(1, n // 4)))
        result.records.extend(run_range(scenario, seed, n, nxt, jobs, progress, executor))
        n = nxt
        rel = relative_half_width(result.records, metric)
    return result, Precision(metric, target_rel, rel, n, cap)
