"""Bounding a run's work before it starts.

A scenario can be valid key by key and still ask for a run that never ends: a failure rate so
high that the job never reaches its next checkpoint, a 1 ms checkpoint interval over a month of
work, or a per-GPU Weibull cause on a hundred million GPUs. :func:`estimate` prices a
replication from the scenario alone, in SimPy events and bytes, before anything is simulated;
:func:`problems` turns an estimate over the limits into ``file: key: message`` lines.

Events per replication, over the simulated span T (s)::

    T      = min(run.horizon, E[wall clock])         (Daly's closed form; ∞ if no progress)
    events ≈ T · (2 Λ_installed + r_planned) + 3 · (work / τ) + 10

with Λ_installed the failure rate of every installed unit (1/s; each failure schedules its
failure and its repair), r_planned the planned-interruption rate (1/s), τ the checkpoint
interval (s) and about three events per checkpoint (compute, write, bookkeeping). This is an
order-of-magnitude price, not a forecast: a run that needs more than ``run.max_events`` anyway
stops there and says so (:func:`simulator.model.simulate`).

If the grid and the generators together cannot carry the site's peak load, the plant may trip at
every start: the span is then the horizon, plus 6 events per trip, one trip per outage, restart
and ramp (``power.trip_outage_time`` + the restart time R + ``power.job_ramp_time``).

Memory per replication process (bytes) ≈ 100 per node (fleet state) + 100 per unit of every
Weibull cause (per-unit renewal clocks) + 40 per failure-trace line.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from simulator.config import Scenario

#: bytes of model state per node and per Weibull unit (measured order of magnitude)
NODE_BYTES = 100
WEIBULL_UNIT_BYTES = 100
#: share of this machine's memory one replication process may plan to use
MEMORY_SHARE = 0.5
#: events of one trip: the trip, the outage's end, the restart, the job's state changes
EVENTS_PER_TRIP = 6


@dataclass(frozen=True)
class WorkEstimate:
    """The price of one replication, from the scenario alone."""

    span_s: float  #: simulated time expected (s): the horizon or the expected wall clock
    failures: float  #: hardware failures expected over the span (every installed unit)
    checkpoints: float  #: checkpoints expected (work / interval)
    events: float  #: SimPy events expected
    memory_bytes: float  #: model state in memory (B)
    trips: float = 0.0  #: power trips to expect at worst (plant below the site's peak)


def estimate(scenario: Scenario) -> WorkEstimate:
    """Events and memory of one replication of ``scenario`` (see the module docstring)."""
    from simulator.analytic import daly_ettr
    from simulator.failures import job_failure_rate, resolve_causes

    causes = resolve_causes(scenario)
    installed = sum(c.units * c.rate_per_s for c in causes)
    planned = scenario.job.planned_interruptions_per_day / 86400.0
    job = scenario.job
    lam = job_failure_rate(scenario) + planned
    mtbf = 1.0 / lam if lam > 0 else math.inf
    try:
        ettr = daly_ettr(job.checkpoint.interval, job.checkpoint.write_s, scenario.restart_s,
                         mtbf, job.restart.failures_during_restart)
    except OverflowError:
        ettr = 0.0
    work = scenario.work_seconds
    wall = work / ettr if ettr > 0 else math.inf
    span = min(scenario.run.horizon, wall)
    done = work * min(1.0, span / wall) if math.isfinite(wall) else span * max(ettr, 0.0)
    checkpoints = done / job.checkpoint.interval + sum(done / t.interval
                                                      for t in job.checkpoint.tiers)
    failures = span * installed
    events = span * (2.0 * installed + planned) + 3.0 * checkpoints + 10.0
    trips = _worst_trips(scenario)
    if trips:  # a plant that cannot carry the job may trip at every start until the horizon
        span = scenario.run.horizon
        events += EVENTS_PER_TRIP * trips
    nodes = sum(g.nodes for g in scenario.cluster.groups)
    weibull_units = sum(c.units for c in causes if c.weibull_shape is not None)
    trace_lines = 0
    if scenario.failures.trace is not None:
        try:
            trace_lines = scenario.failures.trace.stat().st_size // 20
        except OSError:
            trace_lines = 0
    memory = NODE_BYTES * nodes + WEIBULL_UNIT_BYTES * weibull_units + 40 * trace_lines
    return WorkEstimate(span, failures, checkpoints, events, memory, trips)


def _worst_trips(scenario: Scenario) -> float:
    """Trips to expect if the grid and the generators together cannot carry the site's peak
    (the battery only bridges): one per outage and restart until the horizon; else 0."""
    cfg = scenario.power
    if cfg is None:
        return 0.0
    from simulator.power.load import site_peak_w

    if cfg.steady_supply_w >= site_peak_w(scenario):
        return 0.0
    cycle = cfg.trip_outage_time + scenario.restart_s + cfg.job_ramp_time
    return scenario.run.horizon / cycle


def _trip_note(est: WorkEstimate) -> str:
    if not est.trips:
        return ""
    return (f", and up to {est.trips:.2g} power trips, since the grid and the generators "
            f"together cannot carry the site's peak load")


def machine_memory_bytes() -> float:
    """Physical memory of this machine (B), or ∞ where the OS does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def problems(scenario: Scenario, source: str) -> list[str]:
    """``source: key: message`` lines for a replication too big to run, else []."""
    work = scenario.work_seconds
    if not math.isfinite(work) or work > 1e9 * 365 * 86400.0:
        key = "job.work" if scenario.job.work is not None else "job.flops"
        return [f"{source}: {key}: the job's failure-free compute time comes to "
                f"{work / (365 * 86400.0):.3g} years, beyond any plausible run"]
    est = estimate(scenario)
    out = []
    limit = scenario.run.max_events
    if est.events > limit:
        days = est.span_s / 86400.0
        out.append(
            f"{source}: run.max_events: one replication would need about {est.events:.2g} "
            f"events ({est.failures:.2g} failures and {est.checkpoints:.2g} checkpoints"
            f"{_trip_note(est)} over {days:.3g} simulated days), above the limit of {limit:,}; check "
            f"job.checkpoint.interval, the failure rates and run.horizon, or raise "
            f"run.max_events if the run is meant to be this big")
    memory = machine_memory_bytes() * MEMORY_SHARE
    if est.memory_bytes > memory:
        out.append(
            f"{source}: cluster: one replication would hold about "
            f"{est.memory_bytes / 1e9:.3g} GB of model state (nodes and per-unit Weibull clocks), "
            f"above half of this machine's memory ({memory / 1e9:.3g} GB); use fewer GPUs, "
            f"or exponential causes (which need no per-unit state)")
    return out
