"""The job's parameters (seconds), its time ledger, and what it tells the power system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from simulator.checkpoints import Tier


class PowerHook(Protocol):
    """What the job tells the power system (see :mod:`simulator.power.coupling`)."""

    def segment(self, t: float, state: str, planned_s: float) -> None: ...

    def finish(self, t: float) -> None: ...


@dataclass(frozen=True)
class JobParams:
    """Job timing, all in seconds.

    Attributes:
        work_s: failure-free compute time to finish.
        tiers: the checkpoint tiers, the persistent one (τ, δ and persist lag) first.
        restart_s: restart time (R).
        outage_s: how long a power trip keeps the site dark.
        failures_during_restart: whether failures can interrupt a restart.
        waiting_failures_interrupt: whether a failure of a held node while the job waits for
            hardware counts as an interruption (else it only lengthens the wait).
        detect_s: per cause, how long the job sits stalled before the failure is noticed.
        strategy: ``restart``, ``hot_swap`` or ``elastic`` (see the module docstring).
        swap_s: hot_swap: time to remap a spare into the job.
        reconfigure_s: elastic: stall to drop a replica.
        replicas, min_replicas: elastic: data-parallel replicas, and the fewest it trains on.
        planned_per_s: planned interruptions per second of wall clock.
        compute_rate: work-seconds done per second of compute (1: full speed).
        ramp_s: soft start and stop: the time the job takes to bring its power up (before
            compute) and down (after its last checkpoint); 0: none.
    """

    work_s: float
    tiers: tuple[Tier, ...]
    restart_s: float
    failures_during_restart: bool
    planned_per_s: float
    outage_s: float = 0.0
    compute_rate: float = 1.0
    ramp_s: float = 0.0
    waiting_failures_interrupt: bool = False
    detect_s: dict[str, float] = field(default_factory=dict)
    strategy: str = "restart"
    swap_s: float = 0.0
    reconfigure_s: float = 0.0
    replicas: int = 1
    min_replicas: int = 1


@dataclass
class Ledger:
    """Where the wall-clock time went (seconds)."""

    compute: float = 0.0  # all compute, later split into productive, throttled, degraded, lost
    throttled: float = 0.0  # compute time a slowdown cost (rate below 1)
    degraded: float = 0.0  # compute time missing replicas cost (an elastic job below width)
    slow: float = 0.0  # compute time stragglers cost (the job at its slowest member's pace)
    checkpoint: float = 0.0
    lost_work: float = 0.0
    detect: float = 0.0
    restart: float = 0.0
    ramp: float = 0.0
    waiting: float = 0.0
    outage: float = 0.0

    @property
    def productive(self) -> float:
        return self.compute - self.lost_work - self.throttled - self.degraded - self.slow
