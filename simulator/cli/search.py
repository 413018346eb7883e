"""``dcsim sweep`` and ``dcsim optimize``: a scenario over values of its keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from simulator.cli.common import (
    Command,
    ExecutorKind,
    ExecutorOpt,
    Fmt,
    Format,
    Jobs,
    Metrics,
    NoPlots,
    Parquet,
    Replications,
    Scheduler,
    Seed,
    Sets,
    app,
    bad_input,
    check_metrics,
    err,
    executor_for,
    json_safe,
    need_parquet,
    out,
    output_folder,
    workers,
)
from simulator.errors import ScenarioError


class _SweepCommand(Command):
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
    from simulator.sweepparams import parse_range, parse_values

    order = ctx.meta.get("dcsim.spec_order")
    if not order or len(order) != len(values) + len(ranges):
        order = ["--values"] * len(values) + ["--range"] * len(ranges)
    if len(order) != len(params):
        raise bad_input([f"give each --param one --values or --range ({len(params)} --param, "
                          f"{len(values)} --values, {len(ranges)} --range)"])
    vals, rngs = iter(values), iter(ranges)
    try:
        return [parse_values(key, next(vals)) if kind == "--values" else parse_range(key, next(rngs))
                for key, kind in zip(params, order, strict=True)]
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None


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
    parquet: Parquet = False,
    fmt: Fmt = Format.table,
) -> None:
    """Run a scenario at every point of a parameter grid (same seeds at every point); write
    sweep.csv and sweep.png. Finished points are kept in DIR/points/ and reused on a rerun."""
    from simulator.sweepgrid import keep_points, pending_tasks
    from simulator.sweepstudy import plan, run_plan

    need_parquet(parquet)
    specs = _param_specs(ctx, param, values or [], range_ or [])
    check_metrics(metric)
    try:
        grid = plan(scenario_file, specs, zip_, replications, seed, optimize, set_ or [])
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    out_dir = output or Path("results") / f"{grid.base.name}-sweep"
    shown = fmt is Format.table
    with output_folder(out_dir, keep_partial=True) as folder:
        stage = folder.stage
        grid.also_read = [folder.final]
        planned = grid.plan(stage, grid.points)  # read once: cores for the points left
        pending = planned[1]
        jobs = workers(jobs, pending_tasks(pending))
        from simulator.output import RunInfo
        from simulator.report import progress_bar

        info = RunInfo(jobs)  # the wall time includes starting and stopping the executor
        with executor_for(executor, jobs, scheduler) as ex:
            result = run_plan(
                grid, jobs, ex, optimize, metric, cache=stage, also_read=[folder.final],
                stages=lambda label, total: progress_bar(label, total, enabled=shown),
                log=(lambda text: err.print(f"{text} in {out_dir}/", highlight=False))
                if shown else None, info=info, planned=planned)
        info.stop()
        keep_points(folder.final, stage)  # linked, not rewritten
        result.write(stage, not no_plots, parquet)
        folder.commit()
    meta = result.meta()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "rows": result.rows})))
        return
    from simulator.report import render_optima, render_sweep_table

    render_sweep_table(out, meta, result.rows, {r.point.index for r in result.results if r.cached})
    render_optima(out, meta, result.rows)
    out.print(f"computed {result.computed} of {len(result.results)} points in "
              f"{result.info.wall_s:.1f} s ({result.info.where}); results in {out_dir}/",
              highlight=False)


@app.command(cls=Command)
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
    from simulator.studies import plan_search

    try:
        search = plan_search(scenario_file, param, bounds, objective, maximize,
                             list(constraint or []), integer, replications, seed, set_ or [])
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    out_dir = output or Path("results") / f"{search.scenario.name}-optimize"
    with output_folder(out_dir) as folder:
        jobs = workers(jobs, search.replications)
        from simulator.output import RunInfo

        info = RunInfo(jobs)  # the wall time includes starting and stopping the executor
        with executor_for(executor, jobs, scheduler) as ex:
            try:
                result = search.run(jobs, ex, info)
            except ScenarioError as exc:
                raise bad_input(exc.problems) from None
        info.stop()
        result.write(folder.stage)
        folder.commit()
    meta = result.meta()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "path": result.path})))
    else:
        from simulator.report import render_optimize

        render_optimize(out, meta, result.path)
        out.print(f"{len(result.path)} evaluations × {result.replications} replications in "
                  f"{result.info.wall_s:.1f} s; results in {out_dir}/", highlight=False)
