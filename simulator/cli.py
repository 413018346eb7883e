"""The ``dcsim`` command line: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 runtime error, 2 bad input (never a traceback for bad input).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from simulator.errors import ScenarioError
from simulator.limits import MAX_REPLICATIONS
from simulator.outdir import OutputError, OutputFolder
from simulator.report import progress_bar, render_run_table, step

if TYPE_CHECKING:
    from simulator.config import Scenario

# the library is imported inside each command, so that --help and errors answer at once


def load_scenario(path: Path, sets: list[str] | None = None) -> Scenario:
    from simulator.loader import load_scenario as load

    return load(path, sets or [])


def load_with_warnings(path: Path, sets: list[str]) -> tuple[Scenario, list[dict[str, str]]]:
    from simulator.loader import load_with_warnings as load

    return load(path, sets)


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    from simulator.loader import resolved_dict as resolved

    return resolved(scenario)


def metadata(*args: Any) -> dict[str, Any]:
    from simulator.output import metadata as meta

    return meta(*args)


class _FlagsWithoutPlaceholder:
    """Help lists on/off flags bare: typer shows them with a ``<bool>`` placeholder, which
    reads as if they took a value (they are refused with one)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class _Command(_FlagsWithoutPlaceholder, TyperCommand):
    pass


class _Group(_FlagsWithoutPlaceholder, TyperGroup):
    pass


app = typer.Typer(
    cls=_Group,
    name="dcsim",
    help="Data-center scenario simulator for GPU training clusters.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from simulator import __version__

        typer.echo(f"dcsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", help="print the version and exit", callback=_version,
        is_eager=True)] = False) -> None:
    """Data-center scenario simulator for GPU training clusters."""


# a fixed width off a terminal keeps piped and logged tables readable
out = Console(width=None if sys.stdout.isatty() else 100)
err = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    json = "json"


class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


def _bad_input(problems: list[str]) -> typer.Exit:
    for line in problems:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _load(path: Path, sets: list[str] | None,
          strict: bool = False) -> tuple[Scenario, list[dict[str, str]]]:
    """The scenario and its input warnings (with ``strict``, printed as errors: exit 2)."""
    try:
        scenario, warnings = load_with_warnings(path, sets or [])
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None
    if strict:
        _warn(warnings, strict)
    return scenario, warnings


def _warn(warnings: list[dict[str, str]], strict: bool) -> None:
    """Print warnings on stderr; with ``--strict`` they are errors (exit 2)."""
    for w in warnings:
        err.print(f"{'error' if strict else 'warning'}: {w['message']}", markup=False,
                  highlight=False, soft_wrap=True)
    if strict and warnings:
        raise typer.Exit(2)


Replications = Annotated[int | None, typer.Option(
    "-r", "--replications", min=1, max=MAX_REPLICATIONS,
    help="replications (default: run.replications)")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, callback=lambda v: _seed_ok(v),
                                          help="root seed (default: run.seed)")]


def _seed_ok(value: int | None) -> int | None:
    if value is not None and value >= 2**128:
        raise typer.BadParameter("must be below 2**128, as run.seed")
    return value
Output = Annotated[Path | None, typer.Option("-o", "--output",
                                             help="output folder (default: results/<name>/)")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="override a key: key.path=value")]
Jobs = Annotated[int | None, typer.Option(
    "-j", "--jobs", min=1, help="local worker processes (default: all cores; results do not depend on it)")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="skip the PNG plots")]
Fmt = Annotated[Format, typer.Option("--format", help="print a table or JSON")]
ExecutorOpt = Annotated[ExecutorKind, typer.Option(
    "--executor", help="where replications run: local processes, or a Dask cluster "
                       "(needs the dask extra); results do not depend on it")]
Scheduler = Annotated[str | None, typer.Option(
    "--scheduler", metavar="ADDR",
    help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default with --executor dask: "
         "a local Dask cluster of -j workers)")]
Strict = Annotated[bool, typer.Option(
    "--strict", help="treat warnings (unit slips, a plant too small, a starved job, a horizon "
                     "reached...) as errors: exit 2")]
Metrics = Annotated[list[str] | None, typer.Option(
    "--metric", help="metric to show and plot (repeat for several)")]


