"""Plant builders and drivers shared by the power tests."""

from __future__ import annotations

import math

from simulator.power.finestep import FineSegment, FineStart, simulate_window
from simulator.power.load import Trapezoid
from simulator.power.plant import EventSolver, PlantParams
from simulator.power.protection import Protection

MW, MWH = 1e6, 3.6e9
ETA = math.sqrt(0.9)


def protection(**overrides: float) -> Protection:
    """Wide-open protection unless a test narrows it."""
    base = dict(band_lo=-1e9, band_hi=1e9, trip_delay=0.16, rocof_limit=1e9, rocof_window=0.5,
                normal_lo=-0.5, normal_hi=0.5, block_step=1e15, step_window=0.5)
    base.update(overrides)
    return Protection(**base)


def plant(prot: Protection | None = None, **overrides: float) -> PlantParams:
    """No grid, a large slow generator, a big battery that answers at once, no SoC pull."""
    base = dict(grid_cap=0.0, grid_ramp=math.inf, grid_window=60.0, gen_cap=300 * MW,
                gen_ramp=1 * MW, gen_min=0.0, gen_step=1e15, inertia=5.0, droop=0.05,
                governor_time=0.5, governor_ramp=1e15, damping=0.0, f0=60.0,
                bat_power=100 * MW, bat_energy=1e13, eta=ETA, e_min=0.0, e_max=1e13,
                e_target=5e12, e_initial=5e12, response_s=0.0, tau_filter=0.0, tau_soc=1e18,
                period=2.0)
    base.update(overrides)
    if prot is None:
        prot = protection(block_step=base["gen_step"], step_window=base["governor_time"])
    return PlantParams(**base, protection=prot)


def run_event(params: PlantParams, plan: list[tuple[float, Trapezoid]],
              rest: Trapezoid | None = None) -> tuple[EventSolver, list]:
    """Drive the event-level solver through (duration, load) segments from rest; returns the
    solver and the events each ``begin`` predicted (None or (delay, kind))."""
    solver = EventSolver(params)
    solver.start(0.0, rest if rest is not None else plan[0][1])
    t, events = 0.0, []
    for duration, load in plan:
        event = solver.begin(t, load, max_duration=duration)
        events.append(event)
        t += duration
        solver.end(t)
    return solver, events


def run_fine(params: PlantParams, plan: list[tuple[float, Trapezoid]],
             rest: Trapezoid | None = None, dt: float = 1e-3, **kw):
    """The fine-step solver on the same plan, from the same rest state as :func:`run_event`."""
    rest = rest if rest is not None else plan[0][1]
    probe = EventSolver(params)
    probe.start(0.0, rest)
    start = FineStart(probe.grid, probe.gen, probe.filt, probe.energy_stored, history=rest)
    kw.setdefault("keep_every", 50)
    kw.setdefault("stop_at_trip", False)
    return simulate_window(params, [FineSegment(d, ld) for d, ld in plan], start, dt=dt, **kw)
