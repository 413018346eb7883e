"""Diagnostics: results a planner could misread, said out loud.

A scenario can be valid and still not mean what its author meant (``grid: {capacity: 50}`` is
50 W), and a run can end in numbers that look like an answer but are not one (a job that
spent its life waiting for spare nodes, a horizon reached before the work was done). Each
such finding is a warning ``{code, message}``: printed under the table, listed in
``summary.json`` under ``warnings``, and turned into exit 2 by ``--strict``.

* :func:`input_warnings` reads the scenario as written (plain numbers that read like a unit
  slip) and as validated (a plant that cannot carry its peak, battery units unlike any built).
* :func:`result_warnings` reads the replications: horizon or event budget reached, one
  replication, a job starved for hardware, and why the closed forms do not apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.config import Scenario
from simulator.records import ReplicationRecord

Warning_ = dict[str, str]

#: waiting share of the wall clock above which the job is called starved for hardware
STARVED_SHARE = 0.02
#: the spare-shortage probability the suggested spare count aims below
SPARE_TARGET = 0.01
#: plausible hours of energy per battery unit (grid batteries hold 1 to 8 h at full power)
BATTERY_HOURS = (0.25, 12.0)

# key -> (a plain number below this is suspicious, the unit it probably meant, its factor);
# thresholds sit far below any real value in SI, and far above any real value in the unit
_SLIPS: dict[str, tuple[float, str, float]] = {
    "job.work": (3600.0, "d", 86400.0),
    "run.horizon": (3600.0, "d", 86400.0),
    "job.checkpoint.interval": (30.0, "min", 60.0),
    "job.restart.time": (5.0, "min", 60.0),
    "cluster.repair_time": (60.0, "h", 3600.0),
    "power.grid.capacity": (1e4, "MW", 1e6),
    "power.generators.capacity": (1e4, "MW", 1e6),
    "power.battery.unit_power": (1e3, "MW", 1e6),
    "power.battery.unit_energy": (1e5, "MWh", 3.6e9),
    "power.node_overhead": (10.0, "kW", 1e3),
    "power.other_loads": (1e3, "MW", 1e6),
}


def _at(data: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _plain(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def unit_slips(raw: Mapping[str, Any]) -> list[Warning_]:
    """Plain numbers (SI) on keys where they read like a value in another unit."""
    out = []
    keys = dict(_SLIPS)
    for i, cause in enumerate(_at(raw, "failures.causes") or []):
        if isinstance(cause, Mapping):
            keys[f"failures.causes.{i}.mtbf"] = (3600.0, "h", 3600.0)
    for key, (below, unit, factor) in keys.items():
        value = _at(raw, key)
        if _plain(value) and value < below:
            out.append({"code": "unit_slip", "message": (
                f"{key}: {value:g} is a plain number, so it means {value:g} "
                f"{_si_unit(key)}; did you mean '{value:g} {unit}' "
                f"({value * factor:g} {_si_unit(key)})?")})
    return out


def _si_unit(key: str) -> str:
    if "capacity" in key or "power" in key or "overhead" in key or "other_loads" in key:
        return "W"
    return "J" if "energy" in key else "s"


def plant_warnings(scenario: Scenario) -> list[Warning_]:
    """A plant smaller than its site's peak load, and battery units unlike any built."""
    cfg = scenario.power
    if cfg is None:
        return []
    from simulator.power.load import site_peak_w

    out = []
    peak = site_peak_w(scenario)
    battery = cfg.battery.count * cfg.battery.unit_power
    steady = cfg.steady_supply_w
    if steady + battery < peak:
        out.append({"code": "plant_too_small", "message": (
            f"power: the grid ({cfg.grid.capacity / 1e6:.3g} MW), the generators "
            f"({cfg.generators.capacity / 1e6:.3g} MW) and the battery "
            f"({battery / 1e6:.3g} MW) together supply less than the site's peak load "
            f"({peak / 1e6:.3g} MW): every compute phase may trip the site")})
    elif steady < peak and cfg.battery.count:
        out.append({"code": "plant_relies_on_battery", "message": (
            f"power: the grid and the generators ({steady / 1e6:.3g} MW) are below the site's "
            f"peak load ({peak / 1e6:.3g} MW): the battery carries the difference until it is "
            f"empty, then the site trips")})
    b = cfg.battery
    if b.count and b.unit_power > 0:
        hours = b.unit_energy / b.unit_power / 3600.0
        lo, hi = BATTERY_HOURS
        if not lo <= hours <= hi:
            out.append({"code": "battery_unit", "message": (
                f"power.battery: each unit stores {hours:.3g} h of its power "
                f"({b.unit_energy / 3.6e9:.3g} MWh at {b.unit_power / 1e6:.3g} MW); grid "
                f"batteries hold {lo:g} to {hi:g} h (a Megapack 2 XL: 3.9 MWh at 1.9 MW or "
                f"0.98 MW): check unit_energy and unit_power")})
    return out


