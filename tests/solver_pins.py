"""Pins of the event-level power solver: the calls a replication makes to it, and what it
gave back, recorded once so that speed work on the solver cannot change its numbers.

``python tests/solver_pins.py`` rewrites ``tests/data/solver_pins.json`` (only when the
model's power numbers are meant to change); ``test_solver_pins.py`` replays the calls on a
fresh solver and compares every number to 1e-9 relative.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PINS = Path(__file__).resolve().parent / "data" / "solver_pins.json"
#: scenario, overrides, calls kept: a Megapack site with generators, a site without a battery
#: (trips), a mixed fleet with smoothing, and a site with screening bands
CASES: list[tuple[str, tuple[str, ...], int]] = [
    ("100k_h100", (), 500),
    ("no_battery", (), 500),
    ("colossus_mixed", (), 300),
    ("gb300_site", (), 300),
]


def plant(scenario: Any) -> Any:
    """The solver of a scenario's plant, built as a replication builds it."""
    from simulator.power.coupling import plant_params
    from simulator.power.plant import EventSolver

    return EventSolver(plant_params(scenario))


def trapezoid(t: Any) -> list[float]:
    return [t.low, t.high, t.t_high, t.t_edge, t.period, t.t_fall]


def snapshot(solver: Any) -> dict[str, Any]:
    """The solver's state after a call: dispatch, stored energy and the bus."""
    st = solver.bus_state
    return {"gen": solver.gen, "filt": solver.filt, "grid": solver.grid,
            "stored": solver.energy_stored,
            "f": None if st is None else st.f, "y": None if st is None else st.y}


def metrics(solver: Any) -> dict[str, Any]:
    return dataclasses.asdict(solver.metrics)


def record(name: str, overrides: tuple[str, ...], keep: int) -> dict[str, Any]:
    """Run replication 0 of a shipped scenario and keep its first ``keep`` solver calls."""
    from simulator.loader import load_scenario
    from simulator.model import simulate
    from simulator.power import coupling
    from simulator.power.plant import EventSolver
    from simulator.runner import seeds_for

    calls: list[dict[str, Any]] = []

    class Recording(EventSolver):
        def start(self, t, rest):  # type: ignore[no-untyped-def]
            super().start(t, rest)
            self._keep({"call": "start", "t": t, "rest": trapezoid(rest)}, None)

        def begin(self, t, load, extras_w=(), max_duration=math.inf, phase=0.0, rest=None):  # type: ignore[no-untyped-def]
            out = super().begin(t, load, extras_w, max_duration, phase, rest)
            self._keep({"call": "begin", "t": t, "load": trapezoid(load),
                        "extras": list(extras_w), "max": max_duration, "phase": phase,
                        "rest": None if rest is None else trapezoid(rest)},
                       None if out is None else list(out))
            return out

        def end(self, t):  # type: ignore[no-untyped-def]
            super().end(t)
            self._keep({"call": "end", "t": t}, None)

        def begin_dark(self, t):  # type: ignore[no-untyped-def]
            super().begin_dark(t)
            self._keep({"call": "dark", "t": t}, None)

        def trip(self, t, reason, outage_s):  # type: ignore[no-untyped-def]
            super().trip(t, reason, outage_s)
            self._keep({"call": "trip", "t": t, "reason": reason, "outage": outage_s}, None)

        def _keep(self, call: dict[str, Any], out: Any) -> None:
            if len(calls) < keep:
                calls.append({**call, "out": out, "state": snapshot(self),
                              **({"metrics": metrics(self)} if len(calls) % 50 == 49
                                 or len(calls) == keep - 1 else {})})

    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml", list(overrides))
    real = coupling.EventSolver
    coupling.EventSolver = Recording  # type: ignore[misc]
    try:
        simulate(scenario, seeds_for(scenario.run.seed, 1)[0], 0)
    finally:
        coupling.EventSolver = real  # type: ignore[misc]
    return {"scenario": name, "overrides": list(overrides), "calls": calls}


def _json(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json(v) for v in x]
    return x


def main() -> None:
    sys.path.insert(0, str(ROOT))
    pins = [record(*case) for case in CASES]
    PINS.write_text(json.dumps(_json(pins), separators=(",", ":")) + "\n")
    for p in pins:
        kinds = [c["call"] for c in p["calls"]]
        print(p["scenario"], {k: kinds.count(k) for k in set(kinds)},
              sum(c["out"] is not None for c in p["calls"]), "events predicted")


if __name__ == "__main__":
    main()
