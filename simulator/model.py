"""One replication: build the SimPy model from a scenario and run it to a record.

:func:`simulate` is a pure function of (scenario, seed sequence): the same inputs give the
same record on any process or machine, which is what makes ``-j`` and Dask runs identical.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from simulator.badnodes import BadNodes
from simulator.checkpoints import Tier
from simulator.config import Scenario
from simulator.driver import FailureDriver
from simulator.failures import CauseSpec, FailureSource, read_trace, resolve_causes
from simulator.fleet import Fleet
from simulator.job import Job, JobParams
from simulator.jobconfig import PERSISTENT
from simulator.layout import layout
from simulator.power.coupling import PowerCoupling
from simulator.power.load import MECHANISMS
from simulator.power.plant import PowerMetrics, SegmentLog
from simulator.records import ReplicationRecord
from simulator.stragglers import Stragglers, slowdown_specs

#: child random streams per replication, one per random component (common random numbers)
STREAMS = ("failures", "repairs", "planned", "power", "repair_start", "slowdowns", "bad_nodes")
HOURS = 3600.0
DAYS = 86400.0


def events_scheduled(env: simpy.Environment) -> int:
    """Events scheduled so far (SimPy numbers each scheduled event from its ``_eid`` counter).

    Reading the counter costs nothing per event, unlike overriding ``schedule``.
    """
    counter = getattr(env, "_eid", None)
    return int(next(counter)) if counter is not None else -1


def component_rngs(seed: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent generators per component, derived without mutating ``seed``."""
    return {
        name: np.random.default_rng(
            np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k)))
        for k, name in enumerate(STREAMS)
    }


@functools.lru_cache(maxsize=8)
def _cached_trace(path: str, mtime: float, causes: tuple[CauseSpec, ...]):
    return read_trace(Path(path), causes)


def job_params(scenario: Scenario) -> JobParams:
    j = scenario.job
    ck = j.checkpoint
    return JobParams(
        work_s=scenario.work_seconds,
        tiers=(Tier(PERSISTENT, ck.interval, ck.write_s, ck.persist_time),
               *(Tier(t.name, t.interval, t.write_s, t.persist_time, t.location, t.restore_time)
                 for t in ck.tiers)),
        restart_s=scenario.restart_s,
        failures_during_restart=j.restart.failures_during_restart,
        planned_per_s=j.planned_interruptions_per_day / DAYS,
        outage_s=scenario.power.trip_outage_time if scenario.power is not None else 0.0,
        compute_rate=1.0 / (1.0 + _throughput_cost(scenario)),
        ramp_s=scenario.power.job_ramp_time if scenario.power is not None else 0.0,
        waiting_failures_interrupt=j.restart.failures_while_waiting == "interrupt",
        detect_s={c.name: c.detect_time for c in scenario.failures.causes if c.detect_time > 0},
        strategy=j.recovery.strategy,
        swap_s=j.recovery.swap_time or 0.0,
        reconfigure_s=j.recovery.reconfigure_time,
        replicas=j.recovery.replicas or 1,
        min_replicas=j.recovery.min_replicas,
    )


def _throughput_cost(scenario: Scenario) -> float:
    """Fraction of compute throughput the power smoothing costs (0 without power)."""
    if scenario.power is None:
        return 0.0
    from simulator.power.load import LoadModel

    return LoadModel(scenario.power, scenario.cluster.groups,
                     scenario.job.iteration_time).throughput_cost


@dataclass
class Timeline:
    """Probe output: job state changes ``(time_s, state, progress_s)`` of one replication."""

    changes: list[tuple[float, str, float]] = field(default_factory=list)

    def __call__(self, t: float, state: str, progress_s: float) -> None:
        self.changes.append((t, state, progress_s))