def input_warnings(raw: Mapping[str, Any], scenario: Scenario) -> list[Warning_]:
    """Warnings about the scenario itself, before anything is simulated."""
    return unit_slips(raw) + plant_warnings(scenario)


def suggested_spares(scenario: Scenario) -> int | None:
    """Fewest spare nodes for P(the job waits for hardware) < 1 % by the binomial formula
    (one node type: the job's nodes, the per-node failure rate, the rate-weighted mean repair)."""
    from simulator.analytic import spare_shortage_probability
    from simulator.failures import resolve_causes
    from simulator.layout import layout

    groups = layout(scenario)
    if len(groups) != 1:
        return None
    g = groups[0]
    causes = resolve_causes(scenario)
    per_node = sum(c.rate_per_s * c.units for c in causes) / max(g.nodes, 1)
    if per_node <= 0:
        return None
    repair = sum(c.rate_per_s * c.units * c.repair.mean for c in causes) / (per_node * g.nodes)
    def short(spares: int) -> bool:
        return spare_shortage_probability(g.job_nodes, spares, per_node, repair) >= SPARE_TARGET

    # the shortage probability falls with every spare added: bisect for the first one below
    lo, hi = 0, 100_000
    if short(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if short(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def initial_state(scenario: Scenario) -> dict[str, str]:
    """How the fleet starts, in words: repairs (and Weibull ages, when there are Weibull
    causes). A healthy start makes short runs with long repairs look better than a running
    cluster does."""
    f = scenario.failures
    if f.trace is not None:
        return {"repairs": "healthy (failures replayed from a trace)"}
    out = {"repairs": "stationary (repairs under way as in a running cluster)"
           if f.repair_start == "stationary" else "healthy (every unit in service at t = 0)"}
    if any(c.weibull_shape is not None for c in f.causes):
        out["weibull_ages"] = ("stationary (units at random points of their renewal cycle)"
                               if f.weibull_start == "stationary" else "new (all units new)")
    return out


def _restarts_in_place(scenario: Scenario, cause: Any) -> bool:
    """Whether the cause's repair time is always 0 (a software fault: no node to replace)."""
    repair = cause.repair_time if cause.repair_time is not None else scenario.cluster.repair_time
    return repair.distribution == "fixed" and not repair.value


def analytic_caveats(scenario: Scenario, records: Sequence[ReplicationRecord]) -> list[str]:
    """Why Daly's closed forms do not describe this run (empty: they do)."""
    out = []
    if any(c.weibull_shape is not None for c in scenario.failures.causes):
        out.append("Weibull causes (the closed forms assume exponential failures)")
    if scenario.failures.trace is not None:
        out.append("failures replayed from a trace")
    if scenario.job.planned_interruptions_per_day > 0:
        out.append("planned interruptions (not in the closed forms)")
    rec = scenario.job.recovery
    if rec.strategy == "elastic":
        out.append("elastic recovery (the closed forms roll back to a checkpoint)")
    if rec.strategy == "hot_swap" and any(_restarts_in_place(scenario, c)
                                          for c in scenario.failures.causes):
        out.append("hot swap with causes that take no node out (they restart fully)")
    if scenario.job.checkpoint.tiers:
        out.append("checkpoint tiers (the closed forms have one checkpoint)")
    if any(c.detect_time > 0 for c in scenario.failures.causes):
        out.append("detection times (the closed forms have one restart time)")
    n = len(records)
    waiting = waiting_share(records)
    if waiting > STARVED_SHARE:
        out.append(f"the job waited for hardware {waiting:.1%} of the time")
    trips = sum(r.power_trips for r in records if math.isfinite(r.power_trips)) / n
    if trips > 0:
        out.append(f"power trips ({trips:.3g} per replication)")
    if any(not r.completed for r in records):
        out.append("replications stopped before the work was done")
    return out


def result_warnings(scenario: Scenario, records: Sequence[ReplicationRecord]) -> list[Warning_]:
    """Warnings about the results of ``records`` (the replications of ``scenario``)."""
    n = len(records)
    out: list[Warning_] = []
    if n == 1:
        out.append({"code": "one_replication", "message": (
            "one replication: the means are single samples and have no confidence interval; "
            "run at least 2 (-r) for intervals")})
    stopped = [r for r in records if r.stopped_at_event_budget]
    if stopped:
        out.append({"code": "event_budget", "message": (
            f"{len(stopped)} of {n} replications stopped at run.max_events before the job "
            f"finished or reached run.horizon (after {max(r.wall_clock_days for r in stopped):.3g}"
            f" simulated days at most): their metrics cover only that span")})
    unfinished = [r for r in records if not r.completed and not r.stopped_at_event_budget]
    if unfinished:
        done = sum(r.work_done_fraction for r in unfinished) / len(unfinished)
        out.append({"code": "horizon", "message": (
            f"{len(unfinished)} of {n} replications reached run.horizon before the work was "
            f"done ({done:.1%} of the work on average): wall clock and ETTR describe the "
            f"horizon, not the job, and the analytic column is not comparable")})
    out += _starved(scenario, records)
    caveats = analytic_caveats(scenario, records)
    if caveats:
        out.append({"code": "analytic_not_comparable", "message": (
            "the analytic column (Daly's closed forms) does not describe this run: "
            + "; ".join(caveats))})
    return out


def waiting_share(records: Sequence[ReplicationRecord]) -> float:
    """The share of the wall clock, over all replications, the job waited for hardware."""
    wall = sum(r.wall_clock_days * 24.0 for r in records)
    return sum(r.waiting_hours for r in records) / wall if wall > 0 else 0.0


def _starved(scenario: Scenario, records: Sequence[ReplicationRecord]) -> list[Warning_]:
    share = waiting_share(records)
    if share <= STARVED_SHARE:
        return []
    c = scenario.cluster
    spares = (sum(g.spare_nodes for g in c.fleet) if c.fleet is not None else c.spare_nodes)
    idle = scenario.cluster.total_gpus - scenario.job_gpus
    have = f"{spares} spare nodes" + (" (cluster.spare_nodes defaults to 0)" if not spares
                                      else "")
    if idle:
        have += f" and {idle:,} idle GPUs"
    hint = ""
    suggested = suggested_spares(scenario)
    if suggested is not None:
        hint = (f"; the binomial formula suggests cluster.spare_nodes = {suggested} for under "
                f"{SPARE_TARGET:.0%} waiting")
    if scenario.failures.repair_start == "healthy" and scenario.failures.trace is None:
        hint += ("; the fleet started with every unit in service, which understates waiting "
                 "in runs not much longer than the repairs (failures.repair_start: stationary "
                 "starts with repairs under way)")
    return [{"code": "starved_for_hardware", "message": (
        f"the job waited for hardware {share:.1%} of the wall clock, with {have}"
        f"{hint}")}]
