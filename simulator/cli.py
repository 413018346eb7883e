"""The ``dcsim`` command line: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 runtime error, 2 bad input (never a traceback for bad input).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from simulator.analytic import analytic_for
from simulator.config import Scenario
from simulator.loader import ScenarioError, load_scenario, resolved_dict
from simulator.output import build_summary, metadata, read_segments, read_timeline, write_run
from simulator.report import progress_bar, render_run_table

app = typer.Typer(
    name="dcsim",
    help="Data-center scenario simulator for GPU training clusters.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# a fixed width off a terminal keeps piped and logged tables readable
out = Console(width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    json = "json"


def _bad_input(problems: list[str]) -> typer.Exit:
    for line in problems:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _load(path: Path, sets: list[str] | None) -> Scenario:
    try:
        return load_scenario(path, sets or [])
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None


Replications = Annotated[int | None, typer.Option("-r", "--replications", min=1,
                                                  help="replications (default: run.replications)")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="root seed (default: run.seed)")]
Output = Annotated[Path | None, typer.Option("-o", "--output",
                                             help="output folder (default: results/<name>/)")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="override a key: key.path=value")]
Jobs = Annotated[int | None, typer.Option(
    "-j", "--jobs", min=1, help="local worker processes (default: all cores; results do not depend on it)")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="skip the PNG plots")]
Fmt = Annotated[Format, typer.Option("--format", help="print a table or JSON")]


@app.command()
def run(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    replications: Replications = None,
    seed: Seed = None,
    output: Output = None,
    set_: Sets = None,
    jobs: Jobs = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
) -> None:
    """Run a scenario's replications; print simulated vs analytic, write the result folder."""
    from simulator.runner import run_replications

    scenario = _load(scenario_file, set_)
    n = replications or scenario.run.replications
    jobs = jobs or min(os.cpu_count() or 1, n)
    root_seed = scenario.run.seed if seed is None else seed
    out_dir = output or Path("results") / scenario.name
    if out_dir.exists() and not out_dir.is_dir():
        raise _bad_input([f"{out_dir}: output path exists and is not a folder"])
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    with progress_bar(f"{scenario.name}", n, enabled=fmt is Format.table) as advance:
        result = run_replications(scenario, n, root_seed, jobs, advance)
    wall = time.perf_counter() - t0
    analytic = analytic_for(scenario)
    summary = build_summary(scenario.name, result.records, root_seed, analytic, wall)
    meta = metadata(root_seed, sys.argv, started, wall, jobs)
    write_run(out_dir, resolved_dict(scenario), result.records, summary, meta, result.timeline,
              result.segments)
    if not no_plots:
        _draw_run(out_dir, summary, result.timeline.changes, result.records[0].wall_clock_days,
                  scenario, result.segments.rows)
    if fmt is Format.json:
        out.print_json(json.dumps(_json_safe(summary)))
    else:
        render_run_table(out, scenario, summary)
        out.print(f"results in {out_dir}/", highlight=False)


def _draw_run(out_dir: Path, summary: dict[str, Any], changes: list, end_days: float,
              scenario: Scenario, rows: list) -> None:
    from simulator.plots import draw_ledger, draw_power_timeline, draw_timeline

    draw_ledger(summary, out_dir / "ledger.png")
    end_s = end_days * 86400.0
    title = f"{summary['scenario']}: replication 0"
    if scenario.power is None or not rows:
        draw_timeline(changes, end_s, out_dir / "timeline.png", f"{title}, job state")
        return
    from simulator.power.plant import PlantParams
    from simulator.power.windows import pick_windows, solve_window

    params = PlantParams.from_config(scenario.power)
    windows = [solve_window(params, rows, a, b, label)
               for label, a, b in pick_windows(rows, end_s)]
    draw_power_timeline(changes, rows, windows, end_s, out_dir / "timeline.png",
                        f"{title}: job state, facility power and sources")


def _json_safe(data: Any) -> Any:
    from simulator.output import _clean

    return _clean(data)


@app.command()
def validate(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.yaml")],
    set_: Sets = None,
) -> None:
    """Check a scenario file; list every problem as file: key: message (exit 2 if any)."""
    scenario = _load(scenario_file, set_)
    if scenario.failures.trace is not None:
        from simulator.failures import read_trace, resolve_causes

        try:
            read_trace(scenario.failures.trace, resolve_causes(scenario))
        except ValueError as exc:
            raise _bad_input(str(exc).splitlines()) from None
    out.print(f"{scenario_file}: ok ({scenario.name})", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario file."""
    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@app.command()
def plot(result_dir: Annotated[Path, typer.Argument(metavar="RESULT_DIR")]) -> None:
    """Redraw the plots of a result folder from its files."""
    summary_path = result_dir / "summary.json"
    if not summary_path.exists():
        raise _bad_input([f"{result_dir}: no summary.json here (is it a dcsim result folder?)"])
    missing = [f"{result_dir}: {name} is missing (needed to redraw)"
               for name in ("timeline.csv", "replications.csv", "resolved.yaml")
               if not (result_dir / name).exists()]
    if missing:
        raise _bad_input(missing)
    summary = json.loads(summary_path.read_text())
    changes = read_timeline(result_dir / "timeline.csv")
    import csv

    with open(result_dir / "replications.csv", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    try:
        scenario = load_scenario(result_dir / "resolved.yaml")
    except ScenarioError as exc:
        raise _bad_input(exc.problems) from None
    seg_path = result_dir / "power_segments.csv"
    rows = read_segments(seg_path) if seg_path.exists() else []
    _draw_run(result_dir, summary, changes, float(first["wall_clock_days"]), scenario, rows)
    out.print(f"redrew {result_dir}/ledger.png and timeline.png", highlight=False)


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if os.environ.get("DCSIM_DEBUG"):  # pragma: no cover
    app.pretty_exceptions_enable = True
