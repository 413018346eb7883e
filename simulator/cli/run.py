"""``dcsim run``, ``validate``, ``init``, ``schema`` and ``plot``: one scenario at a time."""

from __future__ import annotations

import json
import math
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
    Parquet,
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
    need_parquet,
    out,
    output_folder,
    warn,
    workers,
)
from simulator.errors import ScenarioError


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
    parquet: Parquet = False,
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
    from simulator.api import ADAPTIVE_CAP
    from simulator.api import run as run_scenario
    from simulator.report import progress_bar, render_run_table, step

    need_parquet(parquet)
    scenario, warnings = load(scenario_file, set_, strict)
    scenario._input_warnings = warnings
    target = _ci_target(ci_target, ci_metric) if ci_target is not None else None
    n = replications or (ADAPTIVE_CAP if target is not None else scenario.run.replications)
    jobs = workers(jobs, n)
    out_dir = output or Path("results") / scenario.name
    with output_folder(out_dir) as folder:
        with executor_for(executor, jobs, scheduler) as ex, \
                progress_bar(f"{scenario.name}", n, enabled=fmt is Format.table) as advance:
            result = run_scenario(scenario, n, seed, jobs, ex, advance, target, ci_metric)
        result.write(folder.stage, not no_plots,
                     lambda: step("drawing plots", enabled=fmt is Format.table), parquet)
        folder.commit()
    summary = result.summary
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe(summary)))
    else:
        render_run_table(out, scenario, summary)
        out.print(f"results in {out_dir}/", highlight=False)
    if strict and result.warnings:
        err.print(f"--strict: {len(result.warnings)} warning(s) (results written to "
                  f"{out_dir}/)", highlight=False)
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



@app.command(cls=Command)
def report(
    result_dir: Annotated[Path, typer.Argument(metavar="RESULT_DIR")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="FILE", help="default: RESULT_DIR/report.html")] = None,
) -> None:
    """Write one self-contained HTML page (figures embedded) for a run, sweep or comparison
    folder: scenario and sources, results with CIs, warnings, cost by cause, provenance."""
    from simulator.htmlreport import write_report

    try:
        path = write_report(result_dir, output)
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    except (OSError, ValueError, KeyError) as exc:
        raise bad_input([f"{result_dir}: cannot read the results: {exc}"]) from None
    out.print(f"wrote {path}", highlight=False)
