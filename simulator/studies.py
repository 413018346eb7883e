"""Many runs of scenarios from Python: comparisons, sweeps and goal seeking, each on common
random numbers (replication i of every variant uses the same seed). ``dcsim compare``,
``dcsim sweep`` and ``dcsim optimize`` are these functions plus argument parsing and
printing, so the CLI and a script give the same numbers to the last digit.

Each returns an object with its table (``rows``, or ``path`` for a search), ``to_frame()``
(pandas), ``write(folder)`` and ``save(directory)`` (the CLI's files, atomically). Metrics
carry their units in their names; swept values are in SI with the unit in the column name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.config import Scenario
from simulator.output import RunInfo, frame
from simulator.records import ReplicationRecord
from simulator.sweepstudy import Sweep, sweep

if TYPE_CHECKING:
    from simulator.executors import Executor
    from simulator.goalseek import Constraint, Evaluation
    from simulator.loader import Source

__all__ = ["Comparison", "Optimum", "Sweep", "compare", "optimize", "sweep"]


# ---- compare -------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Scenarios run on the same seeds.

    Attributes:
        labels, scenarios: in order; the first is the baseline.
        records: per scenario, one record per replication.
        rows: ``compare.csv``: one row per metric and scenario with its estimate and, against
            the baseline, the paired difference, its 95% CI, the unpaired (Welch) CI and the
            relative difference.
        metrics: what tables and plots show (those with data among the defaults or chosen).
    """

    labels: list[str]
    scenarios: list[Scenario]
    records: list[list[ReplicationRecord]]
    rows: list[dict[str, Any]]
    seed: int
    metrics: list[str]
    plot_metrics: list[str]
    info: RunInfo
    files: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)

    def to_frame(self) -> Any:
        return frame(self.rows)

    def meta(self) -> dict[str, Any]:
        """``compare.json``."""
        return {"kind": "compare", "labels": self.labels, "files": self.files,
                "variants": self.variants, "names": [s.name for s in self.scenarios],
                "baseline": self.labels[0], "seed": self.seed,
                "replications": len(self.records[0]), "metrics": self.metrics,
                "plot_metrics": self.plot_metrics}

    def write(self, folder: Path, plots: bool = True) -> None:
        """Write compare.csv, compare.json, each scenario's replications-LABEL.csv and
        resolved-LABEL.yaml, metadata.json and compare.png into an existing folder."""
        from simulator.comparison import COLUMNS, safe
        from simulator.loader import resolved_dict
        from simulator.output import atomic_write_text, replications_csv, write_json, write_yaml
        from simulator.tablecsv import rows_csv

        atomic_write_text(folder / "compare.csv",
                          rows_csv([{c: r[c] for c in COLUMNS} for r in self.rows]))
        write_json(folder / "compare.json", self.meta())
        for label, scenario, recs in zip(self.labels, self.scenarios, self.records, strict=True):
            atomic_write_text(folder / f"replications-{safe(label)}.csv", replications_csv(recs))
            write_yaml(folder / f"resolved-{safe(label)}.yaml", resolved_dict(scenario))
        write_json(folder / "metadata.json", self.info.metadata(self.seed))
        if plots:
            from simulator.plots import draw_compare

            draw_compare(self.rows, self.meta(), folder / "compare.png")

    def save(self, directory: str | Path, plots: bool = True) -> Path:
        """Write the files ``dcsim compare`` writes to ``directory``, all at once."""
        from simulator.outdir import save_into

        return save_into(lambda folder: self.write(folder, plots), directory)


