"""A sweep from Python: one scenario run at every point of a grid (or zip) of key values, each
point on the same seeds (common random numbers). ``dcsim sweep`` is this function plus
argument parsing and printing, so both give the same ``sweep.csv`` to the last digit.

    s = simulator.sweep("scenarios/100k_h100.yaml",
                        {"job.checkpoint.interval": ["5 min", "10 min", "20 min"],
                         "power.battery.count": "10:160:5"},     # START:STOP:N, log-spaced
                        replications=20, jobs=2)
    s.rows        # sweep.csv: swept values in SI (unit in the column name), every metric's
                  # mean and 95% CI, the analytic columns
    s.save("results/my-sweep")

Each point's records can be kept in ``cache/points/<key>.json`` (``key`` a hash of the
point's resolved scenario, seed and replication count), so a sweep run again with the same
cache folder computes only the points it has not finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.config import Scenario
from simulator.output import RunInfo
from simulator.records import ReplicationRecord
from simulator.sweepgrid import DEFAULT_METRICS, PointResult
from simulator.sweepgrid import Sweep as Grid
from simulator.sweepparams import ParamSpec

if TYPE_CHECKING:
    from simulator.executors import Executor
    from simulator.sweepgrid import Optimum as IntervalOptimum

#: ``stages(label, total)`` -> a context manager yielding ``advance(n)``: one per phase of a
#: study (the points, then the interval refinement), ``total`` tasks (None: not known)
Stages = Callable[[str, int | None], ContextManager[Callable[[int], None]]]


def _quiet(_label: str, _total: int | None) -> ContextManager[Callable[[int], None]]:
    return contextlib.nullcontext(lambda _n: None)


@dataclass
class Sweep:
    """The outcome of :func:`sweep`.

    Attributes:
        scenario: the base scenario (before the swept values).
        specs: the swept keys and their values.
        results: per point (grid order) its scenario, overrides and records.
        optima: the refined checkpoint interval per series (``optimize=True``), else empty.
        computed: points computed by this call (the others came from the cache).
        rows: ``sweep.csv``: one row per point, swept values in SI with the unit in the
            column name (``job.checkpoint.interval_s``), each metric's ``_mean``,
            ``_ci95_low`` and ``_ci95_high``, and the analytic columns.
    """

    scenario: Scenario
    specs: list[ParamSpec]
    zip: bool
    seed: int
    results: list[PointResult]
    optima: list[IntervalOptimum]
    computed: int
    source: str
    metrics: list[str]
    info: RunInfo
    rows: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        from simulator.sweepgrid import sweep_rows

        self.rows = sweep_rows(self.results, self.keys)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.specs]

    @property
    def points(self) -> list[dict[str, Any]]:
        """Each point's swept values as resolved (SI)."""
        return [r.point.params for r in self.results]

    @property
    def records(self) -> list[list[ReplicationRecord]]:
        return [r.records for r in self.results]

    def to_frame(self) -> Any:
        """``rows`` as a pandas DataFrame (needs pandas)."""
        from simulator.output import frame

        return frame(self.rows)

    def meta(self) -> dict[str, Any]:
        """``sweep.json``: what was swept, how, and the refined intervals."""
        from simulator.loader import resolved_dict
        from simulator.sweepgrid import lookup

        return {
            "kind": "sweep",
            "scenario": self.scenario.name,
            "file": self.source,
            "params": [s.to_dict() for s in self.specs],
            "mode": "zip" if self.zip else "grid",
            "seed": self.seed,
            "replications": self.results[0].point.replications if self.results else 0,
            "metrics": list(self.metrics),
            "points": len(self.results),
            "computed_points": self.computed,
            "optimize": [o.to_dict() for o in self.optima] or None,
            "base_values": {k: lookup(resolved_dict(self.scenario), k) for k in self.keys},
        }

    def write(self, folder: Path, plots: bool = True, parquet: bool = False) -> None:
        """Write sweep.csv (and sweep.parquet), sweep.json, resolved.yaml, metadata.json,
        each point's records under points/ and sweep.png into an existing folder."""
        from simulator.loader import resolved_dict
        from simulator.output import _clean, atomic_write_text, write_json, write_yaml
        from simulator.tablecsv import read_csv_rows, rows_csv

        meta = self.meta()
        atomic_write_text(folder / "sweep.csv", rows_csv(self.rows))
        if parquet:
            from simulator.output import write_parquet

            write_parquet(folder / "sweep.parquet", self.rows)
        write_json(folder / "sweep.json", meta)
        write_yaml(folder / "resolved.yaml", resolved_dict(self.scenario))
        write_json(folder / "metadata.json", self.info.metadata(self.seed))
        for r in self.results:
            if not Grid.point_file(folder, r.point).exists():
                Grid.save(folder, r.point, r.records)
        if plots:
            from simulator.plots import draw_sweep

            draw_sweep(read_csv_rows(folder / "sweep.csv"), _clean(meta), folder / "sweep.png")

    def save(self, directory: str | Path, plots: bool = True, parquet: bool = False) -> Path:
        """Write the files ``dcsim sweep`` writes to ``directory``, all at once; finished
        points already in its ``points/`` (other grids, refinements) are kept, as the CLI
        keeps them."""
        from simulator.outdir import save_into
        from simulator.sweepgrid import keep_points

        # the folder's points are linked first, not rewritten
        return save_into(lambda stage: self.write(stage, plots, parquet), directory,
                         keep_points)


