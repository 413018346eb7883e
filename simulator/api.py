"""The Python API: load a scenario, run it, and work with the result in a script or notebook.

    import simulator
    s = simulator.load("scenarios/100k_h100.yaml", **{"job.checkpoint.interval": "5 min"})
    r = simulator.run(s, replications=20, seed=1, jobs=2)
    r.summary["ettr"]          # {"mean": ..., "std": ..., "ci95_low": ..., "ci95_high": ...}
    r.by_cause                 # what each failure cause cost (h), costliest first
    r.warnings                 # [{"code": ..., "message": ...}]
    r.to_frame()               # one row per replication (needs pandas)
    r.save("results/mine")     # the files ``dcsim run`` writes

Overrides are the dotted keys and values of ``dcsim run --set``, with the same units: a
string is read exactly as ``--set key=value`` reads its value; a number, list or mapping is
written as YAML first. Metrics keep their units in their names (``wall_clock_days``,
``lost_work_hours``, ...); times in the records are in the unit their name says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.config import Scenario
from simulator.output import RunInfo
from simulator.records import ReplicationRecord

if TYPE_CHECKING:
    from simulator.adaptive import Precision
    from simulator.executors import Executor
    from simulator.loader import Source
    from simulator.runner import RunResult

Warning_ = dict[str, str]


def load(source: str | Path | Mapping[str, Any], **overrides: Any) -> Scenario:
    """A validated scenario from a file or a mapping, with ``--set``-style overrides
    (``**{"job.restart.time": "2 min"}``). Raises :class:`simulator.errors.ScenarioError`
    listing every problem."""
    from simulator.loader import override_texts

    return load_sets(source, override_texts(overrides))


def load_sets(source: str | Path | Mapping[str, Any], sets: list[str]) -> Scenario:
    """:func:`load` with the overrides as ``--set`` texts (``"job.restart.time=2 min"``),
    applied in order."""
    return read_sets(source, sets).scenario


def read_sets(source: str | Path | Mapping[str, Any], sets: list[str]) -> Source:
    """:func:`load_sets`, with what was read (the data, for further overrides)."""
    from simulator.diagnostics import input_warnings
    from simulator.loader import read_source

    src = read_source(source, sets)
    src.scenario._input_warnings = list(input_warnings(src.data, src.scenario))
    return src


@dataclass
class Result:
    """The outcome of :func:`run`.

    Attributes:
        scenario: what was run.
        summary: ``summary.json`` as a dict: metric -> {mean, std, ci95_low, ci95_high}, and
            the blocks ``analytic``, ``cost_by_cause``, ``warnings``, ``perf``...
        replications: one :class:`~simulator.records.ReplicationRecord` per replication.
        warnings: what a reader could misread, as ``{code, message}``.
        seed: the root seed.
        info: when, where and how long it ran (``metadata.json``).
    """

    scenario: Scenario
    summary: dict[str, Any]
    replications: list[ReplicationRecord]
    warnings: list[Warning_]
    seed: int
    _run: RunResult = field(repr=False)
    info: RunInfo = field(repr=False, default_factory=RunInfo)

    @property
    def by_cause(self) -> dict[str, dict[str, float]]:
        """Per cause, costliest first: mean interruptions and hours of work lost, of restarts
        and down after it, per replication."""
        return dict(self.summary.get("cost_by_cause") or {})

    def timeline(self, replication: int = 0) -> list[tuple[float, str, float]]:
        """Job state changes ``(time_s, state, progress_s)`` of one replication. Replication 0
        was recorded as it ran; another is re-run with its own seed (same numbers)."""
        if replication == 0:
            return list(self._run.timeline.changes)
        from simulator.model import Timeline, simulate
        from simulator.runner import seeds_for

        if not 0 <= replication < len(self.replications):
            raise IndexError(f"replication {replication} of {len(self.replications)}")
        probe = Timeline()
        simulate(self.scenario, seeds_for(self.seed, replication + 1)[replication],
                 replication, probe)
        return list(probe.changes)

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per replication, with the columns of
        ``replications.csv`` (units in their names). Needs pandas (``pip install pandas``)."""
        from simulator.output import csv_rows, frame

        return frame(csv_rows(self.replications))

    def write(self, folder: Path, plots: bool = True,
              drawing: Callable[[], Any] | None = None, parquet: bool = False) -> None:
        """Write the run's files into an existing folder (no atomic swap: see :meth:`save`);
        ``drawing``: a context manager shown while plots are drawn; ``parquet``: also
        ``replications.parquet`` (needs pandas and pyarrow)."""
        from simulator.loader import resolved_dict
        from simulator.output import csv_rows, write_parquet, write_run

        meta = self.info.metadata(self.seed)
        write_run(folder, resolved_dict(self.scenario), self.replications, self.summary, meta,
                  self._run.timeline, self._run.segments)
        if parquet:
            write_parquet(folder / "replications.parquet", csv_rows(self.replications))
        if plots:
            from contextlib import nullcontext

            from simulator.runplots import draw_run

            with drawing() if drawing is not None else nullcontext():
                draw_run(folder, self.summary, self._run.timeline.changes,
                         self.replications[0].wall_clock_days, self.scenario,
                         self._run.segments.rows)

    def save(self, directory: str | Path, plots: bool = True, parquet: bool = False) -> Path:
        """Write the files ``dcsim run`` writes to ``directory``, all at once (the previous
        contents stay until the new ones are complete). Returns the folder."""
        from simulator.outdir import save_into

        return save_into(lambda stage: self.write(stage, plots, parquet=parquet), directory)


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None,
        jobs: int = 1, executor: Executor | None = None,
        progress: Callable[[int], None] | None = None, ci_target: float | None = None,
        ci_metric: str = "wall_clock_days") -> Result:
    """Run a scenario's replications (default: ``run.replications`` with ``run.seed``).

    Args:
        jobs: local worker processes when no ``executor`` is given (1: this process).
        executor: e.g. :class:`simulator.executors.DaskExecutor`; results are identical on
            every executor and at any ``jobs``.
        progress: called with 1 as each replication finishes.
        ci_target: run replications until ``ci_metric``'s 95% CI half-width is at most this
            share of its mean (e.g. 0.005), ``replications`` being the cap (default 500).
    """
    from contextlib import nullcontext

    from simulator.analytic import analytic_for
    from simulator.diagnostics import analytic_caveats, initial_state, result_warnings
    from simulator.executors import executor_or_local
    from simulator.output import build_summary
    from simulator.runner import run_replications

    root_seed = scenario.run.seed if seed is None else seed
    info = RunInfo(jobs, executor.description if executor is not None else None)
    precision: Precision | None = None
    # one pool for the whole run (an adaptive run asks for replications in rounds)
    with executor_or_local(None, jobs) if executor is None and jobs > 1 \
            else nullcontext(executor) as ex:
        if ci_target is None:
            n = replications or scenario.run.replications
            result = run_replications(scenario, n, root_seed, jobs, progress, executor=ex)
        else:
            from simulator.adaptive import run_until

            n = replications or ADAPTIVE_CAP
            result, precision = run_until(scenario, root_seed, ci_metric, ci_target, n, jobs,
                                          progress, ex)
    wall = info.stop().wall_s
    warnings = list(getattr(scenario, "_input_warnings", []) or [])
    warnings += result_warnings(scenario, result.records)
    if precision is not None and not precision.met:
        warnings.append({"code": "ci_target_not_met", "message": (
            f"{ci_metric}: the 95% CI half-width is {precision.achieved_rel:.3%} of the "
            f"mean after the cap of {precision.cap} replications, above the "
            f"target {precision.target_rel:.3%}; raise the replications for more")})
    summary = build_summary(scenario.name, result.records, root_seed, analytic_for(scenario),
                            wall, warnings, analytic_caveats(scenario, result.records),
                            initial_state(scenario))
    if precision is not None:
        summary["precision"] = precision.to_dict()
    return Result(scenario, summary, result.records, warnings, root_seed, result, info)


#: replications an adaptive run may use unless told otherwise
ADAPTIVE_CAP = 500
