"""Redrawing the plots of a result folder (run, sweep or comparison) from its files alone.

The files may have been edited, truncated or damaged since dcsim wrote them: every problem
becomes a :class:`~simulator.loader.ScenarioError` line naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from simulator.loader import ScenarioError, load_scenario
from simulator.output import read_segments, read_timeline

#: what reading or drawing a damaged file raises
_DAMAGE = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, StopIteration,
           yaml.YAMLError)


def _damaged(path: Path, exc: BaseException) -> ScenarioError:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ScenarioError([f"{path}: cannot redraw the plots: the file is damaged or incomplete "
                          f"({what})"])


def redraw(result_dir: Path) -> str:
    """Redraw every plot of ``result_dir``; returns what was redrawn, for the user."""
    if not result_dir.is_dir():
        raise ScenarioError([f"{result_dir}: not a folder"])
    for kind in ("sweep", "compare"):
        if (result_dir / f"{kind}.csv").exists() or (result_dir / f"{kind}.json").exists():
            return _redraw_table(result_dir, kind)
    return _redraw_run(result_dir)


def _redraw_run(result_dir: Path) -> str:
    if not (result_dir / "summary.json").exists():
        raise ScenarioError([f"{result_dir}: no summary.json, sweep.csv or compare.csv here "
                             f"(is it a dcsim result folder?)"])
    missing = [f"{result_dir}: {name} is missing (needed to redraw)"
               for name in ("timeline.csv", "replications.csv", "resolved.yaml")
               if not (result_dir / name).exists()]
    if missing:
        raise ScenarioError(missing)
    scenario = load_scenario(result_dir / "resolved.yaml")
    current = result_dir / "summary.json"  # the file being read, named if it is damaged
    try:
        summary = json.loads(current.read_text(encoding="utf-8"))
        current = result_dir / "timeline.csv"
        changes = read_timeline(current)
        current = result_dir / "replications.csv"
        with open(current, encoding="utf-8") as fh:
            first = next(csv.DictReader(fh), None)
        if first is None:
            raise ValueError("no rows")
        wall_days = float(first["wall_clock_days"])
        current = result_dir / "power_segments.csv"
        rows = read_segments(current) if current.exists() else []
        current = result_dir / "summary.json"  # what drawing reads most
        from simulator.runplots import draw_run

        draw_run(result_dir, summary, changes, wall_days, scenario, rows)
    except _DAMAGE as exc:
        raise _damaged(current, exc) from None
    return f"redrew the plots in {result_dir}/"


def _redraw_table(result_dir: Path, kind: str) -> str:
    """Redraw sweep.png or compare.png from the CSV and JSON files beside it."""
    from simulator.tablecsv import read_csv_rows

    missing = [f"{result_dir}: {kind}.{ext} is missing (needed to redraw)"
               for ext in ("csv", "json") if not (result_dir / f"{kind}.{ext}").exists()]
    if missing:
        raise ScenarioError(missing)
    current = result_dir / f"{kind}.json"
    try:
        meta = json.loads(current.read_text(encoding="utf-8"))
        current = result_dir / f"{kind}.csv"
        rows = read_csv_rows(current)
        if not rows:
            raise ValueError("no rows")
        current = Path(f"{result_dir / kind}.json and {kind}.csv")  # drawing reads both
        if kind == "sweep":
            from simulator.plots import draw_sweep

            draw_sweep(rows, meta, result_dir / "sweep.png")
        else:
            from simulator.plots import draw_compare

            draw_compare(rows, meta, result_dir / "compare.png")
    except _DAMAGE as exc:
        raise _damaged(current, exc) from None
    return f"redrew {result_dir}/{kind}.png"
