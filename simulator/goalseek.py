"""Goal seeking for any scenario key: the value of ``--param`` in [LO, HI] that minimises (or
maximises) a metric's mean, subject to constraints on other metrics' means, every evaluation on
the same seeds (common random numbers, so the comparison between values is not noise).

The search, deterministic given the seeds:

1. a grid of ``GRID`` values over [LO, HI] (log-spaced for a positive range over a decade or
   more, linear otherwise; whole numbers with ``--integer``);
2. the best feasible grid value; if a neighbour of it is infeasible, the optimum may sit on the
   feasibility boundary between them, which bisection finds (exactly for whole numbers, to
   ``XTOL`` relative otherwise): "the fewest Megapacks with zero trips";
3. otherwise the optimum is interior: a golden-section search between the two neighbours
   (an integer ternary search with ``--integer``): "the interval that maximises ETTR".

A constraint is ``METRIC OP NUMBER`` with OP one of ``== != <= >= < >``, tested on the mean
over the replications (``power_trips == 0``: no replication tripped). The objective may be a
metric or the swept key itself ("the fewest units that...").
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.loader import ScenarioError
from simulator.records import METRICS, ReplicationRecord, metric_range
from simulator.stats import Estimate, estimate

GRID = 9
XTOL = 1e-2  # relative: far finer than the CI of a mean over a few replications
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
    "<": operator.lt, ">": operator.gt}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    value: float

    def holds(self, mean: float) -> bool:
        return math.isfinite(mean) and _OPS[self.op](mean, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_constraint(text: str) -> Constraint:
    m = _CONSTRAINT.match(text)
    if not m:
        raise ScenarioError([f"--constraint {text!r}: expected METRIC OP NUMBER, e.g. "
                             f"'power_trips == 0' (OP: {' '.join(_OPS)})"])
    metric, op, raw = m.groups()
    if metric not in METRICS:
        raise ScenarioError([f"--constraint {text!r}: unknown metric {metric!r}"])
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError([f"--constraint {text!r}: {raw!r} is not a number"]) from None
    if not math.isfinite(value):
        raise ScenarioError([f"--constraint {text!r}: the bound must be finite"])
    return Constraint(metric, op, value)


def parse_bounds(key: str, text: str) -> tuple[float, float]:
    """``--bounds LO:HI`` in SI (units allowed, of one kind): LO < HI, both finite."""
    from simulator.sweepparams import range_ends

    where = f"--bounds {text!r}"
    parts = [p.strip() for p in text.split(":")]
    if len(parts) != 2:
        raise ScenarioError([f"{where}: expected LO:HI, e.g. '2 min:1 h' or '0:40'"])
    (lo, hi), _ = range_ends(where, parts[0], parts[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ScenarioError([f"{where}: LO must be below HI, both finite"])
    return lo, hi


@dataclass
class Evaluation:
    """One value of the parameter, evaluated on the common seeds."""

    x: float
    objective: Estimate
    feasible: bool
    constraints: dict[str, float]
    step: str  #: which phase of the search asked for it (grid, boundary, interior)


@dataclass
class Search:
    """The search of one optimisation: call :meth:`run`; ``path`` lists every evaluation."""

    key: str
    lo: float
    hi: float
    objective: str
    maximize: bool
    constraints: Sequence[Constraint]
    integer: bool
    evaluate_records: Callable[[float], list[ReplicationRecord]]
    path: list[Evaluation] = field(default_factory=list)
    _seen: dict[float, Evaluation] = field(default_factory=dict)

    def evaluate(self, x: float, step: str) -> Evaluation:
        x = float(round(x)) if self.integer else float(x)
        if x in self._seen:
            return self._seen[x]
        records = self.evaluate_records(x)
        if self.objective == self.key:
            obj = Estimate(x, 0.0, x, x, len(records))
        else:
            obj = estimate((float(getattr(r, self.objective)) for r in records),
                           metric_range(self.objective))
        means = {c.metric: float(np.mean([float(getattr(r, c.metric)) for r in records]))
                 for c in self.constraints}
        ok = all(c.holds(means[c.metric]) for c in self.constraints) and math.isfinite(obj.mean)
        ev = Evaluation(x, obj, ok, means, step)
        self._seen[x] = ev
        self.path.append(ev)
        return ev

    def _score(self, ev: Evaluation) -> float:
        """Lower is better; infeasible is worst."""
        if not ev.feasible:
            return math.inf
        return -ev.objective.mean if self.maximize else ev.objective.mean

    def grid(self) -> list[float]:
        lo, hi = self.lo, self.hi
        if self.integer:
            return sorted({float(round(v)) for v in np.linspace(lo, hi, GRID)})
        if lo > 0 and hi / lo >= 10:
            return [float(v) for v in np.geomspace(lo, hi, GRID)]
        return [float(v) for v in np.linspace(lo, hi, GRID)]

    def run(self) -> Evaluation | None:
        """The best feasible value found, or None if no value is feasible."""
        grid = [self.evaluate(x, "grid") for x in self.grid()]
        scores = [self._score(e) for e in grid]
        i = int(np.argmin(scores))
        if not math.isfinite(scores[i]):
            return None
        for j in (i - 1, i + 1):  # an infeasible neighbour: the optimum may be on the boundary
            if 0 <= j < len(grid) and not grid[j].feasible:
                self._boundary(grid[i], grid[j])
        left = grid[i - 1].x if i > 0 else grid[i].x
        right = grid[i + 1].x if i + 1 < len(grid) else grid[i].x
        if all(grid[k].feasible for k in (i - 1, i + 1) if 0 <= k < len(grid)):
            self._interior(left, right)
        return min(self.path, key=lambda e: (self._score(e), e.x))

    def _close(self, a: float, b: float) -> bool:
        if self.integer:
            return abs(a - b) <= 1.0
        return abs(a - b) <= XTOL * max(abs(a), abs(b), 1e-300)

    def _boundary(self, feasible: Evaluation, infeasible: Evaluation) -> None:
        """Bisect for the feasible value closest to ``infeasible``."""
        good, bad = feasible.x, infeasible.x
        while not self._close(good, bad):
            mid = (good + bad) / 2.0
            if self.integer:
                mid = float(math.floor(mid) if good < bad else math.ceil(mid))
                if mid in (good, bad):
                    break
            if self.evaluate(mid, "boundary").feasible:
                good = mid
            else:
                bad = mid

    def _interior(self, a: float, b: float) -> None:
        """Golden-section (ternary for whole numbers) search of the score on [a, b]."""
        def score(x: float) -> float:
            return self._score(self.evaluate(x, "interior"))

        if self.integer:
            lo, hi = int(a), int(b)
            while hi - lo > 2:
                m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
                if score(m1) <= score(m2):
                    hi = m2
                else:
                    lo = m1
            for x in range(lo, hi + 1):
                score(x)
            return
        c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
        fc, fd = score(c), score(d)
        while not self._close(a, b):
            if fc <= fd:
                b, d, fd = d, c, fc
                c = b - GOLDEN * (b - a)
                fc = score(c)
            else:
                a, c, fc = c, d, fd
                d = a + GOLDEN * (b - a)
                fd = score(d)


def path_rows(search: Search) -> list[dict[str, Any]]:
    """The search path as CSV rows: value, objective mean and CI, constraint means, feasible."""
    from simulator.sweepparams import param_column

    rows = []
    column = param_column(search.key)
    for k, ev in enumerate(search.path):
        row: dict[str, Any] = {"evaluation": k, "step": ev.step, column: ev.x,
                               f"{search.objective}_mean": ev.objective.mean,
                               f"{search.objective}_ci95_low": ev.objective.ci95_low,
                               f"{search.objective}_ci95_high": ev.objective.ci95_high}
        row.update({f"{m}_mean": v for m, v in ev.constraints.items()})
        row["feasible"] = ev.feasible
        rows.append(row)
    return rows
