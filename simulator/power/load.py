"""Facility load: PUE × (GPU power by job state + node overhead), as a periodic trapezoid.

During ``compute`` all job GPUs are in phase: each iteration spends ``compute_fraction`` of its
period at the compute level and the rest at the communication level, joined by linear edges
of ``edge_time``. Every other state is a constant level (a degenerate trapezoid). All powers W.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.catalog import GpuType
from simulator.config import FleetGroup, GpuWattsConfig, PowerConfig


class Trapezoid:
    """A periodic load: ``high`` for ``t_high``, a linear fall over ``t_edge``, ``low`` for the
    rest of the period but one more edge, then a linear rise over ``t_edge`` (W, s).

    A constant load has ``low == high``. Immutable; mean and shape are precomputed because the
    event-level solver evaluates them on every segment.
    """

    __slots__ = ("high", "is_constant", "low", "mean", "period", "t_edge", "t_high", "t_low")

    def __init__(self, low: float, high: float, t_high: float = 0.0, t_edge: float = 0.0,
                 period: float = 1.0):
        self.low, self.high = low, high
        self.t_high, self.t_edge, self.period = t_high, t_edge, period
        self.is_constant = high <= low
        self.t_low = period - t_high - 2.0 * t_edge
        self.mean = low if self.is_constant else (
            low + (high - low) * (t_high + t_edge) / period)

    def __repr__(self) -> str:
        return (f"Trapezoid(low={self.low!r}, high={self.high!r}, t_high={self.t_high!r}, "
                f"t_edge={self.t_edge!r}, period={self.period!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trapezoid) and (
            (self.low, self.high, self.t_high, self.t_edge, self.period)
            == (other.low, other.high, other.t_high, other.t_edge, other.period))

    def __hash__(self) -> int:
        return hash((self.low, self.high, self.t_high, self.t_edge, self.period))

    @staticmethod
    def constant(level_w: float) -> Trapezoid:
        return Trapezoid(level_w, level_w)

    def clip_below(self, level_w: float) -> Trapezoid:
        """max(load, level): the shape seen above a floor (power floor, grid cap)."""
        if level_w <= self.low:
            return self
        if level_w >= self.high:
            return Trapezoid.constant(level_w)
        edge = self.t_edge * (self.high - level_w) / (self.high - self.low)
        return Trapezoid(level_w, self.high, self.t_high, edge, self.period)

    def shift(self, delta_w: float) -> Trapezoid:
        return Trapezoid(self.low + delta_w, self.high + delta_w, self.t_high, self.t_edge,
                         self.period)

    def scale(self, factor: float) -> Trapezoid:
        return Trapezoid(self.low * factor, self.high * factor, self.t_high, self.t_edge,
                         self.period)

    def above(self, g: float) -> float:
        """Mean of max(load − g, 0) over a period (W)."""
        lo, hi = self.low, self.high
        if g >= hi:
            return 0.0
        if g <= lo:
            return self.mean - g
        return (self.t_high * (hi - g) + self.t_edge * (hi - g) ** 2 / (hi - lo)) / self.period

    def below(self, g: float) -> float:
        """Mean of max(g − load, 0) over a period (W)."""
        return self.above(g) - (self.mean - g)

    def value(self, t: float) -> float:
        """Instantaneous power at time ``t`` (s) since the start of a period."""
        if self.is_constant:
            return self.low
        x = t % self.period
        if x < self.t_high:
            return self.high
        x -= self.t_high
        if x < self.t_edge:
            return self.high - (self.high - self.low) * x / self.t_edge
        x -= self.t_edge
        if x < self.t_low:
            return self.low
        x -= self.t_low
        return self.low + (self.high - self.low) * x / self.t_edge


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


class GroupLoad:
    """Power model of one node group (GPU type)."""

    def __init__(self, cfg: PowerConfig, group: FleetGroup, shape: tuple[float, float, float]):
        self.levels = gpu_levels(cfg, group.gpu_type, group.gpu_watts)
        self.raw = gpu_levels(cfg, group.gpu_type, group.gpu_watts, floored=False)
        self.gpn = group.gpus_per_node
        self.overhead = group.node_overhead if group.node_overhead is not None else cfg.node_overhead
        self._shape = shape

    def _shape_of(self, levels: GpuLevels, state: str) -> Trapezoid:
        if state == "compute":
            t_high, edge, period = self._shape
            return Trapezoid(levels.communication, levels.compute, t_high, edge, period)
        return Trapezoid.constant(getattr(levels, state))

    def per_gpu(self, state: str) -> Trapezoid:
        """Per-GPU power of a job GPU in ``state`` (W), floor applied."""
        if state == "compute" and self.levels.floor > self.raw.communication:
            # the floor clips the unfloored waveform (its edges get shorter)
            return self._shape_of(self.raw, state).clip_below(self.levels.floor)
        return self._shape_of(self.levels, state)

    def it_load(self, state: str, job_nodes: int, free_nodes: int) -> Trapezoid:
        """IT power (W) of the group: job GPUs by state, idle GPUs, node overheads."""
        base = (free_nodes * self.gpn * self.levels.idle
                + (job_nodes + free_nodes) * self.overhead)
        return self.per_gpu(state).scale(job_nodes * self.gpn).shift(base)

    def floor_extra(self, state: str, job_nodes: int, free_nodes: int = 0) -> float:
        """Extra IT power (W, mean) the floor costs for the group's job and idle GPUs."""
        if self.levels.floor <= 0:
            return 0.0
        job = (self.per_gpu(state).mean - self._shape_of(self.raw, state).mean) * job_nodes
        return (job + (self.levels.idle - self.raw.idle) * free_nodes) * self.gpn


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

        All groups are in phase; for a mixed fleet the levels add up on the unclipped shape
        (exact unless a power floor clips the edges of some types differently).
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
        return Trapezoid(low, high, shape.t_high, shape.t_edge, shape.period).scale(self.cfg.pue)

    def floor_extra(self, state: str, job_nodes: int | list[int],
                    free_nodes: int | list[int] = 0) -> float:
        """Extra facility power (W, mean) the power floor costs in this state."""
        if state == "outage":
            return 0.0
        held = [job_nodes] if isinstance(job_nodes, int) else job_nodes
        free = [free_nodes] * len(held) if isinstance(free_nodes, int) else free_nodes
        return self.cfg.pue * sum(g.floor_extra(state, h, f)
                                  for g, h, f in zip(self.groups, held, free, strict=True))
