"""``dcsim report DIR``: one self-contained HTML page for a run, a sweep or a comparison.

The page holds the scenario's description and sources, the results with their 95% CIs, the
warnings, the cost by cause, every figure (embedded as base64 PNG, so the file reads offline
and travels by e-mail), the provenance (versions, seed, command line) and the resolved
scenario. It is drawn from the folder's files only, like ``dcsim plot``.

The page is rendered with Jinja2: its autoescaping keeps scenario text (names, sources,
warnings) from breaking the HTML, and the template stays a readable HTML file
(``simulator/templates/report.html.j2``) rather than strings in code.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from pathlib import Path
from typing import Any

from simulator.errors import ScenarioError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html.j2"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def _ci(est: dict[str, Any]) -> str:
    lo, hi = est.get("ci95_low"), est.get("ci95_high")
    return "" if lo is None or hi is None else f"[{_fmt(lo)}, {_fmt(hi)}]"


def _run_results(summary: dict[str, Any]) -> dict[str, Any]:
    from simulator.records import METRICS
    from simulator.report import metric_label

    rows = []
    for m in METRICS:
        est = summary.get(m)
        if not isinstance(est, dict) or est.get("mean") is None:
            continue
        rows.append({"key": m, "cells": [metric_label(m), _fmt(est["mean"]), _ci(est)]})
    return {"header": ["metric", "mean", "95% CI"], "rows": rows}


def _table(path: Path, key_column: str | None = None) -> dict[str, Any]:
    """A CSV file as a table (numbers formatted)."""
    with open(path, encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = []
        for row in reader:
            cells = []
            for v in row:
                try:
                    cells.append(_fmt(float(v)))
                except ValueError:
                    cells.append(v)
            key = row[header.index(key_column)] if key_column in header else None
            rows.append({"key": key, "cells": cells})
    return {"header": header, "rows": rows}


def _by_cause(summary: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    out = []
    for name, c in (summary.get("cost_by_cause") or {}).items():
        out.append((name, {"interruptions": _fmt(c.get("interruptions")),
                           "lost": _fmt(c.get("lost_hours")),
                           "restart": _fmt(c.get("restart_hours")),
                           "down": _fmt(c.get("down_hours")),
                           "total": _fmt(c.get("total_hours"))}))
    return out


def render(result_dir: Path) -> str:
    """The HTML page of a result folder; ScenarioError names what is missing."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    d = Path(result_dir)
    if not d.is_dir():
        raise ScenarioError([f"{d}: not a folder"])
    if (d / "summary.json").exists():
        kind, summary = "run", json.loads((d / "summary.json").read_text(encoding="utf-8"))
        title = f"{summary.get('scenario', d.name)}: {summary.get('replications')} replications"
        results = _run_results(summary)
    elif (d / "sweep.csv").exists():
        kind, summary = "sweep", json.loads((d / "sweep.json").read_text(encoding="utf-8"))
        title = f"{summary.get('scenario', d.name)}: sweep"
        results = _table(d / "sweep.csv")
    elif (d / "compare.csv").exists():
        kind, summary = "comparison", json.loads((d / "compare.json").read_text(encoding="utf-8"))
        title = " vs ".join(summary.get("labels", [])) or d.name
        results = _table(d / "compare.csv", "metric")
    else:
        raise ScenarioError([f"{d}: no summary.json, sweep.csv or compare.csv here (is it a "
                             f"dcsim result folder?)"])
    meta_path = d / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    resolved_files = sorted(d.glob("resolved*.yaml"))
    resolved = "\n".join(f"# {p.name}\n{p.read_text(encoding='utf-8')}" for p in resolved_files)
    description, sources = "", []
    if resolved_files:
        import yaml

        first = yaml.safe_load(resolved_files[0].read_text(encoding="utf-8")) or {}
        description, sources = first.get("description", ""), first.get("sources", [])
    versions = meta.get("versions", {})
    provenance = {"dcsim": versions.get("dcsim", "?"), "started": meta.get("started", ""),
                  "seed": meta.get("seed", summary.get("seed", "")),
                  "command": " ".join(meta.get("command_line", [])) if isinstance(
                      meta.get("command_line"), list) else meta.get("command_line", ""),
                  "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
                  "platform": meta.get("platform", ""), "executor": meta.get("executor", ""),
                  "wall seconds": _fmt(meta.get("wall_seconds"))}
    figures = [(p.name, base64.b64encode(p.read_bytes()).decode("ascii"))
               for p in sorted(d.glob("*.png"))]
    env = Environment(loader=FileSystemLoader(str(TEMPLATE.parent)),
                      autoescape=select_autoescape(["html", "j2"]))
    return env.get_template(TEMPLATE.name).render(
        title=title, kind=kind, description=description, sources=sources,
        warnings=summary.get("warnings") or [], results=results,
        by_cause=_by_cause(summary), figures=figures, provenance=provenance,
        resolved=resolved)


def write_report(result_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for a result folder, atomically."""
    from simulator.output import atomic_write_text

    target = out or Path(result_dir) / "report.html"
    atomic_write_text(target, render(Path(result_dir)))
    return target
