"""Windows of a run re-solved with the fine-step solver: around a failure, a checkpoint and
the end of a restart, starting from the plant state the event-level solver logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.power.finestep import FineResult, simulate_window
from simulator.power.load import Trapezoid
from simulator.power.plant import PlantParams


@dataclass(frozen=True)
class Window:
    """A fine-step window: what it shows, where (s of the run), and the solution."""

    label: str
    start_s: float
    end_s: float
    origin_s: float  # run time of the solution's t = 0
    result: FineResult


def _load(row: tuple) -> Trapezoid:
    return Trapezoid(row[2], row[3], row[4], row[5], row[6])


def pick_windows(rows: Sequence[tuple], end_s: float) -> list[tuple[str, float, float]]:
    """(label, start, end) of the first failure, checkpoint and restart in a segment log."""
    out: list[tuple[str, float, float]] = []
    starts = [r[0] for r in rows[1:]] + [end_s]
    found: set[str] = set()
    for k, row in enumerate(rows[:-1]):
        state, nxt, t_end = row[1], rows[k + 1][1], starts[k]
        if "failure" not in found and state == "compute" and nxt in ("restart", "waiting", "outage") \
                and t_end - row[0] > 1.0:
            out.append(("failure", t_end - 60.0, t_end + 180.0))
            found.add("failure")
        if "checkpoint" not in found and state == "checkpoint" and nxt == "compute" and k > 0:
            out.append(("checkpoint", row[0] - 30.0, t_end + 150.0))
            found.add("checkpoint")
        if "restart" not in found and state == "restart" and nxt == "compute" and k > 0:
            out.append(("restart ends", t_end - 60.0, t_end + 180.0))
            found.add("restart")
    return out


def solve_window(params: PlantParams, rows: Sequence[tuple], start_s: float, end_s: float,
                 label: str, dt: float = 0.01) -> Window:
    """Fine-step solution over [start_s, end_s], from the segment containing ``start_s``."""
    first = max((k for k, r in enumerate(rows) if r[0] <= start_s), default=0)
    origin = rows[first][0]
    segments = []
    for k in range(first, len(rows)):
        t0 = rows[k][0]
        if t0 >= end_s:
            break
        t1 = rows[k + 1][0] if k + 1 < len(rows) else end_s
        segments.append((min(t1, end_s) - t0, _load(rows[k])))
    row = rows[first]
    result = simulate_window(params, segments, row[7], row[8], row[9], dt=dt,
                             stop_at_trip=False, keep_every=5)
    return Window(label, start_s, end_s, origin, result)
