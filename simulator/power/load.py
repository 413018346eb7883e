"""Facility load: PUE × (GPU power by job state + node overhead), as a periodic trapezoid.

During ``compute`` all job GPUs are in phase: each iteration spends ``compute_fraction`` of its
period at the compute level and the rest at the communication level, joined by linear edges
of ``edge_time``. Every other state is a constant level (a degenerate trapezoid). All powers W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.catalog import GpuType
from simulator.config import FleetGroup, GpuWattsConfig, PowerConfig
from simulator.power.smoothing import damp, rack_shave, ramp_limit
from simulator.power.trapezoid import Trapezoid

__all__ = ["GpuLevels", "GroupLoad", "LoadModel", "Trapezoid", "gpu_levels"]


@dataclass(frozen=True)
class GpuLevels:
    """Per-GPU power in W by state, after the power floor."""

    compute: float
    communication: float
    checkpoint: float
    restart: float
    waiting: float
    idle: float
    floor: float


def gpu_levels(cfg: PowerConfig, gpu: GpuType, watts: GpuWattsConfig | None = None,
               floored: bool = True) -> GpuLevels:
    """Levels from ``watts`` (default ``cfg.gpu_watts``), defaulting to the catalog (compute =
    TDP, communication = ½ TDP, checkpoint = 0.35 TDP, restart = 0.2 TDP, waiting = idle =
    catalog idle), each raised to the power floor (which holds for every powered GPU, idle
    ones included: a floor the GPUs never go below)."""
    w = watts if watts is not None else cfg.gpu_watts
    idle = w.idle if w.idle is not None else gpu.idle_w
    floor = cfg.gpu_power_floor * gpu.tdp_w if floored else 0.0

    def lvl(value: float | None, default: float) -> float:
        return max(value if value is not None else default, floor)

    return GpuLevels(
        compute=lvl(w.compute, gpu.tdp_w),
        communication=lvl(w.communication, 0.5 * gpu.tdp_w),
        checkpoint=lvl(w.checkpoint, max(idle, 0.35 * gpu.tdp_w)),
        restart=lvl(w.restart, max(idle, 0.2 * gpu.tdp_w)),
        waiting=lvl(w.waiting, idle),
        idle=lvl(idle, idle),
        floor=floor,
    )


#: the mechanisms whose energy is booked, in the order they apply
MECHANISMS = ("floor", "damper", "ramp", "rack_storage")


class GroupLoad:
    """Power model of one node group (GPU type), with its smoothing."""

    def __init__(self, cfg: PowerConfig, group: FleetGroup, shape: tuple[float, float, float]):
        self.levels = gpu_levels(cfg, group.gpu_type, group.gpu_watts)
        self.raw = gpu_levels(cfg, group.gpu_type, group.gpu_watts, floored=False)
        self.gpn = group.gpus_per_node
        self.overhead = group.node_overhead if group.node_overhead is not None else cfg.node_overhead
        self.smoothing = group.smoothing if group.smoothing is not None else cfg.smoothing
        self.tdp = group.gpu_type.tdp_w
        self.gpus_per_rack = group.gpus_per_node * group.nodes_per_rack
        self._shape = shape
        self._stages: dict[str, tuple[Trapezoid, ...]] = {}

    @property
    def throughput_cost(self) -> float:
        """Fraction of compute throughput the smoothing costs (the damper's)."""
        sm = self.smoothing
        return sm.damper_throughput_cost if sm.damper is not None else 0.0

    def _shape_of(self, levels: GpuLevels, state: str) -> Trapezoid:
        if state == "compute":
            t_high, edge, period = self._shape
            return Trapezoid(levels.communication, levels.compute, t_high, edge, period)
        return Trapezoid.constant(getattr(levels, state))

    def stages(self, state: str) -> tuple[Trapezoid, ...]:
        """Per-GPU power of a job GPU in ``state`` (W): raw, then after each of
        :data:`MECHANISMS` (see :mod:`simulator.power.smoothing`)."""
        got = self._stages.get(state)
        if got is None:
            raw = self._shape_of(self.raw, state)
            if state == "compute" and self.levels.floor > self.raw.communication:
                # the floor clips the unfloored waveform (its edges get shorter)
                floored = raw.clip_below(self.levels.floor)
            else:
                floored = self._shape_of(self.levels, state)
            sm = self.smoothing
            damped = damp(floored, sm.damper * self.tdp) if sm.damper is not None else floored
            ramped = ramp_limit(damped, sm.ramp_up, sm.ramp_down)
            # the rack's storage, shared out per GPU (the shave scales with the rack)
            stored = rack_shave(ramped, sm.rack_storage_power / self.gpus_per_rack,
                                sm.rack_storage_energy / self.gpus_per_rack,
                                sm.rack_storage_efficiency ** 0.5)
            got = self._stages[state] = (raw, floored, damped, ramped, stored)
        return got

    def per_gpu(self, state: str) -> Trapezoid:
        """Per-GPU power of a job GPU in ``state`` (W), every mechanism applied."""
        return self.stages(state)[-1]

    def it_load(self, state: str, job_nodes: int, free_nodes: int) -> Trapezoid:
        """IT power (W) of the group: job GPUs by state, idle GPUs, node overheads."""
        base = (free_nodes * self.gpn * self.levels.idle
                + (job_nodes + free_nodes) * self.overhead)
        return self.per_gpu(state).scale(job_nodes * self.gpn).shift(base)

    def extras(self, state: str, job_nodes: int, free_nodes: int = 0) -> tuple[float, ...]:
        """Extra IT power (W, mean) each of :data:`MECHANISMS` costs for the group's job GPUs
        (and, for the floor, its idle GPUs)."""
        means = [w.mean for w in self.stages(state)]
        idle = (self.levels.idle - self.raw.idle) * free_nodes
        floor = (means[1] - means[0]) * job_nodes + idle
        steps = [(means[k + 1] - means[k]) * job_nodes for k in range(1, len(means) - 1)]
        return tuple(x * self.gpn for x in (floor, *steps))

    def floor_extra(self, state: str, job_nodes: int, free_nodes: int = 0) -> float:
        """Extra IT power (W, mean) the floor costs for the group's job and idle GPUs."""
        return self.extras(state, job_nodes, free_nodes)[0]


class LoadModel:
    """Facility load of the cluster for a job state and per-group hardware counts.

    Args:
        cfg: the power block.
        groups: the fleet (one entry for a single-type cluster).
        iteration_s: iteration period (s).
    """

    def __init__(self, cfg: PowerConfig, groups: list[FleetGroup], iteration_s: float):
        self.cfg = cfg
        f, edge = cfg.waveform.compute_fraction, cfg.waveform.edge_time
        # edges sit inside the phases, so the mean is low + f·(high − low) for any edge time
        edge = min(edge, f * iteration_s, (1 - f) * iteration_s)
        self.groups = [GroupLoad(cfg, g, (f * iteration_s - edge, edge, iteration_s))
                       for g in groups]
        first = self.groups[0]
        self.levels, self.raw, self.gpn = first.levels, first.raw, first.gpn

    def facility(self, state: str, job_nodes: int | list[int], free_nodes: int | list[int]) -> Trapezoid:
        """Facility power (W) while the job is in ``state`` holding ``job_nodes`` healthy nodes
        (per group), with ``free_nodes`` healthy idle nodes (per group); failed nodes draw
        nothing, an outage nothing.

        All groups are in phase; for a mixed fleet the levels add up and the edges are the
        types' edges weighted by their swings, so the mean is exact; the waveform is exact when
        every type has the same edges (a floor or smoothing that differs by type changes the
        edges' shape slightly).
        """
        if state == "outage":
            return Trapezoid.constant(0.0)
        held = [job_nodes] if isinstance(job_nodes, int) else job_nodes
        free = [free_nodes] if isinstance(free_nodes, int) else free_nodes
        parts = [g.it_load(state, h, f) for g, h, f in zip(self.groups, held, free, strict=True)]
        if len(parts) == 1:
            return parts[0].scale(self.cfg.pue)
        shape = parts[0]
        low = sum(p.low for p in parts)
        high = sum(p.high for p in parts)
        # edges weighted by each type's swing: the mean (and so the energy) stays exact
        swing = sum(p.high - p.low for p in parts)
        if swing > 0:
            edge = sum((p.high - p.low) * p.t_edge for p in parts) / swing
            fall = sum((p.high - p.low) * p.t_fall for p in parts) / swing
        else:
            edge, fall = shape.t_edge, shape.t_fall
        return Trapezoid(low, high, shape.t_high, edge, shape.period, fall).scale(self.cfg.pue)

    def extras(self, state: str, job_nodes: int | list[int],
               free_nodes: int | list[int] = 0) -> tuple[float, ...]:
        """Extra facility power (W, mean) each of :data:`MECHANISMS` costs in this state."""
        if state == "outage":
            return (0.0,) * len(MECHANISMS)
        held = [job_nodes] if isinstance(job_nodes, int) else job_nodes
        free = [free_nodes] * len(held) if isinstance(free_nodes, int) else free_nodes
        per = [g.extras(state, h, f) for g, h, f in zip(self.groups, held, free, strict=True)]
        return tuple(self.cfg.pue * sum(x) for x in zip(*per, strict=True))

    def floor_extra(self, state: str, job_nodes: int | list[int],
                    free_nodes: int | list[int] = 0) -> float:
        """Extra facility power (W, mean) the power floor costs in this state."""
        return self.extras(state, job_nodes, free_nodes)[0]

    @property
    def throughput_cost(self) -> float:
        """Fraction of compute throughput the smoothing costs (the costliest type sets the pace
        of a synchronous job)."""
        return max(g.throughput_cost for g in self.groups)


def site_peak_w(scenario: Any, loads: LoadModel | None = None, other: Any = None) -> float:
    """The facility's peak (W): every node up, the job computing, plus the other loads' peak.
    Light to import (no solver), for the checks made before a run."""
    from simulator.layout import layout
    from simulator.power.otherloads import other_loads

    cfg = scenario.power
    loads = loads if loads is not None else LoadModel(cfg, scenario.cluster.groups,
                                                      scenario.job.iteration_time)
    groups = layout(scenario)
    peak = loads.facility("compute", [g.job_nodes for g in groups],
                          [g.nodes - g.job_nodes for g in groups]).high
    other = other if other is not None else other_loads(cfg)
    return peak + other.peak_w