def _executor(kind: ExecutorKind, jobs: int, scheduler: str | None) -> Any:
    from simulator.executors import ExecutorError, make_executor

    try:
        return make_executor(kind.value, jobs, scheduler)
    except ExecutorError as exc:
        raise _bad_input([str(exc)]) from None


@contextlib.contextmanager
def _output(out_dir: Path, keep_partial: bool = False) -> Iterator[OutputFolder]:
    """The output folder, checked and locked before any simulation; files go to its stage and
    appear together at :meth:`OutputFolder.commit`."""
    folder = OutputFolder(out_dir, keep_partial)
    try:
        folder.__enter__()
    except OutputError as exc:
        raise _bad_input([str(exc)]) from None
    try:
        yield folder
    except KeyboardInterrupt:
        kept = (" (finished sweep points are kept: run the same command again to resume)"
                if keep_partial else "")
        err.print(f"stopped before the end: {out_dir} keeps its previous contents{kept}",
                  markup=False, highlight=False)
        raise
    except OSError as exc:
        err.print(f"{out_dir}: cannot write the results: {exc.strerror or exc}; the previous "
                  f"contents of the folder are unchanged", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        folder.__exit__(None, None, None)


def _workers(jobs: int | None, tasks: int) -> int:
    """Worker processes: at most one per core (more only add memory and start-up time; the
    results do not depend on it) and one per task."""
    cores = os.cpu_count() or 1
    if jobs is not None and jobs > cores:
        err.print(f"note: -j {jobs} is more than this machine's {cores} cores; using {cores} "
                  f"worker processes", highlight=False)
    return max(1, min(jobs or cores, cores, tasks))


def _check_metrics(metrics: list[str] | None) -> None:
    from simulator.records import METRICS

    bad = [m for m in metrics or [] if m not in METRICS]
    if bad:
        raise _bad_input([f"--metric {m}: unknown metric (use one of: {', '.join(METRICS)})"
                          for m in bad])


@app.command(cls=_Command)
def run(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    replications: Replications = None,
    seed: Seed = None,
    output: Output = None,
    set_: Sets = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = ExecutorKind.local,
    scheduler: Scheduler = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
    strict: Strict = False,
) -> None:
    """Run a scenario's replications; print simulated vs analytic, write the result folder."""
    from simulator.analytic import analytic_for
    from simulator.diagnostics import analytic_caveats, result_warnings
    from simulator.output import build_summary, write_run
    from simulator.runner import run_replications

    scenario, warnings = _load(scenario_file, set_, strict)
    n = replications or scenario.run.replications
    jobs = _workers(jobs, n)
    root_seed = scenario.run.seed if seed is None else seed
    out_dir = output or Path("results") / scenario.name
    with _output(out_dir) as folder:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        with _executor(executor, jobs, scheduler) as ex, \
                progress_bar(f"{scenario.name}", n, enabled=fmt is Format.table) as advance:
            result = run_replications(scenario, n, root_seed, jobs, advance, executor=ex)
            where = ex.description
        wall = time.perf_counter() - t0
        analytic = analytic_for(scenario)
        warnings = warnings + result_warnings(scenario, result.records)
        summary = build_summary(scenario.name, result.records, root_seed, analytic, wall,
                                warnings, analytic_caveats(scenario, result.records))
        meta = metadata(root_seed, sys.argv, started, wall, jobs, where)
        write_run(folder.stage, resolved_dict(scenario), result.records, summary, meta,
                  result.timeline, result.segments)
        if not no_plots:
            from simulator.runplots import draw_run

            with step("drawing plots", enabled=fmt is Format.table):
                draw_run(folder.stage, summary, result.timeline.changes,
                         result.records[0].wall_clock_days, scenario, result.segments.rows)
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(_json_safe(summary)))
    else:
        render_run_table(out, scenario, summary)
        out.print(f"results in {out_dir}/", highlight=False)
    if strict and warnings:
        err.print(f"--strict: {len(warnings)} warning(s) (results written to {out_dir}/)",
                  highlight=False)
        raise typer.Exit(2)


def _json_safe(data: Any) -> Any:
    from simulator.output import _clean

    return _clean(data)