def simulate(scenario: Scenario, seed: np.random.SeedSequence, replication: int = 0,
             timeline: Timeline | None = None,
             segments: SegmentLog | None = None) -> ReplicationRecord:
    """Run one replication to completion or to ``run.horizon``.

    Args:
        timeline: optional probe recording job state changes.
        segments: optional probe recording the power plant at each segment start.
    """
    started = time.perf_counter()
    rngs = component_rngs(seed)
    env = simpy.Environment()
    causes = resolve_causes(scenario)
    trace = None
    if scenario.failures.trace is not None:
        path = scenario.failures.trace
        trace = _cached_trace(str(path), path.stat().st_mtime, tuple(causes))
    source = FailureSource(scenario, causes, rngs["failures"], trace)
    slow = slowdown_specs(scenario) if scenario.failures.slowdowns else []
    fleet = Fleet(env, layout(scenario), causes + [s[0] for s in slow], source, rngs["repairs"],
                  scenario.job.recovery.replicas, scenario.cluster.spare_unit == "rack")
    if scenario.failures.repair_start == "stationary" and trace is None:
        fleet.start_in_repair(rngs["repair_start"])
    job = Job(env, job_params(scenario), fleet, rngs["planned"], on_state=timeline)
    power = None
    if scenario.power is not None:
        power = PowerCoupling(env, scenario, fleet, segments)
        power.attach(job)
    if timeline is not None:
        timeline(0.0, job.state, 0.0)
    driver = FailureDriver(env, source, fleet, job)
    f = scenario.failures
    if f.bad_nodes is not None or f.repair_success < 1 or f.retire_after is not None:
        bad = None
        if f.bad_nodes is not None and trace is None:
            bad = BadNodes(env, fleet.causes, fleet.n_nodes, f.bad_nodes.multiplier,
                           rngs["bad_nodes"], lambda c, u: driver.apply(c, u, True))
            bad.start_bad(f.bad_nodes.fraction, fleet.group_of)
        fleet.imperfect(bad, f.repair_success, f.retire_after, rngs["bad_nodes"])
    if slow:
        first = len(causes)
        job.stragglers = Stragglers(env, slow, rngs["slowdowns"],
                                    lambda k, unit: driver.evict(first + k, unit))
        job.stragglers.on_change = job.pace_changed
    horizon = scenario.run.horizon
    exhausted = not run_bounded(env, env.any_of([job.process, env.timeout(horizon)]),
                                scenario.run.max_events)
    job.close()
    fleet.finish()
    record = _record(scenario, job, fleet, env, replication, time.perf_counter() - started,
                     power.solver.metrics if power is not None else None)
    record.stopped_at_event_budget = exhausted
    return record


def run_bounded(env: simpy.Environment, until: simpy.Event, max_events: int) -> bool:
    """``env.run(until)``, but at most ``max_events`` events: True if ``until`` fired, False if
    the budget ran out first (the model is left as it stood, like at a horizon)."""
    until.callbacks.append(simpy.core.StopSimulation.callback)
    step = env.step
    try:
        for _ in range(max_events):
            step()
    except simpy.core.StopSimulation:
        return True
    except simpy.core.EmptySchedule:  # nothing left to happen: as good as finished
        return True
    return False


def _record(scenario: Scenario, job: Job, fleet: Fleet, env: simpy.Environment,
            replication: int, sim_seconds: float,
            pm: PowerMetrics | None) -> ReplicationRecord:
    led = job.ledger
    wall_s = job.done_at if job.done_at is not None else float(env.now)
    wall_s = max(wall_s, 1e-12)
    productive = led.productive
    ettr = productive / wall_s
    c = scenario.cluster
    utilization = productive * scenario.job_gpus / (c.installed_gpus * wall_s)
    mfu = scenario.job.mfu
    eff_mfu = mfu * ettr if mfu is not None else math.nan
    exaflops = scenario.job_peak_flops * mfu * ettr / 1e18 if mfu is not None else math.nan
    power = _power_fields(scenario, pm, wall_s) if pm is not None else {}
    storage_capex = power.get("power_capex_usd", 0.0)
    usd_per = baker = math.nan
    econ = scenario.economics
    if econ is not None and mfu is not None and exaflops > 0:
        capex = sum(g.nodes * g.gpus_per_node * (econ.gpu_capex if econ.gpu_capex is not None
                                                 else g.gpu_type.price_usd) for g in c.groups)
        if pm is not None and econ.facility_capex_per_mw is not None:
            capex += econ.facility_capex_per_mw * pm.peak_facility_w / 1e6
        capex += storage_capex
        per_hour = capex / (econ.amortization / HOURS)
        if pm is not None and not math.isnan(power["energy_cost_usd"]):
            per_hour += power["energy_cost_usd"] / (wall_s / HOURS)
        usd_per = per_hour / exaflops
        if pm is not None and pm.energy_j > 0:
            # Gavin Baker's figure of merit: effective compute per $B of capex per MW drawn
            baker = exaflops / (capex / 1e9) / (pm.energy_j / wall_s / 1e6)
    by_cause = dict(sorted(job.interruptions.items()))
    return ReplicationRecord(
        replication=replication,
        completed=job.done_at is not None,
        wall_clock_days=wall_s / DAYS,
        ettr=ettr,
        utilization=utilization,
        effective_mfu=eff_mfu,
        work_done_fraction=min(job.progress_s / scenario.work_seconds, 1.0),
        productive_hours=productive / HOURS,
        throttled_hours=led.throttled / HOURS,
        degraded_hours=led.degraded / HOURS,
        slow_hours=led.slow / HOURS,
        checkpoint_hours=led.checkpoint / HOURS,
        lost_work_hours=led.lost_work / HOURS,
        detect_hours=led.detect / HOURS,
        restart_hours=led.restart / HOURS,
        ramp_hours=led.ramp / HOURS,
        waiting_hours=led.waiting / HOURS,
        outage_hours=led.outage / HOURS,
        interruptions=sum(by_cause.values()),
        planned_interruptions=job.planned,
        hardware_failures=fleet.failures,
        effective_exaflops=exaflops,
        usd_per_effective_exaflop_hour=usd_per,
        exaflops_per_busd_capex_per_mw=baker,
        interruptions_by_cause=by_cause,
        lost_hours_by_cause={k: v / HOURS for k, v in sorted(job.lost_by_cause.items())},
        restart_hours_by_cause={k: v / HOURS for k, v in sorted(job.restart_by_cause.items())},
        down_hours_by_cause={k: v / HOURS for k, v in sorted(job.down_by_cause.items())},
        **_tier_fields(job),
        bad_nodes=len(fleet.bad.bad) if fleet.bad is not None else 0,
        retired_nodes=len(fleet.retired),
        gpu_hours_down=fleet.gpu_seconds_down / HOURS,
        slow_episodes=job.stragglers.episodes if job.stragglers is not None else 0,
        straggler_evictions=job.stragglers.evictions if job.stragglers is not None else 0,
        events=events_scheduled(env),
        **power,
        sim_seconds=sim_seconds,
    )


