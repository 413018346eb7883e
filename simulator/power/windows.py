"""Windows of a run re-solved with the fine-step solver (around a failure, a checkpoint and
the end of a restart, starting from the plant state the event-level solver logged), and the
spectrum of a logged compute segment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.power.bus import Bus
from simulator.power.finestep import FineResult, FineSegment, FineStart, simulate_window
from simulator.power.load import Trapezoid
from simulator.power.plant import PlantParams
from simulator.power.screening import harmonics

# columns of a segment-log row (see simulator.power.plant.SEGMENT_COLUMNS)
T, STATE, LOW, HIGH, T_HIGH, T_EDGE, PERIOD, PHASE, GEN, FILT, GRID, ENERGY, FREQ, GOV, T_FALL = range(15)


@dataclass(frozen=True)
class Window:
    """A fine-step window: what it shows, where (s of the run), and the solution."""

    label: str
    start_s: float
    end_s: float
    origin_s: float  # run time of the solution's t = 0
    result: FineResult


def _load(row: tuple) -> Trapezoid:
    fall = row[T_FALL] if len(row) > T_FALL else None  # logs written before asymmetric edges
    return Trapezoid(row[LOW], row[HIGH], row[T_HIGH], row[T_EDGE], row[PERIOD], fall)


def pick_windows(rows: Sequence[tuple], end_s: float) -> list[tuple[str, float, float]]:
    """(label, start, end) of the first failure, checkpoint and restart in a segment log."""
    out: list[tuple[str, float, float]] = []
    starts = [r[T] for r in rows[1:]] + [end_s]
    found: set[str] = set()
    for k, row in enumerate(rows[:-1]):
        state, nxt, t_end = row[STATE], rows[k + 1][STATE], starts[k]
        if "failure" not in found and state == "compute" and nxt in ("restart", "waiting", "outage") \
                and t_end - row[T] > 1.0:
            out.append(("failure", t_end - 60.0, t_end + 180.0))
            found.add("failure")
        if "checkpoint" not in found and state == "checkpoint" and nxt == "compute" and k > 0:
            out.append(("checkpoint", row[T] - 30.0, t_end + 150.0))
            found.add("checkpoint")
        if "restart" not in found and state == "restart" and nxt == "compute" and k > 0:
            out.append(("restart ends", t_end - 60.0, t_end + 180.0))
            found.add("restart")
    return out


def segments_between(rows: Sequence[tuple], start_s: float, end_s: float
                     ) -> tuple[int, list[FineSegment]]:
    """Index of the segment containing ``start_s`` and the segments from it to ``end_s``."""
    first = max((k for k, r in enumerate(rows) if r[T] <= start_s), default=0)
    segments = []
    for k in range(first, len(rows)):
        t0 = rows[k][T]
        if t0 >= end_s:
            break
        t1 = rows[k + 1][T] if k + 1 < len(rows) else end_s
        segments.append(FineSegment(min(t1, end_s) - t0, _load(rows[k]), rows[k][PHASE],
                                    rows[k][STATE] == "outage"))
    return first, segments


def start_of(rows: Sequence[tuple], k: int) -> FineStart:
    """The logged plant state at the start of segment k, with the battery's delay line
    following the previous segment's load."""
    row = rows[k]
    prev = rows[k - 1] if k > 0 and rows[k - 1][STATE] != "outage" else None
    history = _load(prev) if prev is not None else _load(row)
    phase = prev[PHASE] + (row[T] - prev[T]) if prev is not None else row[PHASE]
    return FineStart(grid=row[GRID], generators=row[GEN], filter=row[FILT], energy=row[ENERGY],
                     frequency=row[FREQ], governor=row[GOV], history=history, history_phase=phase)


def solve_window(params: PlantParams, rows: Sequence[tuple], start_s: float, end_s: float,
                 label: str, dt: float = 0.01) -> Window:
    """Fine-step solution over [start_s, end_s], from the segment containing ``start_s``."""
    first, segments = segments_between(rows, start_s, end_s)
    result = simulate_window(params, segments, start_of(rows, first), dt=dt, stop_at_trip=False,
                             keep_every=5, protect=False)
    return Window(label, start_s, end_s, rows[first][T], result)


def longest_compute(rows: Sequence[tuple], end_s: float) -> int | None:
    """Index of the longest segment with an iteration swing (None if there is none)."""
    best, best_len = None, 0.0
    for k, row in enumerate(rows):
        t1 = rows[k + 1][T] if k + 1 < len(rows) else end_s
        if row[HIGH] > row[LOW] and t1 - row[T] > best_len:
            best, best_len = k, t1 - row[T]
    return best


def segment_spectra(params: PlantParams, row: tuple, harmonics_n: int
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(frequencies Hz, amplitudes W) of the facility load and of what the grid tie and the
    generators carry of it in a logged segment, as the event-level solver splits it."""
    load = _load(row)
    bus = Bus(params.bus)
    tol = 1.0
    pd = params.bat_power if row[ENERGY] > params.e_min + tol else 0.0
    pc = params.bat_power if row[ENERGY] < params.e_max - tol else 0.0
    r = bus.residual(load, row[GRID], row[GEN], pd, pc)
    out = {"facility": harmonics(bus.load_pwl(load), harmonics_n)}
    if params.grid_cap > 0:
        out["grid"] = harmonics(r.tie, harmonics_n)
    if params.gen_cap > 0:
        out["generators"] = harmonics(r.gens, harmonics_n)
    return out
