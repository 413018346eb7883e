"""One flat record per replication (the unit of results, as in Ciw)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

#: scalar metrics in the order tables and CSV files show them, with their units
METRICS: dict[str, str] = {
    "wall_clock_days": "d",
    "ettr": "fraction",
    "utilization": "fraction",
    "effective_mfu": "fraction",
    "work_done_fraction": "fraction",
    "productive_hours": "h",
    "throttled_hours": "h",
    "degraded_hours": "h",
    "slow_hours": "h",
    "checkpoint_hours": "h",
    "lost_work_hours": "h",
    "detect_hours": "h",
    "restart_hours": "h",
    "ramp_hours": "h",
    "waiting_hours": "h",
    "outage_hours": "h",
    "interruptions": "count",
    "planned_interruptions": "count",
    "hardware_failures": "count",
    "effective_exaflops": "EFLOP/s",
    "usd_per_effective_exaflop_hour": "USD/(EFLOP/s·h)",
    "exaflops_per_busd_capex_per_mw": "EFLOP/s per billion USD of capex per MW",
    "energy_mwh": "MWh",
    "peak_facility_mw": "MW",
    "battery_peak_mw": "MW",
    "battery_throughput_mwh": "MWh",
    "battery_cycles": "count",
    "unserved_mwh": "MWh",
    "power_trips": "count",
    "frequency_max_deviation_hz": "Hz",
    "frequency_nadir_hz": "Hz",
    "frequency_peak_hz": "Hz",
    "rocof_max_hz_per_s": "Hz/s",
    "frequency_excursion_hours": "h",
    "oscillation_amplitude_hz": "Hz",
    "oscillation_violation_hours": "h",
    "grid_ramp_violations": "count",
    "generator_oscillation_hours": "h",
    "soc_limit_hours": "h",
    "floor_energy_mwh": "MWh",
    "energy_cost_usd": "USD",
    "power_capex_usd": "USD",
}
#: metrics that exist only when the scenario has a power block
POWER_METRICS = ("energy_mwh", "peak_facility_mw", "battery_peak_mw", "battery_throughput_mwh",
                 "battery_cycles", "unserved_mwh", "power_trips", "frequency_max_deviation_hz",
                 "frequency_nadir_hz", "frequency_peak_hz", "rocof_max_hz_per_s",
                 "frequency_excursion_hours", "oscillation_amplitude_hz",
                 "oscillation_violation_hours", "grid_ramp_violations",
                 "generator_oscillation_hours", "soc_limit_hours", "floor_energy_mwh",
                 "energy_cost_usd", "power_capex_usd", "exaflops_per_busd_capex_per_mw")
#: metrics that can be negative (the others are counts, durations, energies, ... ≥ 0)
SIGNED_METRICS = ("frequency_nadir_hz",)


def metric_range(name: str) -> tuple[float, float]:
    """The values a metric can take: [0, 1] for fractions, [0, ∞) for the other unsigned."""
    if name in SIGNED_METRICS or name not in METRICS:
        return (-math.inf, math.inf)
    return (0.0, 1.0) if METRICS[name] == "fraction" else (0.0, math.inf)


LEDGER = ("productive_hours", "throttled_hours", "degraded_hours", "slow_hours", "checkpoint_hours",
          "lost_work_hours", "detect_hours", "restart_hours", "ramp_hours", "waiting_hours",
          "outage_hours")


@dataclass
class ReplicationRecord:
    """Everything one replication reports.

    Times are in the unit their name says; fractions in [0, 1]; NaN where a metric does not
    apply (``effective_mfu`` without ``job.mfu``, economics without prices).
    """

    replication: int
    completed: bool
    wall_clock_days: float
    ettr: float
    utilization: float
    effective_mfu: float
    work_done_fraction: float
    productive_hours: float
    throttled_hours: float
    degraded_hours: float
    slow_hours: float
    checkpoint_hours: float
    lost_work_hours: float
    detect_hours: float
    restart_hours: float
    ramp_hours: float
    waiting_hours: float
    outage_hours: float
    interruptions: int
    planned_interruptions: int
    hardware_failures: int
    effective_exaflops: float
    usd_per_effective_exaflop_hour: float
    exaflops_per_busd_capex_per_mw: float = math.nan
    energy_mwh: float = math.nan
    peak_facility_mw: float = math.nan
    battery_peak_mw: float = math.nan
    battery_throughput_mwh: float = math.nan
    battery_cycles: float = math.nan
    unserved_mwh: float = math.nan
    power_trips: float = math.nan
    frequency_max_deviation_hz: float = math.nan
    frequency_nadir_hz: float = math.nan
    frequency_peak_hz: float = math.nan
    rocof_max_hz_per_s: float = math.nan
    frequency_excursion_hours: float = math.nan
    oscillation_amplitude_hz: float = math.nan
    oscillation_violation_hours: float = math.nan
    grid_ramp_violations: float = math.nan
    generator_oscillation_hours: float = math.nan
    soc_limit_hours: float = math.nan
    floor_energy_mwh: float = math.nan
    energy_cost_usd: float = math.nan
    power_capex_usd: float = math.nan
    interruptions_by_cause: dict[str, int] = field(default_factory=dict)
    power_trips_by_reason: dict[str, int] = field(default_factory=dict)
    oscillation_band_mw: dict[str, float] = field(default_factory=dict)
    smoothing_energy_mwh: dict[str, float] = field(default_factory=dict)
    #: per cause (h): work lost, restarts (and their ramps), and time down after it (waiting
    #: for hardware, or a dark site); planned stops appear as the cause "planned"
    lost_hours_by_cause: dict[str, float] = field(default_factory=dict)
    restart_hours_by_cause: dict[str, float] = field(default_factory=dict)
    down_hours_by_cause: dict[str, float] = field(default_factory=dict)
    #: with checkpoint tiers, per tier (h): write stalls, and work lost rolling back to it
    checkpoint_hours_by_tier: dict[str, float] = field(default_factory=dict)
    lost_hours_by_tier: dict[str, float] = field(default_factory=dict)
    #: fail-slow episodes begun, and the stragglers evicted (counted as interruptions too)
    slow_episodes: int = 0
    #: bad nodes at the end (systematic defects, and repairs that did not fix their node),
    #: and nodes retired after failures.retire_after failures
    bad_nodes: int = 0
    retired_nodes: int = 0
    #: GPU-hours of installed GPUs out of service (in repair, or retired)
    gpu_hours_down: float = 0.0
    straggler_evictions: int = 0
    events: int = 0
    sim_seconds: float = 0.0
    #: True if the replication stopped at ``run.max_events`` before its end or horizon
    stopped_at_event_budget: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flat(self, causes: list[str], cost_causes: list[str] | None = None) -> dict[str, Any]:
        """CSV row: scalar fields plus one ``interruptions.<cause>`` column per cause."""
        row = {k: v for k, v in asdict(self).items() if not isinstance(v, dict)}
        for c in causes:
            row[f"interruptions.{c}"] = self.interruptions_by_cause.get(c, 0)
        for name, table in (("lost_hours", self.lost_hours_by_cause),
                            ("restart_hours", self.restart_hours_by_cause),
                            ("down_hours", self.down_hours_by_cause)):
            for c in (cost_causes if cost_causes is not None else sorted(table)):
                row[f"{name}.{c}"] = table.get(c, 0.0)
        if not math.isnan(self.power_trips):
            from simulator.power.protection import REASONS

            for reason in REASONS:
                row[f"power_trips.{reason}"] = self.power_trips_by_reason.get(reason, 0)
        for key, mw in self.oscillation_band_mw.items():
            row[f"oscillation_band_mw.{key}"] = mw
        for key, mwh in self.smoothing_energy_mwh.items():
            row[f"smoothing_energy_mwh.{key}"] = mwh
        for key, h in self.checkpoint_hours_by_tier.items():
            row[f"checkpoint_hours.{key}"] = h
        for key, h in self.lost_hours_by_tier.items():
            row[f"lost_work_hours.{key}"] = h
        return row