def compare(scenarios: Mapping[str, Scenario] | Sequence[Scenario],
            replications: int | None = None, seed: int | None = None, jobs: int = 1,
            executor: Executor | None = None, progress: Callable[[int], None] | None = None,
            metrics: Sequence[str] | None = None, files: Sequence[str] = (),
            variants: Sequence[str] = (), info: RunInfo | None = None) -> Comparison:
    """Run every scenario on the same seeds (default: the first one's ``run`` block).

    ``scenarios``: ``{label: scenario}`` (the first is the baseline) or a list, labelled by
    name. ``progress`` is called with 1 as each replication finishes; ``metrics`` chooses
    what tables and plots show; ``files`` and ``variants`` are recorded in compare.json;
    ``info``: a clock the caller started (e.g. before starting its executor).
    """
    from simulator.comparison import (
        DEFAULT_PLOT,
        DEFAULT_TABLE,
        compare_rows,
        labels_for,
        run_compare,
    )
    from simulator.executors import executor_or_local

    if isinstance(scenarios, Mapping):
        labels, items = list(scenarios), list(scenarios.values())
    else:  # by name, made unique as the CLI makes them
        items = list(scenarios)
        labels = labels_for([Path(s.name) for s in items], items)
    first = items[0]
    n = replications or first.run.replications
    root = first.run.seed if seed is None else seed
    own = info is None  # a clock the caller passed is the caller's to stop
    info = RunInfo(jobs) if info is None else info
    with executor_or_local(executor, jobs) as ex:
        info.where = ex.description
        records = run_compare(items, root, n, ex, progress)
    if own:
        info.stop()
    rows = compare_rows(labels, records)
    return Comparison(labels, items, records, rows, root,
                      _shown(rows, metrics or DEFAULT_TABLE), _shown(rows, metrics or DEFAULT_PLOT),
                      info, list(files), list(variants))


def _shown(rows: Sequence[dict[str, Any]], wanted: Sequence[str]) -> list[str]:
    from simulator.comparison import shown_metrics

    return shown_metrics(rows, wanted)


# ---- optimize ------------------------------------------------------------------------------


@dataclass
class Optimum:
    """A bounded search.

    Attributes:
        answer: the best feasible value (``.x``, in SI) with its objective estimate, or None
            if no value met the constraints.
        path: ``optimize.csv``: every value tried, its objective's mean and 95% CI, the
            constraints' means and whether it was feasible.
    """

    key: str
    answer: Evaluation | None
    path: list[dict[str, Any]]
    scenario: Scenario
    source: str
    bounds: tuple[float, float]
    objective: str
    maximize: bool
    constraints: list[str]
    integer: bool
    seed: int
    replications: int
    info: RunInfo

    def to_frame(self) -> Any:
        return frame(self.path)

    def meta(self) -> dict[str, Any]:
        """``optimize.json``."""
        from simulator.sweepparams import param_column

        best = self.answer
        answer = None if best is None else {
            self.key: best.x, "objective": self.objective, **best.objective.to_dict(),
            "constraints": best.constraints}
        return {"kind": "optimize", "scenario": self.scenario.name, "file": self.source,
                "param": self.key, "column": param_column(self.key),
                "bounds": list(self.bounds), "objective": self.objective,
                "maximize": self.maximize, "constraints": self.constraints,
                "integer": self.integer, "seed": self.seed, "replications": self.replications,
                "evaluations": len(self.path), "answer": answer}

    def write(self, folder: Path) -> None:
        """Write optimize.csv, optimize.json and metadata.json into an existing folder."""
        from simulator.output import atomic_write_text, write_json
        from simulator.tablecsv import rows_csv

        atomic_write_text(folder / "optimize.csv", rows_csv(self.path))
        write_json(folder / "optimize.json", self.meta())
        write_json(folder / "metadata.json", self.info.metadata(self.seed))

    def save(self, directory: str | Path) -> Path:
        """Write the files ``dcsim optimize`` writes to ``directory``, all at once."""
        from simulator.outdir import save_into

        return save_into(self.write, directory)


