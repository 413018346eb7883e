"""Loads on the site beside the training job (inference, cooling, offices): a constant, or a
piecewise-constant time series read from a CSV file. They add to the facility load (W) while
the site is up; a trip darkens them with the rest of the site."""

from __future__ import annotations

import bisect
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.csvload import data_rows, read_csv
from simulator.units import UnitError, to_seconds, to_watts

if TYPE_CHECKING:
    from simulator.power.config import PowerConfig


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def read_other_loads(path: Path) -> list[tuple[float, float]]:
    """Rows ``time,power`` of a CSV (header optional; time in s or with a unit such as ``2 h``,
    power in W or with a unit such as ``20 MW``), sorted by time; each level holds until the
    next row.

    Raises:
        ValueError: listing every bad line as ``file:line: message``.
    """
    rows: list[tuple[float, float]] = []
    problems: list[str] = []
    for lineno, row in data_rows(read_csv(path)):
        if len(row) != 2:
            problems.append(f"{path}:{lineno}: expected 2 fields time,power")
            continue
        try:
            t = to_seconds(_number(row[0].strip()))
            w = to_watts(_number(row[1].strip()))
        except UnitError as exc:
            problems.append(f"{path}:{lineno}: {exc}")
            continue
        if not (t >= 0 and w >= 0) or t == float("inf") or w == float("inf"):
            problems.append(f"{path}:{lineno}: time and power must be finite and not negative")
            continue
        rows.append((t, w))
    if not rows and not problems:
        problems.append(f"{path}: no rows (expected time,power)")
    if problems:
        raise ValueError("\n".join(problems))
    return sorted(rows)


class OtherLoads:
    """The other loads' power (W) over the run: ``constant`` plus the series' current level."""

    def __init__(self, constant_w: float = 0.0, series: list[tuple[float, float]] | None = None):
        self.constant_w = constant_w
        self.times = [t for t, _ in series or []]
        self.levels = [w for _, w in series or []]

    def at(self, t: float) -> float:
        """Power at time t (s): the last row at or before t (none yet: the constant alone)."""
        k = bisect.bisect_right(self.times, t) - 1
        return self.constant_w + (self.levels[k] if k >= 0 else 0.0)

    @property
    def peak_w(self) -> float:
        return self.constant_w + max(self.levels, default=0.0)


def other_loads(cfg: PowerConfig) -> OtherLoads:
    """The scenario's loads beside the job (none: zero)."""
    o = cfg.other_loads
    if o is None:
        return OtherLoads()
    series = None
    if o.trace is not None:  # read once per file version, not once per replication
        series = _read_series(str(o.trace), o.trace.stat().st_mtime)
    return OtherLoads(o.constant, list(series) if series is not None else None)


@functools.lru_cache(maxsize=8)
def _read_series(path: str, _mtime: float) -> tuple[tuple[float, float], ...]:
    return tuple(read_other_loads(Path(path)))

