"""``dcsim fit``: an incident log in, a scenario's ``failures:`` block out."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simulator.cli.common import (
    Command,
    Fmt,
    Format,
    NoPlots,
    app,
    bad_input,
    err,
    json_safe,
    out,
    output_folder,
)
from simulator.errors import ScenarioError
from simulator.limits import MAX_GPUS

if TYPE_CHECKING:
    from rich.table import Table

    from simulator.fit import FitResult


def parse_per(items: list[str], problems: list[str]) -> dict[str, str]:
    """``CAUSE=KIND`` options as a mapping; bad ones go to ``problems``."""
    kinds: dict[str, str] = {}
    for item in items:
        cause, sep, kind = item.rpartition("=")  # a cause name may itself hold '='
        cause, kind = cause.strip(), kind.strip().lower()
        if not sep or not cause:
            problems.append(f"--per {item}: expected CAUSE=gpu|node|rack")
        elif kind not in ("gpu", "node", "rack"):
            problems.append(f"--per {item}: unknown unit kind {kind!r} (use gpu, node or rack)")
        elif kinds.setdefault(cause, kind) != kind:
            problems.append(f"--per {item}: cause {cause!r} was given another unit kind")
    return kinds


def _table(result: FitResult) -> Table:
    from rich.table import Table

    from simulator.fitplot import duration_text

    table = Table(title=f"{Path(result.source).name}: {result.incidents:,} incidents over "
                        f"{result.window_years:.4g} yr ({result.window_note})")
    table.add_column("cause", overflow="fold")
    table.add_column("per")
    table.add_column("k", justify="right")
    table.add_column("rate /unit-yr\n[95% CI]", justify="right")
    table.add_column("Weibull shape\n[95% CI] p", justify="right")
    table.add_column("repair\nmedian / mean", justify="right")
    for c in result.causes:
        lo, hi = c.rate_ci95
        w = c.weibull
        shape = "—" if w is None else (
            f"{w.shape:.3g}{' *' if c.weibull_recommended else ''}\n"
            f"[{'open' if w.shape_ci95[0] is None else format(w.shape_ci95[0], '.3g')}, "
            f"{'open' if w.shape_ci95[1] is None else format(w.shape_ci95[1], '.3g')}] "
            f"p={w.p_value:.2g}")
        r = c.repair
        repair = {"none": "—", "zero": "0"}.get(r.model) or (
            duration_text(r.mean_s) if r.model == "fixed"
            else f"{duration_text(r.median_s)} /\n{duration_text(r.mean_s)}")
        table.add_row(c.name, c.per, f"{c.k:,}", f"{c.rate_per_year:.4g}\n[{lo:.3g}, {hi:.3g}]",
                      shape, repair)
    return table


@app.command(cls=Command)
def fit(
    incidents: Annotated[Path, typer.Argument(metavar="INCIDENTS.csv", help=(
        "CSV with a header: time,unit,cause[,repair_end]; times in s, with a unit ('3.5 d') or "
        "ISO-8601 timestamps"))],
    gpus: Annotated[int, typer.Option("--gpus", min=1, max=MAX_GPUS,
                                      help="GPUs in the observed fleet (the exposure)")],
    per: Annotated[list[str] | None, typer.Option(
        "--per", metavar="CAUSE=gpu|node|rack",
        help="the unit a cause is counted per (repeat for several; default node)")] = None,
    gpus_per_node: Annotated[int, typer.Option("--gpus-per-node", min=1, max=1024)] = 8,
    nodes_per_rack: Annotated[int, typer.Option("--nodes-per-rack", min=1, max=1024)] = 4,
    window: Annotated[str | None, typer.Option(
        "--window", metavar="START:END",
        help="the observed window, e.g. '0:365 d' or '2024-01-01:2024-07-01' (default: from 0, "
             "or the first incident for timestamps, to the last incident)")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="output folder (default: results/fit-<csv name>/)")] = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
) -> None:
    """Fit failure rates (exact Poisson CIs), Weibull shapes (likelihood-ratio test against the
    exponential) and lognormal repair times to an incident log; write a scenario's failures:
    block (failures.yaml), fit.json and fit.png."""
    from simulator import __version__
    from simulator.fit import fit_log
    from simulator.fitplot import draw_fit, failures_yaml, fit_json
    from simulator.output import atomic_write_text, write_json

    problems: list[str] = []
    kinds = parse_per(per or [], problems)
    try:
        result = fit_log(incidents, gpus, kinds, gpus_per_node, nodes_per_rack, window)
    except ScenarioError as exc:
        problems += exc.problems
    if problems:
        raise bad_input(problems)
    if result.outside_window:
        err.print(f"note: {result.outside_window:,} incidents outside the window are left out",
                  highlight=False)
    for c in result.causes:
        if c.k == 0:
            err.print(f"note: no incident of cause {c.name!r} in the window: rate 0, at most "
                      f"{c.rate_ci95[1]:.3g} per {c.per}-year (95%)", highlight=False, markup=False)
    out_dir = output or Path("results") / f"fit-{incidents.stem}"
    data = fit_json(result)
    with output_folder(out_dir) as folder:
        atomic_write_text(folder.stage / "failures.yaml", failures_yaml(result))
        write_json(folder.stage / "fit.json", data)
        # metadata.json marks the folder as dcsim's, so a later fit may replace it
        write_json(folder.stage / "metadata.json", {
            "kind": "fit", "dcsim": __version__, "command_line": list(sys.argv),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        if not no_plots:
            draw_fit(result, folder.stage / "fit.png")
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe(data)))
        return
    out.print(_table(result))
    if any(c.weibull_recommended for c in result.causes):
        out.print("* Weibull recommended: the test rejects the exponential (p < 0.05)")
    out.print(f"the failures: block, with how each number was found, is in {out_dir}/failures.yaml",
              highlight=False)
