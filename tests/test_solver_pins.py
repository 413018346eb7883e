"""The event-level power solver gives the pinned numbers: each recorded call replayed on a
fresh solver returns the same predicted event and leaves the same state and metrics, to
1e-9 relative. Speed work on the solver must keep these (rewrite the pins with
``python tests/solver_pins.py`` only when the physics is meant to change)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from solver_pins import CASES, PINS, ROOT, metrics, plant, snapshot

from simulator.loader import load_scenario
from simulator.power.load import Trapezoid

PINNED = json.loads(PINS.read_text())


def _num(x: Any) -> Any:
    return float(x) if isinstance(x, str) and x in ("inf", "-inf", "nan") else x


def _close(got: Any, want: Any, where: str) -> None:
    want = _num(want)
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{k}]")
    elif isinstance(want, float) or isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(got) and math.isnan(want)), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def _trap(v: list[float]) -> Trapezoid:
    low, high, t_high, t_edge, period, t_fall = (_num(x) for x in v)
    return Trapezoid(low, high, t_high, t_edge, period, t_fall)


def test_the_pins_cover_every_case_and_call_kind() -> None:
    assert [p["scenario"] for p in PINNED] == [c[0] for c in CASES]
    kinds = {c["call"] for p in PINNED for c in p["calls"]}
    assert kinds == {"start", "begin", "end", "dark", "trip"}
    assert any(c["out"] is not None for p in PINNED for c in p["calls"])


@pytest.mark.parametrize("pin", PINNED, ids=[p["scenario"] for p in PINNED])
def test_replayed_calls_give_the_pinned_numbers(pin: dict[str, Any]) -> None:
    scenario = load_scenario(ROOT / "scenarios" / f"{pin['scenario']}.yaml", pin["overrides"])
    solver = plant(scenario)
    for k, call in enumerate(pin["calls"]):
        where = f"{pin['scenario']} call {k} ({call['call']} at {call['t']})"
        t = _num(call["t"])
        out = None
        if call["call"] == "start":
            solver.start(t, _trap(call["rest"]))
        elif call["call"] == "begin":
            out = solver.begin(t, _trap(call["load"]), tuple(call["extras"]), _num(call["max"]),
                               call["phase"], None if call["rest"] is None
                               else _trap(call["rest"]))
            out = None if out is None else list(out)
        elif call["call"] == "end":
            solver.end(t)
        elif call["call"] == "dark":
            solver.begin_dark(t)
        else:
            solver.trip(t, call["reason"], call["outage"])
        _close(out, call["out"], f"{where} returned")
        _close(snapshot(solver), call["state"], f"{where} state")
        if "metrics" in call:
            _close(metrics(solver), call["metrics"], f"{where} metrics")
