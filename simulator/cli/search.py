"""``dcsim sweep`` and ``dcsim optimize``: a scenario over values of its keys."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
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
    load,
    load_scenario,
    metadata,
    need_parquet,
    out,
    output_folder,
    resolved_dict,
    workers,
)
from simulator.errors import ScenarioError
from simulator.report import progress_bar


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
    from simulator.sweepgrid import parse_range, parse_values

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
    from simulator.output import atomic_write_text, write_json, write_yaml
    from simulator.sweepgrid import (
        DEFAULT_METRICS,
        INTERVAL_KEY,
        Sweep,
        keep_points,
        lookup,
        pending_tasks,
        rows_csv,
        sweep_rows,
    )

    need_parquet(parquet)
    specs = _param_specs(ctx, param, values or [], range_ or [])
    check_metrics(metric)
    if optimize and INTERVAL_KEY not in param:
        raise bad_input([f"--optimize refines {INTERVAL_KEY}: sweep it with --param {INTERVAL_KEY}"])
    if optimize and zip_ and len(param) > 1:
        raise bad_input([f"--optimize needs {INTERVAL_KEY} swept on a grid, not with --zip"])
    try:
        sw = Sweep(scenario_file, set_ or [], specs, zip_, seed, replications)
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    out_dir = output or Path("results") / f"{sw.base.name}-sweep"
    with output_folder(out_dir, keep_partial=True) as folder:
        stage = folder.stage
        sw.also_read = [folder.final]
        points = sw.points
        cached, pending = sw.plan(stage, points)
        total = pending_tasks(pending)
        jobs = workers(jobs, total)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        shown = fmt is Format.table
        if shown and cached:
            err.print(f"resuming: {len(cached)} of {len(points)} points already computed in "
                      f"{out_dir}/", highlight=False)
        optima = []
        with executor_for(executor, jobs, scheduler) as ex:
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
        if parquet:
            from simulator.output import write_parquet

            write_parquet(stage / "sweep.parquet", rows)
        write_json(stage / "sweep.json", meta)
        write_yaml(stage / "resolved.yaml", resolved_dict(sw.base))
        write_json(stage / "metadata.json",
                   metadata(sw.seed, sys.argv, started, wall, jobs, where))
        if not no_plots:
            from simulator.plots import draw_sweep
            from simulator.sweepgrid import read_csv_rows

            draw_sweep(read_csv_rows(stage / "sweep.csv"), json_safe(meta), stage / "sweep.png")
        keep_points(folder.final, stage)
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "rows": rows})))
        return
    from simulator.report import render_optima, render_sweep_table

    render_sweep_table(out, meta, rows, {r.point.index for r in results if r.cached})
    render_optima(out, meta, rows)
    out.print(f"computed {len(pending)} of {len(points)} points in {wall:.1f} s ({where}); "
              f"results in {out_dir}/", highlight=False)


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
    from simulator.comparison import run_compare
    from simulator.goalseek import Search, parse_bounds, parse_constraint, path_rows
    from simulator.output import atomic_write_text, write_json
    from simulator.sweepgrid import param_column, rows_csv

    base, _ = load(scenario_file, set_)
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
        raise bad_input(problems)
    n = replications or base.run.replications
    root_seed = base.run.seed if seed is None else seed
    jobs = workers(jobs, n)

    def scenario_at(x: float) -> Any:
        value = int(x) if integer else x
        try:
            return load_scenario(scenario_file, (set_ or []) + [f"{param}={value}"])
        except ScenarioError as exc:
            raise bad_input(exc.problems) from None

    out_dir = output or Path("results") / f"{base.name}-optimize"
    with output_folder(out_dir) as folder, executor_for(executor, jobs, scheduler) as ex:
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
                "param": param, "column": param_column(param), "bounds": [lo, hi], "objective": objective,
                "maximize": maximize, "constraints": [str(c) for c in constraints],
                "integer": integer, "seed": root_seed, "replications": n,
                "evaluations": len(search.path), "answer": answer}
        atomic_write_text(folder.stage / "optimize.csv", rows_csv(path_rows(search)))
        write_json(folder.stage / "optimize.json", meta)
        write_json(folder.stage / "metadata.json",
                   metadata(root_seed, sys.argv, started, wall, jobs, ex.description))
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "path": path_rows(search)})))
    else:
        from simulator.report import render_optimize

        render_optimize(out, meta, path_rows(search))
        out.print(f"{len(search.path)} evaluations × {n} replications in {wall:.1f} s; "
                  f"results in {out_dir}/", highlight=False)


