"""Reading an incident log: a CSV of ``time,unit,cause[,repair_end]`` rows, times in
seconds, with a unit (``3.5 d``) or as ISO-8601 timestamps (UTC when they have no zone).
Every bad line is reported at once, as ``file:line: column: message``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from simulator.csvload import read_csv
from simulator.errors import ScenarioError
from simulator.units import UnitError, to_seconds

COLUMNS = ("time", "unit", "cause", "repair_end")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Incident:
    """One row of the log; times in s (since 1970 UTC for ISO timestamps)."""

    line: int
    time_s: float
    unit: str
    cause: str
    repair_end_s: float | None


def parse_time(text: str) -> tuple[float, bool]:
    """Seconds, and whether ``text`` was an ISO-8601 timestamp (then s since 1970 UTC; one
    without a zone is read as UTC). ValueError with the reason."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if _ISO.match(text):
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"cannot read {text!r} as an ISO-8601 timestamp") from None
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp(), True
    try:
        seconds = to_seconds(text)
    except UnitError as exc:
        raise ValueError(f"{exc} (or give an ISO-8601 timestamp)") from None
    if seconds < 0:
        raise ValueError(f"{text!r} is negative; times count from the start of the log")
    return seconds, False


def parse_window(text: str) -> tuple[float | None, float | None, bool | None]:
    """``START:END`` (either side may be empty: its default) as (start s, end s, ISO?). ISO
    timestamps hold colons too, so every split is tried and exactly one must read."""
    found = []
    for i, ch in enumerate(text):
        if ch == ":":
            try:
                found.append([parse_time(s) if s.strip() else None for s in (text[:i], text[i + 1:])])
            except ValueError:
                continue
    if len(found) != 1:
        raise ValueError("expected START:END, each seconds, a number with a unit or an ISO-8601 "
                         "timestamp, e.g. '0:365 d' or '2024-01-01:2024-07-01'")
    isos = {p[1] for p in found[0] if p is not None}
    if len(isos) > 1:
        raise ValueError("START and END must both be timestamps or both durations")
    start, end = (None if p is None else p[0] for p in found[0])
    return start, end, isos.pop() if isos else None


def read_incidents(path: Path) -> tuple[list[Incident], bool]:
    """The incidents of a log and whether its times are ISO timestamps; ScenarioError listing
    every bad line as ``file:line: column: message``."""
    try:
        rows = read_csv(path)
    except ValueError as exc:
        raise ScenarioError([str(exc)]) from None
    lines = [(n, row) for n, row in enumerate(rows, start=1)
             if any(c.strip() for c in row) and not row[0].strip().startswith("#")]
    if not lines:
        raise ScenarioError([f"{path}: empty; expected a header time,unit,cause[,repair_end]"])
    head_line, head = lines[0]
    names = [h.strip().lower() for h in head]
    missing = [c for c in COLUMNS[:3] if c not in names]
    twice = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    problems = [f"{path}:{head_line}: header: missing column {c!r} (the header must name time, "
                f"unit, cause and optionally repair_end; got {','.join(head)!r})" for c in missing]
    problems += [f"{path}:{head_line}: header: column {c!r} given twice" for c in twice]
    if problems:
        raise ScenarioError(problems)
    col = {c: names.index(c) for c in COLUMNS if c in names}
    incidents: list[Incident] = []
    kinds: dict[bool, int] = {}  # ISO or not -> first line with it
    for lineno, row in lines[1:]:
        if len(row) != len(names):
            problems.append(f"{path}:{lineno}: {len(row)} fields, the header has {len(names)}")
            continue
        cell = {c: row[i].strip() for c, i in col.items()}
        bad, times = [], {}
        for c in ("time", "repair_end"):
            if c == "time" or cell.get(c):
                try:
                    times[c], iso = parse_time(cell[c])
                    kinds.setdefault(iso, lineno)
                except ValueError as exc:
                    bad.append(f"{c}: {exc}")
        bad += [f"{c}: empty" for c in ("unit", "cause") if not cell[c]]
        if len(times) == 2 and times["repair_end"] < times["time"]:
            bad.append(f"repair_end: {cell['repair_end']} is before time {cell['time']} "
                       f"(a negative repair duration)")
        problems += [f"{path}:{lineno}: {b}" for b in bad]
        if not bad:
            incidents.append(Incident(lineno, times["time"], cell["unit"], cell["cause"],
                                      times.get("repair_end")))
    if len(kinds) > 1:
        problems.append(f"{path}: line {kinds[True]} has an ISO-8601 timestamp and line "
                        f"{kinds[False]} a duration; use one kind of time throughout")
    if not problems and not incidents:
        problems.append(f"{path}: no incidents after the header")
    if problems:
        raise ScenarioError(problems)
    return incidents, True in kinds
