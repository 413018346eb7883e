"""``dcsim run``, ``validate``, ``init``, ``schema`` and ``plot``: one scenario at a time."""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from simulator.cli.common import (
    Command,
    ExecutorKind,
    ExecutorOpt,
    Fmt,
    Format,
    Jobs,
    NoPlots,
    Output,
    Replications,
    Scheduler,
    Seed,
    Sets,
    Strict,
    app,
    bad_input,
    err,
    executor_for,
    json_safe,
    load,
    metadata,
    out,
    output_folder,
    resolved_dict,
    warn,
    workers,
)
from simulator.errors import ScenarioError
from simulator.report import progress_bar, render_run_table, step

#: replications an adaptive run may use unless -r says otherwise
ADAPTIVE_CAP = 500


def _ci_target(text: str, metric: str) -> float:
    """'0.5%' or 0.005 -> 0.005; bad values and metrics exit 2."""
    from simulator.records import METRICS

    problems = []
    if metric not in METRICS:
        problems.append(f"--ci-metric {metric}: unknown metric")
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        value = math.nan
    if not (0.0 < value < 1.0):
        problems.append(f"--ci-target {text!r}: give a share of the mean between 0 and 100%, "
                        f"e.g. '0.5%'")
    if problems:
        raise bad_input(problems)
    return value


@app.command(cls=Command)
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
    ci_target: Annotated[str | None, typer.Option(
        "--ci-target", metavar="PCT",
        help="run replications until --ci-metric's 95%% CI half-width is at most this share "
             "of its mean, e.g. '0.5%%' (-r is then the cap, default 500)")] = None,
    ci_metric: Annotated[str, typer.Option(
        "--ci-metric", metavar="METRIC", help="the metric --ci-target applies to")]
        = "wall_clock_days",
) -> None:
    """Run a scenario's replications; print simulated vs analytic, write the result folder."""
    from simulator.analytic import analytic_for
    from simulator.diagnostics import analytic_caveats, initial_state, result_warnings
    from simulator.output import build_summary, write_run
    from simulator.runner import run_replications

    scenario, warnings = load(scenario_file, set_, strict)
    target = _ci_target(ci_target, ci_metric) if ci_target is not None else None
    n = replications or (ADAPTIVE_CAP if target is not None else scenario.run.replications)
    jobs = workers(jobs, n)
    root_seed = scenario.run.seed if seed is None else seed
    out_dir = output or Path("results") / scenario.name
    with output_folder(out_dir) as folder:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        with executor_for(executor, jobs, scheduler) as ex, \
                progress_bar(f"{scenario.name}", n, enabled=fmt is Format.table) as advance:
            precision = None
            if target is None:
                result = run_replications(scenario, n, root_seed, jobs, advance, executor=ex)
            else:
                from simulator.adaptive import run_until

                result, precision = run_until(scenario, root_seed, ci_metric, target, n, jobs,
                                              advance, ex)
            where = ex.description
        wall = time.perf_counter() - t0
        analytic = analytic_for(scenario)
        warnings = warnings + result_warnings(scenario, result.records)
        if precision is not None and not precision.met:
            warnings.append({"code": "ci_target_not_met", "message": (
                f"{ci_metric}: the 95% CI half-width is {precision.achieved_rel:.3%} of the "
                f"mean after the cap of {precision.cap} replications, above the "
                f"--ci-target {precision.target_rel:.3%}; raise -r for more")})
        summary = build_summary(scenario.name, result.records, root_seed, analytic, wall,
                                warnings, analytic_caveats(scenario, result.records),
                                initial_state(scenario))
        if precision is not None:
            summary["precision"] = precision.to_dict()
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
        out.print_json(json.dumps(json_safe(summary)))
    else:
        render_run_table(out, scenario, summary)
        out.print(f"results in {out_dir}/", highlight=False)
    if strict and warnings:
        err.print(f"--strict: {len(warnings)} warning(s) (results written to {out_dir}/)",
                  highlight=False)
        raise typer.Exit(2)



@app.command(cls=Command)
def validate(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    set_: Sets = None,
    strict: Strict = False,
) -> None:
    """Check a scenario file; list every problem as file: key: message (exit 2 if any), then
    any warning about what it probably means."""
    scenario, warnings = load(scenario_file, set_, strict)
    warn(warnings, strict)
    out.print(f"{scenario_file}: ok ({scenario.name})", highlight=False)


@app.command(cls=Command)
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
        raise bad_input(problems)
    try:
        text = starter(name, gpus, gpu.lower(), power)
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    atomic_write_text(path, text)
    out.print(f"wrote {path}: check it with `dcsim validate {path}`", highlight=False)


@app.command(cls=Command)
def schema() -> None:
    """Print the JSON Schema of the scenario file."""
    from simulator.config import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))




@app.command(cls=Command)
def plot(result_dir: Annotated[Path, typer.Argument(metavar="RESULT_DIR")]) -> None:
    """Redraw the plots of a run, sweep or comparison folder from its files."""
    from simulator.redraw import redraw

    try:
        done = redraw(result_dir)
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    out.print(done, highlight=False)