def specs_for(values: Mapping[str, Any] | Sequence[ParamSpec]) -> list[ParamSpec]:
    """Swept keys from ``{key: [values]}`` (each value as ``--set`` reads it: a string with
    its units, anything else as YAML) or ``{key: "START:STOP:N"}`` (N log-spaced values, as
    ``--range``); a sequence of :class:`ParamSpec` is taken as it stands."""
    from simulator.errors import ScenarioError
    from simulator.loader import override_text
    from simulator.sweepparams import parse_range, values_spec

    if not isinstance(values, Mapping):
        return list(values)
    specs, problems = [], []
    for key, vals in values.items():
        try:
            if isinstance(vals, str):
                specs.append(parse_range(key, vals))
            else:
                items = [override_text(key, v).split("=", 1)[1] for v in vals]
                specs.append(values_spec(key, items, f"values {items}",
                                         f"{key}: values {items}"))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return specs


def plan(source: str | Path | Mapping[str, Any], values: Mapping[str, Any] | Sequence[ParamSpec],
         zip_: bool = False, replications: int | None = None, seed: int | None = None,
         optimize: bool = False, overrides: Mapping[str, Any] | Sequence[str] | None = None
         ) -> Grid:
    """Every point of a sweep validated, nothing run yet (see :func:`sweep`; ``overrides``: a
    mapping, or ``--set`` texts applied in order); raises
    :class:`simulator.errors.ScenarioError` listing every problem."""
    from simulator.errors import ScenarioError
    from simulator.loader import override_texts
    from simulator.sweepgrid import INTERVAL_KEY

    specs = specs_for(values)
    keys = [s.key for s in specs]
    if optimize and INTERVAL_KEY not in keys:
        raise ScenarioError([f"--optimize refines {INTERVAL_KEY}: sweep it with "
                             f"--param {INTERVAL_KEY}"])
    if optimize and zip_ and len(keys) > 1:
        raise ScenarioError([f"--optimize needs {INTERVAL_KEY} swept on a grid, not with --zip"])
    return Grid(source if isinstance(source, Mapping) else Path(source),
                override_texts(overrides), specs, zip_, seed, replications)


def run_plan(grid: Grid, jobs: int = 1, executor: Executor | None = None,
             optimize: bool = False, metrics: Sequence[str] | None = None,
             cache: str | Path | None = None, also_read: Sequence[str | Path] = (),
             stages: Stages | None = None, log: Callable[[str], None] | None = None,
             info: RunInfo | None = None,
             planned: tuple[dict[str, list[ReplicationRecord]], list[Any]] | None = None
             ) -> Sweep:
    """Run a :func:`plan` (arguments as in :func:`sweep`; ``info``: a clock the caller
    started, e.g. before starting its executor, and stops; ``planned``: what
    ``grid.plan(cache, grid.points)`` gave the caller, not read again)."""
    from simulator.executors import executor_or_local
    from simulator.sweepgrid import pending_tasks

    grid.also_read = [Path(p) for p in also_read]
    store = None if cache is None else Path(cache)
    stages = stages or _quiet
    points = grid.points
    cached, pending = planned if planned is not None else grid.plan(store, points)
    if cached and log is not None:
        log(f"resuming: {len(cached)} of {len(points)} points already computed")
    optima: list[IntervalOptimum] = []
    own = info is None  # a clock the caller passed is the caller's to stop
    info = RunInfo(jobs) if info is None else info
    with executor_or_local(executor, jobs) as ex:
        info.where = ex.description
        with stages(f"{grid.base.name}: {len(pending)} points × replications",
                    pending_tasks(pending)) as advance:
            results = grid.compute(store, points, ex, advance, (cached, pending))
        if optimize:
            with stages("optimizing the checkpoint interval", None) as advance:
                optima = grid.optimize(store, results, ex, advance)
    if own:
        info.stop()
    return Sweep(grid.base, grid.specs, grid.zip, grid.seed, results, optima, len(pending),
                 grid.label, list(metrics or DEFAULT_METRICS), info)


def sweep(source: str | Path | Mapping[str, Any],
          values: Mapping[str, Any] | Sequence[ParamSpec], zip_: bool = False,
          replications: int | None = None, seed: int | None = None, jobs: int = 1,
          executor: Executor | None = None, optimize: bool = False,
          metrics: Sequence[str] | None = None, cache: str | Path | None = None,
          also_read: Sequence[str | Path] = (), stages: Stages | None = None,
          log: Callable[[str], None] | None = None, **overrides: Any) -> Sweep:
    """Run ``source`` (a scenario file or mapping, with ``--set``-style ``overrides``) at
    every combination of ``values`` (``zip_``: the i-th value of every key together).

    Args:
        values: dotted key -> list of values (``["5 min", "10 min"]``) or ``"START:STOP:N"``.
        replications, seed: per point (default: the scenario's ``run`` block).
        jobs: local worker processes when no ``executor`` is given.
        optimize: also refine the checkpoint interval minimising mean wall clock (days) per
            series of points (``job.checkpoint.interval`` must be swept).
        metrics: what tables and plots show (default: ETTR and wall clock).
        cache: a folder whose ``points/`` holds finished points (read, and written as each
            point finishes, atomically; not locked against another sweep writing there);
            ``also_read``: further folders only read.
        stages: progress per phase (see :data:`Stages`); ``log``: notes such as a resume.

    Raises :class:`simulator.errors.ScenarioError` listing every problem before running.
    """
    grid = plan(source, values, zip_, replications, seed, optimize, overrides)
    return run_plan(grid, jobs, executor, optimize, metrics, cache, also_read, stages, log)