@dataclass
class SearchPlan:
    """A search validated, nothing run yet (see :func:`optimize`)."""

    read: Source  # the source as read and overridden once: every evaluation starts from it
    key: str
    lo: float
    hi: float
    objective: str
    maximize: bool
    constraints: list[Constraint]
    integer: bool
    replications: int
    seed: int

    @property
    def scenario(self) -> Scenario:
        """The scenario as planned (before the searched key is set)."""
        return self.read.scenario

    def run(self, jobs: int = 1, executor: Executor | None = None,
            info: RunInfo | None = None) -> Optimum:
        """Search (``info``: a clock the caller started, e.g. before its executor)."""
        from simulator.comparison import run_compare
        from simulator.executors import executor_or_local
        from simulator.goalseek import Search, path_rows

        own = info is None  # a clock the caller passed is the caller's to stop
        info = RunInfo(jobs) if info is None else info
        with executor_or_local(executor, jobs) as ex:
            info.where = ex.description

            def records(x: float) -> list[ReplicationRecord]:
                value = int(x) if self.integer else x
                scenario = self.read.varied([(self.key, value)], f"{self.key}={value}")
                return run_compare([scenario], self.seed, self.replications, ex)[0]

            search = Search(self.key, self.lo, self.hi, self.objective, self.maximize,
                            self.constraints, self.integer, records)
            best = search.run()
        if own:
            info.stop()
        return Optimum(self.key, best, path_rows(search), self.scenario, self.read.label,
                       (self.lo, self.hi), self.objective, self.maximize,
                       [str(c) for c in self.constraints], self.integer, self.seed,
                       self.replications, info)


def plan_search(source: str | Path | Mapping[str, Any], key: str,
                bounds: tuple[Any, Any] | str, objective: str, maximize: bool = False,
                constraints: Sequence[str] = (), integer: bool = False,
                replications: int | None = None, seed: int | None = None,
                overrides: Mapping[str, Any] | Sequence[str] | None = None) -> SearchPlan:
    """Check a search's arguments (see :func:`optimize`; ``overrides``: a mapping, or
    ``--set`` texts applied in order); raises :class:`simulator.errors.ScenarioError`
    listing every problem."""
    from simulator.api import read_sets
    from simulator.errors import ScenarioError
    from simulator.goalseek import parse_bounds, parse_constraint
    from simulator.loader import override_texts
    from simulator.records import METRICS

    sets = override_texts(overrides)
    read = read_sets(source, sets)
    base = read.scenario
    problems: list[str] = []
    parsed = []
    for text in constraints:
        try:
            parsed.append(parse_constraint(text))
        except ScenarioError as exc:
            problems += exc.problems
    if objective not in METRICS and objective != key:
        problems.append(f"--objective {objective}: unknown metric (use a metric or {key})")
    text = bounds if isinstance(bounds, str) else f"{bounds[0]}:{bounds[1]}"
    lo = hi = 0.0
    try:
        lo, hi = parse_bounds(key, text)
    except ScenarioError as exc:
        problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return SearchPlan(read, key, float(lo), float(hi), objective, maximize, parsed, integer,
                      replications or base.run.replications,
                      base.run.seed if seed is None else seed)


def optimize(source: str | Path | Mapping[str, Any], key: str, bounds: tuple[Any, Any] | str,
             objective: str, maximize: bool = False, constraints: Sequence[str] = (),
             integer: bool = False, replications: int | None = None, seed: int | None = None,
             jobs: int = 1, executor: Executor | None = None, **overrides: Any) -> Optimum:
    """The value of ``key`` in ``bounds`` (``(lo, hi)`` or ``"LO:HI"``, units allowed) that
    minimises (``maximize``: maximises) ``objective`` (a metric, or ``key`` itself for the
    smallest value that meets the constraints) subject to ``constraints`` such as
    ``"power_trips == 0"`` (on means over the replications), every value on the same seeds.

    Raises :class:`simulator.errors.ScenarioError` listing every problem before running.
    """
    return plan_search(source, key, bounds, objective, maximize, constraints, integer,
                       replications, seed, overrides).run(jobs, executor)