def _tier_fields(job: Job) -> dict[str, Any]:
    """Write stalls and lost work per checkpoint tier (h), when there are tiers."""
    copies = job.copies
    if len(copies.tiers) < 2:
        return {}
    names = [t.name for t in copies.tiers]
    return {"checkpoint_hours_by_tier": {n: v / HOURS for n, v in
                                         zip(names, copies.checkpoint_s, strict=True)},
            "lost_hours_by_tier": {n: v / HOURS for n, v in
                                   zip(names, copies.lost_s, strict=True)}}


def _power_fields(scenario: Scenario, pm: PowerMetrics, wall_s: float) -> dict[str, Any]:
    """Power metrics in report units (MW, MWh, h, USD)."""
    cfg = scenario.power
    assert cfg is not None
    mwh = 3.6e9
    usable = cfg.battery.count * cfg.battery.unit_energy * (cfg.battery.soc_max - cfg.battery.soc_min)
    capex = cfg.battery.count * cfg.battery.unit_capex + sum(
        g.racks * (g.config.smoothing or cfg.smoothing).rack_storage_capex
        for g in layout(scenario))
    price = cfg.electricity_price
    return {
        "energy_mwh": pm.energy_j / mwh,
        "peak_facility_mw": pm.peak_facility_w / 1e6,
        "battery_peak_mw": pm.battery_peak_w / 1e6,
        "battery_throughput_mwh": pm.battery_throughput_j / mwh,
        "battery_cycles": pm.battery_discharge_j / usable if usable > 0 else 0.0,
        "unserved_mwh": pm.unserved_j / mwh,
        "power_trips": float(pm.trips),
        "frequency_max_deviation_hz": max(-pm.frequency_low_hz, pm.frequency_high_hz),
        "frequency_nadir_hz": pm.frequency_low_hz,
        "frequency_peak_hz": pm.frequency_high_hz,
        "rocof_max_hz_per_s": pm.rocof_max_hz_s,
        "frequency_excursion_hours": pm.excursion_s / HOURS,
        "oscillation_amplitude_hz": pm.oscillation_hz,
        "oscillation_violation_hours": pm.band_violation_s / HOURS,
        "grid_ramp_violations": float(pm.grid_ramp_violations),
        "generator_oscillation_hours": pm.generator_oscillation_s / HOURS,
        "soc_limit_hours": pm.soc_limit_s / HOURS,
        "floor_energy_mwh": pm.floor_energy_j / mwh,
        "smoothing_energy_mwh": {k: pm.smoothing_energy_j.get(k, 0.0) / mwh
                                 for k in MECHANISMS},
        "energy_cost_usd": pm.energy_j * price if price is not None else math.nan,
        "power_capex_usd": capex,
        "power_trips_by_reason": dict(sorted(pm.trips_by_reason.items())),
        "oscillation_band_mw": {k: v / 1e6 for k, v in pm.band_peak_w.items()},
    }
