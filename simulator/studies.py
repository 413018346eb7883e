"""Many runs of one scenario from Python: comparisons, sweeps and goal seeking, each on
common random numbers (replication i of every variant uses the same seed), mirroring
``dcsim compare``, ``dcsim sweep`` and ``dcsim optimize``. Each returns plain rows (and a
pandas DataFrame through ``to_frame()``), metrics in the units their names say.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.config import Scenario
from simulator.records import ReplicationRecord

if TYPE_CHECKING:
    from simulator.executors import Executor
    from simulator.goalseek import Evaluation


def _frame(rows: Sequence[Mapping[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame needs pandas: pip install pandas") from None
    return pd.DataFrame(list(rows))


@dataclass
class Comparison:
    """Scenarios run on the same seeds: ``rows`` is compare.csv (one row per metric and
    scenario, with the paired difference against the first and its 95% CI)."""

    labels: list[str]
    records: list[list[ReplicationRecord]]
    rows: list[dict[str, Any]]

    def to_frame(self) -> Any:
        return _frame(self.rows)


def _executor(executor: Executor | None, jobs: int) -> Any:
    from simulator.executors import InlineExecutor, LocalExecutor

    if executor is not None:
        import contextlib

        return contextlib.nullcontext(executor)
    return InlineExecutor() if jobs <= 1 else LocalExecutor(jobs)


def compare(scenarios: Mapping[str, Scenario] | Sequence[Scenario], replications: int | None = None,
            seed: int | None = None, jobs: int = 1, executor: Executor | None = None
            ) -> Comparison:
    """Run every scenario on the same seeds (default: the first one's ``run`` block)."""
    from simulator.comparison import compare_rows, run_compare

    if isinstance(scenarios, Mapping):
        labels, items = list(scenarios), list(scenarios.values())
    else:
        items = list(scenarios)
        labels = [s.name for s in items]
    first = items[0]
    n = replications or first.run.replications
    with _executor(executor, jobs) as ex:
        records = run_compare(items, first.run.seed if seed is None else seed, n, ex)
    return Comparison(labels, records, compare_rows(labels, records))


def _points(values: Mapping[str, Sequence[Any]], zip_: bool) -> Iterator[dict[str, Any]]:
    keys = list(values)
    combos = zip(*values.values(), strict=True) if zip_ else itertools.product(*values.values())
    for combo in combos:
        yield dict(zip(keys, combo, strict=True))


@dataclass
class Sweep:
    """A grid (or zip) of overrides run on the same seeds: ``rows`` has one row per point,
    the overrides as given, then every metric's mean and 95% CI."""

    points: list[dict[str, Any]]
    records: list[list[ReplicationRecord]]
    rows: list[dict[str, Any]]

    def to_frame(self) -> Any:
        return _frame(self.rows)


def sweep(source: Any, values: Mapping[str, Sequence[Any]], zip_: bool = False,
          replications: int | None = None, seed: int | None = None, jobs: int = 1,
          executor: Executor | None = None, **overrides: Any) -> Sweep:
    """Run ``source`` (a path or mapping, with ``overrides``) at every combination of
    ``values`` (dotted key -> values, with units as ``--set`` takes them)."""
    from simulator.api import load
    from simulator.records import METRICS
    from simulator.stats import estimate

    points = list(_points(values, zip_))
    scenarios = [load(source, **{**overrides, **p}) for p in points]
    result = compare(scenarios, replications, seed, jobs, executor)
    rows = []
    for point, recs in zip(points, result.records, strict=True):
        row: dict[str, Any] = dict(point)
        for m in METRICS:
            est = estimate(float(getattr(r, m)) for r in recs)
            row.update({f"{m}_mean": est.mean, f"{m}_ci95_low": est.ci95_low,
                        f"{m}_ci95_high": est.ci95_high})
        rows.append(row)
    return Sweep(points, result.records, rows)


@dataclass
class Optimum:
    """A bounded search: ``answer`` is the best feasible value (None if none was), ``path``
    every value tried, as ``optimize.csv`` lists them."""

    key: str
    answer: Evaluation | None
    path: list[dict[str, Any]] = field(default_factory=list)

    def to_frame(self) -> Any:
        return _frame(self.path)


def optimize(source: Any, key: str, bounds: tuple[Any, Any], objective: str,
             maximize: bool = False, constraints: Sequence[str] = (), integer: bool = False,
             replications: int | None = None, seed: int | None = None, jobs: int = 1,
             executor: Executor | None = None, **overrides: Any) -> Optimum:
    """The value of ``key`` in ``bounds`` that minimises (``maximize``: maximises)
    ``objective`` (a metric, or the key itself) subject to ``constraints`` such as
    ``"power_trips == 0"`` (on means over the replications), every value on the same seeds."""
    from simulator.api import load
    from simulator.comparison import run_compare
    from simulator.goalseek import Search, parse_bounds, parse_constraint, path_rows

    base = load(source, **overrides)
    lo, hi = parse_bounds(key, f"{bounds[0]}:{bounds[1]}")
    n = replications or base.run.replications
    root = base.run.seed if seed is None else seed
    with _executor(executor, jobs) as ex:
        def records(x: float) -> list[ReplicationRecord]:
            value = int(x) if integer else x
            return run_compare([load(source, **{**overrides, key: value})], root, n, ex)[0]

        search = Search(key, float(lo), float(hi), objective, maximize,
                        [parse_constraint(c) for c in constraints], integer, records)
        best = search.run()
    return Optimum(key, best, path_rows(search))