@app.command(cls=_Command)
def validate(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    set_: Sets = None,
    strict: Strict = False,
) -> None:
    """Check a scenario file; list every problem as file: key: message (exit 2 if any), then
    any warning about what it probably means."""
    scenario, warnings = _load(scenario_file, set_, strict)
    _warn(warnings, strict)
    out.print(f"{scenario_file}: ok ({scenario.name})", highlight=False)


@app.command(cls=_Command)
def init(
    name: Annotated[str, typer.Argument(help="scenario name; writes NAME.yaml here")],
    gpus: Annotated[int, typer.Option("--gpus", min=8, max=100_000_000,
                                      help="GPUs the job uses")] = 32_768,
    gpu: Annotated[str, typer.Option("--gpu", help="catalog GPU type")] = "h100",
    power: Annotated[bool, typer.Option("--power", help="add a power block (a grid tie sized "
                                                        "to the site's peak)")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace NAME.yaml if it exists")] = False,
) -> None:
    """Write a commented starter scenario NAME.yaml: the Llama 3 failure mix, suggested spare
    nodes, Daly's checkpoint interval; no power block unless --power."""
    from simulator.catalog import CATALOG
    from simulator.output import atomic_write_text
    from simulator.starter import starter

    problems = []
    if not name or not all(c.isalnum() or c in "_.-" for c in name) or set(name) <= {"."}:
        problems.append(f"{name!r}: a name is letters, digits, '_', '-' and '.'")
    if gpu.lower() not in CATALOG:
        problems.append(f"--gpu {gpu}: unknown GPU type (use one of: {', '.join(CATALOG)})")
    path = Path(f"{name}.yaml")
    if path.exists() and not force:
        problems.append(f"{path}: exists already (use --force to replace it)")
    if problems:
        raise _bad_input(problems)
    try:
        text = starter(name, gpus, gpu.lower(), power)
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None
    atomic_write_text(path, text)
    out.print(f"wrote {path}: check it with `dcsim validate {path}`", highlight=False)


@app.command(cls=_Command)
def schema() -> None:
    """Print the JSON Schema of the scenario file."""
    from simulator.config import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


class _SweepCommand(_Command):
    """Remembers the order of ``--values`` and ``--range`` on the command line, so each pairs
    with its ``--param`` even when both kinds are mixed (click groups options by name)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        order = []
        for tok in args:
            if tok == "--":
                break
            for kind in ("--values", "--range"):
                if tok == kind or tok.startswith(kind + "="):
                    order.append(kind)
        ctx.meta["dcsim.spec_order"] = order
        return super().parse_args(ctx, args)


def _param_specs(ctx: typer.Context, params: list[str], values: list[str],
                 ranges: list[str]) -> list[Any]:
    from simulator.sweep import parse_range, parse_values

    order = ctx.meta.get("dcsim.spec_order")
    if not order or len(order) != len(values) + len(ranges):
        order = ["--values"] * len(values) + ["--range"] * len(ranges)
    if len(order) != len(params):
        raise _bad_input([f"give each --param one --values or --range ({len(params)} --param, "
                          f"{len(values)} --values, {len(ranges)} --range)"])
    vals, rngs = iter(values), iter(ranges)
    try:
        return [parse_values(key, next(vals)) if kind == "--values" else parse_range(key, next(rngs))
                for key, kind in zip(params, order, strict=True)]
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None


@app.command(cls=_SweepCommand)
def sweep(
    ctx: typer.Context,
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    param: Annotated[list[str], typer.Option(
        "--param", metavar="KEY", help="dotted scenario key to sweep, e.g. job.checkpoint.interval"
                                       " (repeat for several)")],
    values: Annotated[list[str] | None, typer.Option(
        "--values", metavar="V1,V2,...", help="comma-separated values for a --param, units "
                                              "allowed: '2 min,5 min,10 min'")] = None,
    range_: Annotated[list[str] | None, typer.Option(
        "--range", metavar="START:STOP:N", help="N log-spaced values for a --param: "
                                                "'2 min:30 min:10'")] = None,
    zip_: Annotated[bool, typer.Option(
        "--zip", help="pair the i-th values of every --param instead of the full grid")] = False,
    metric: Metrics = None,
    optimize: Annotated[bool, typer.Option(
        "--optimize", help="refine the best job.checkpoint.interval (bounded search on the "
                           "log interval, minimising mean wall clock on the same seeds)")] = False,
    replications: Replications = None,
    seed: Seed = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="output folder (default: results/<name>-sweep/); run again with "
                               "the same folder to resume")] = None,
    set_: Sets = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = ExecutorKind.local,
    scheduler: Scheduler = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
) -> None:
    """Run a scenario at every point of a parameter grid (same seeds at every point); write
    sweep.csv and sweep.png. Finished points are kept in DIR/points/ and reused on a rerun."""
    from simulator.output import atomic_write_text, write_json, write_yaml
    from simulator.sweep import (
        DEFAULT_METRICS,
        INTERVAL_KEY,
        Sweep,
        keep_points,
        lookup,
        pending_tasks,
        rows_csv,
        sweep_rows,
    )

    specs = _param_specs(ctx, param, values or [], range_ or [])
    _check_metrics(metric)
    if optimize and INTERVAL_KEY not in param:
        raise _bad_input([f"--optimize refines {INTERVAL_KEY}: sweep it with --param {INTERVAL_KEY}"])
    if optimize and zip_ and len(param) > 1:
        raise _bad_input([f"--optimize needs {INTERVAL_KEY} swept on a grid, not with --zip"])
    try:
        sw = Sweep(scenario_file, set_ or [], specs, zip_, seed, replications)
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None
    out_dir = output or Path("results") / f"{sw.base.name}-sweep"
    with _output(out_dir, keep_partial=True) as folder:
        stage = folder.stage
        sw.also_read = [folder.final]
        points = sw.points
        cached, pending = sw.plan(stage, points)
        total = pending_tasks(pending)
        jobs = _workers(jobs, total)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        shown = fmt is Format.table
        if shown and cached:
            err.print(f"resuming: {len(cached)} of {len(points)} points already computed in "
                      f"{out_dir}/", highlight=False)
        optima = []
        with _executor(executor, jobs, scheduler) as ex:
            label = f"{sw.base.name}: {len(pending)} points × replications"
            with progress_bar(label, total, enabled=shown) as advance:
                results = sw.compute(stage, points, ex, advance)
            if optimize:
                with progress_bar("optimizing the checkpoint interval", None,
                                  enabled=shown) as advance:
                    optima = sw.optimize(stage, results, ex, advance)
            where = ex.description
        wall = time.perf_counter() - t0
        rows = sweep_rows(results, sw.keys)
        meta = {
            "kind": "sweep",
            "scenario": sw.base.name,
            "file": str(scenario_file),
            "params": [s.to_dict() for s in specs],
            "mode": "zip" if zip_ else "grid",
            "seed": sw.seed,
            "replications": points[0].replications if points else 0,
            "metrics": list(metric or DEFAULT_METRICS),
            "points": len(points),
            "computed_points": len(pending),
            "optimize": [o.to_dict() for o in optima] or None,
            "base_values": {k: lookup(resolved_dict(sw.base), k) for k in param},
        }
        atomic_write_text(stage / "sweep.csv", rows_csv(rows))
        write_json(stage / "sweep.json", meta)
        write_yaml(stage / "resolved.yaml", resolved_dict(sw.base))
        write_json(stage / "metadata.json",
                   metadata(sw.seed, sys.argv, started, wall, jobs, where))
        if not no_plots:
            from simulator.plots import draw_sweep
            from simulator.sweep import read_csv_rows

            draw_sweep(read_csv_rows(stage / "sweep.csv"), _json_safe(meta), stage / "sweep.png")
        keep_points(folder.final, stage)
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(_json_safe({**meta, "rows": rows})))
        return
    from simulator.report import render_optima, render_sweep_table

    render_sweep_table(out, meta, rows, {r.point.index for r in results if r.cached})
    render_optima(out, meta, rows)
    out.print(f"computed {len(pending)} of {len(points)} points in {wall:.1f} s ({where}); "
              f"results in {out_dir}/", highlight=False)


@app.command(cls=_Command)
def optimize(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    param: Annotated[str, typer.Option("--param", metavar="KEY",
                                       help="dotted scenario key to search, e.g. "
                                            "power.battery.count")],
    bounds: Annotated[str, typer.Option("--bounds", metavar="LO:HI",
                                        help="search interval, units allowed: '2 min:1 h'")],
    objective: Annotated[str, typer.Option(
        "--objective", metavar="METRIC", help="metric to minimise (its mean), or KEY itself "
                                              "(the smallest value that meets the constraints)")],
    maximize: Annotated[bool, typer.Option("--maximize", help="maximise instead")] = False,
    constraint: Annotated[list[str] | None, typer.Option(
        "--constraint", metavar="'METRIC OP NUMBER'",
        help="a condition on a metric's mean, e.g. 'power_trips == 0' (repeat for several)")]
    = None,
    integer: Annotated[bool, typer.Option("--integer", help="whole-number values only "
                                                            "(counts)")] = False,
    replications: Replications = None,
    seed: Seed = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="output folder (default: results/<name>-optimize/)")] = None,
    set_: Sets = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = ExecutorKind.local,
    scheduler: Scheduler = None,
    fmt: Fmt = Format.table,
) -> None:
    """Find the value of --param in --bounds that minimises (--maximize: maximises) --objective
    subject to every --constraint, each value run on the same seeds; print the search path and
    the answer with its 95% CI."""
    from simulator.compare import run_compare
    from simulator.optimize import Search, parse_bounds, parse_constraint, path_rows
    from simulator.output import atomic_write_text, write_json
    from simulator.sweep import rows_csv

    base, _ = _load(scenario_file, set_)
    problems: list[str] = []
    constraints = []
    for text in constraint or []:
        try:
            constraints.append(parse_constraint(text))
        except ScenarioError as exc:
            problems += exc.problems
    from simulator.records import METRICS

    if objective not in METRICS and objective != param:
        problems.append(f"--objective {objective}: unknown metric (use a metric or {param})")
    try:
        lo, hi = parse_bounds(param, bounds)
    except ScenarioError as exc:
        lo = hi = 0.0
        problems += exc.problems
    if problems:
        raise _bad_input(problems)
    n = replications or base.run.replications
    root_seed = base.run.seed if seed is None else seed
    jobs = _workers(jobs, n)

    def scenario_at(x: float) -> Any:
        value = int(x) if integer else x
        try:
            return load_scenario(scenario_file, (set_ or []) + [f"{param}={value}"])
        except ScenarioError as exc:
            raise _bad_input(exc.problems) from None

    out_dir = output or Path("results") / f"{base.name}-optimize"
    with _output(out_dir) as folder, _executor(executor, jobs, scheduler) as ex:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        search = Search(param, float(lo), float(hi), objective, maximize, constraints, integer,
                        lambda x: run_compare([scenario_at(x)], root_seed, n, ex)[0])
        best = search.run()
        wall = time.perf_counter() - t0
        answer = None if best is None else {
            param: best.x, "objective": objective, **best.objective.to_dict(),
            "constraints": best.constraints}
        meta = {"kind": "optimize", "scenario": base.name, "file": str(scenario_file),
                "param": param, "bounds": [lo, hi], "objective": objective,
                "maximize": maximize, "constraints": [str(c) for c in constraints],
                "integer": integer, "seed": root_seed, "replications": n,
                "evaluations": len(search.path), "answer": answer}
        atomic_write_text(folder.stage / "optimize.csv", rows_csv(path_rows(search)))
        write_json(folder.stage / "optimize.json", meta)
        write_json(folder.stage / "metadata.json",
                   metadata(root_seed, sys.argv, started, wall, jobs, ex.description))
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(_json_safe({**meta, "path": path_rows(search)})))
    else:
        from simulator.report import render_optimize

        render_optimize(out, meta, path_rows(search))
        out.print(f"{len(search.path)} evaluations × {n} replications in {wall:.1f} s; "
                  f"results in {out_dir}/", highlight=False)


@app.command(cls=_Command)
def compare(
    scenario_files: Annotated[list[Path], typer.Argument(metavar="A.yaml B.yaml ...")],
    variant: Annotated[list[str] | None, typer.Option(
        "--variant", metavar="'LABEL: key=value; ...'",
        help="also compare the first file with these overrides, under LABEL (repeat for "
             "several), e.g. 'restart 2 min: job.restart.time=2 min'")] = None,
    metric: Metrics = None,
    replications: Replications = None,
    seed: Seed = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="output folder (default: results/compare-<a>-vs-<b>/)")] = None,
    set_: Sets = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = ExecutorKind.local,
    scheduler: Scheduler = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
) -> None:
    """Compare scenarios on common random numbers: replication i of every scenario uses the
    same seeds. Seed and replications come from the first file unless given. Differences
    against the first scenario have paired 95% CIs."""
    from simulator.compare import (
        COLUMNS,
        DEFAULT_PLOT,
        DEFAULT_TABLE,
        compare_rows,
        default_dir,
        labels_for,
        parse_variant,
        run_compare,
        safe,
        shown_metrics,
    )
    from simulator.output import atomic_write_text, replications_csv, write_json, write_yaml
    from simulator.sweep import rows_csv

    _check_metrics(metric)
    problems: list[str] = []
    scenarios = []
    for path in scenario_files:
        try:
            scenarios.append(load_scenario(path, set_ or []))
        except ScenarioError as exc:
            problems += exc.problems
    labels = labels_for(scenario_files, scenarios) if scenarios else []
    for text in variant or []:
        try:
            label, sets = parse_variant(text)
            scenarios.append(load_scenario(scenario_files[0], (set_ or []) + sets))
            labels.append(label)
        except ScenarioError as exc:
            problems += [f"--variant {text!r}: {p}" if not p.startswith("--variant") else p
                         for p in exc.problems]
    if len(set(labels)) != len(labels):
        problems.append(f"--variant: labels must differ from each other and from the files' "
                        f"({', '.join(labels)})")
    if problems:
        raise _bad_input(problems)
    n = replications or scenarios[0].run.replications
    root_seed = scenarios[0].run.seed if seed is None else seed
    out_dir = output or default_dir(labels)
    with _output(out_dir) as folder:
        stage = folder.stage
        total = n * len(scenarios)
        jobs = _workers(jobs, total)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        with _executor(executor, jobs, scheduler) as ex, \
                progress_bar(f"{' vs '.join(labels)}", total, enabled=fmt is Format.table) as advance:
            records = run_compare(scenarios, root_seed, n, ex, advance)
            where = ex.description
        wall = time.perf_counter() - t0
        rows = compare_rows(labels, records)
        table_metrics = shown_metrics(rows, metric or DEFAULT_TABLE)
        plot_metrics = shown_metrics(rows, metric or DEFAULT_PLOT)
        meta = {
            "kind": "compare",
            "labels": labels,
            "files": [str(p) for p in scenario_files],
            "variants": list(variant or []),
            "names": [s.name for s in scenarios],
            "baseline": labels[0],
            "seed": root_seed,
            "replications": n,
            "metrics": table_metrics,
            "plot_metrics": plot_metrics,
        }
        atomic_write_text(stage / "compare.csv", rows_csv([{c: r[c] for c in COLUMNS} for r in rows]))
        write_json(stage / "compare.json", meta)
        for label, scenario, recs in zip(labels, scenarios, records, strict=True):
            atomic_write_text(stage / f"replications-{safe(label)}.csv", replications_csv(recs))
            write_yaml(stage / f"resolved-{safe(label)}.yaml", resolved_dict(scenario))
        write_json(stage / "metadata.json", metadata(root_seed, sys.argv, started, wall, jobs, where))
        if not no_plots:
            from simulator.plots import draw_compare

            draw_compare(rows, meta, stage / "compare.png")
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(_json_safe({**meta, "rows": [r for r in rows
                                                                 if r["metric"] in table_metrics]})))
        return
    from simulator.report import render_compare_table

    render_compare_table(out, meta, rows, table_metrics)
    out.print(f"{n} replications × {len(labels)} scenarios in {wall:.1f} s ({where}); "
              f"results in {out_dir}/", highlight=False)


@app.command(cls=_Command)
def plot(result_dir: Annotated[Path, typer.Argument(metavar="RESULT_DIR")]) -> None:
    """Redraw the plots of a run, sweep or comparison folder from its files."""
    from simulator.redraw import redraw

    try:
        done = redraw(result_dir)
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None
    out.print(done, highlight=False)


if os.environ.get("DCSIM_DEBUG"):  # pragma: no cover
    app.pretty_exceptions_enable = True
