"""The job's part of a scenario: work, checkpoints, restarts and the recovery strategy.

Times are SI seconds (the files may give units). The restart time may grow with the job's
size: a restart at scale spends longer in rendezvous, health checks and checkpoint loading
(MegaScale, NSDI 2024, budgets 10 min for detection and diagnosis and 15 min back to the
pre-failure step on 10,000+ GPUs).
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from simulator.configbase import Model
from simulator.limits import MAX_GPUS
from simulator.units import Bytes, BytesPerSecond, Seconds

#: the name the persistent checkpoint goes by beside its tiers
PERSISTENT = "persistent"


def _check_sized(model: Any, what: str) -> None:
    """size and bandwidth come together, and instead of write_time."""
    if model.size is None and model.bandwidth is None:
        return
    if model.size is None or model.bandwidth is None:
        raise ValueError(f"{what}: give both size and bandwidth (write_time = size / bandwidth)")
    if "write_time" in model.model_fields_set:
        raise ValueError(f"{what}: give write_time or size and bandwidth, not both")


def _write_s(model: Any) -> float:
    """The write stall (s): write_time, or size / bandwidth."""
    if model.size is not None and model.bandwidth is not None:
        return float(model.size / model.bandwidth)
    return float(model.write_time)


class CheckpointTier(Model):
    """A faster checkpoint between persistent ones, e.g. into host memory with a copy on a
    peer node (GEMINI, SOSP 2023; ByteRobust). ``location`` says which failures it survives:
    ``local`` (host memory or local disk: only failures that take no node out, such as a
    crashed process), ``peer`` (also a copy on another node: every node or GPU failure, not a
    rack failure or a dark site) or ``storage`` (everything)."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    interval: Seconds = Field(gt=0, description="compute time between this tier's checkpoints")
    write_time: Seconds = Field(default=0.0, ge=0, description="GPUs stall this long per write")
    size: Bytes | None = Field(default=None, gt=0, description="checkpoint size (with bandwidth)")
    bandwidth: BytesPerSecond | None = Field(default=None, gt=0,
                                             description="write bandwidth (with size)")
    persist_time: Seconds = Field(default=0.0, ge=0,
                                  description="after the write, until the copy is recoverable")
    location: Literal["local", "peer", "storage"] = "peer"
    restore_time: Seconds = Field(default=0.0, ge=0,
                                  description="added to the restart when recovering from it")

    @model_validator(mode="after")
    def _sized(self) -> CheckpointTier:
        _check_sized(self, f"tier {self.name}")
        return self

    @property
    def write_s(self) -> float:
        """The write stall (s)."""
        return _write_s(self)


class CheckpointConfig(Model):
    """The persistent checkpoint (to storage: it survives every failure), and optional
    faster ``tiers`` between persistent ones. Recovery rolls back to the freshest copy that
    survived the failure."""

    interval: Seconds = Field(gt=0, description="compute time between checkpoints")
    write_time: Seconds = Field(default=0.0, ge=0, description="GPUs stall this long per checkpoint")
    size: Bytes | None = Field(default=None, gt=0, description="checkpoint size (with bandwidth)")
    bandwidth: BytesPerSecond | None = Field(default=None, gt=0,
                                             description="write bandwidth (with size)")
    persist_time: Seconds = Field(
        default=0.0, ge=0, description="after the write ends, until the checkpoint is recoverable")
    tiers: list[CheckpointTier] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _sized(self) -> CheckpointConfig:
        _check_sized(self, "checkpoint")
        names = [t.name for t in self.tiers]
        dup = sorted({n for n in names if names.count(n) > 1} | ({PERSISTENT} & set(names)))
        if dup:
            raise ValueError(f"tier names must be unique and not {PERSISTENT!r}: "
                             f"{', '.join(dup)}")
        return self


    @property
    def write_s(self) -> float:
        """The persistent checkpoint's write stall (s)."""
        return _write_s(self)



class RestartConfig(Model):
    """How long a full restart takes (R, seconds): ``time`` alone, or growing with the job's
    node count n: ``time + per_doubling · log2(n)``, or a ``table`` of {nodes: time}
    interpolated linearly in log2(n) (held at its ends)."""

    time: Seconds | None = Field(default=None, ge=0,
                                 description="re-initialisation + checkpoint load (R)")
    per_doubling: Seconds | None = Field(
        default=None, ge=0, description="R grows by this much per doubling of the job's nodes")
    table: dict[Annotated[int, Field(gt=0, le=MAX_GPUS)], Seconds] | None = Field(
        default=None, description="R by job node count, interpolated in log2(nodes)")
    failures_during_restart: bool = True
    failures_while_waiting: Literal["extend", "interrupt"] = Field(
        default="extend",
        description="a failure of a node the job holds while it waits for hardware only "
                    "lengthens the wait, or also counts as an interruption of its cause")

    @model_validator(mode="after")
    def _one_law(self) -> RestartConfig:
        if self.table is not None:
            if self.time is not None or self.per_doubling is not None:
                raise ValueError("give either table or time (with per_doubling), not both")
            if not self.table:
                raise ValueError("table needs at least one {nodes: time} entry")
            if any(v < 0 for v in self.table.values()):
                raise ValueError("table times must be >= 0")
        elif self.time is None:
            raise ValueError("give time (optionally with per_doubling) or table")
        return self

    def seconds(self, nodes: int) -> float:
        """R for a job of ``nodes`` nodes (s)."""
        if self.table is None:
            extra = self.per_doubling * math.log2(max(nodes, 1)) if self.per_doubling else 0.0
            return float(self.time) + extra  # type: ignore[arg-type]
        points = sorted((math.log2(n), float(t)) for n, t in self.table.items())
        x = math.log2(max(nodes, 1))
        if x <= points[0][0]:
            return points[0][1]
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            if x <= xb:
                return ya + (yb - ya) * (x - xa) / (xb - xa)
        return points[-1][1]


def _strategy_name(value: Any) -> Any:
    # `recovery: hot_swap` is shorthand for {strategy: hot_swap}
    return {"strategy": value} if isinstance(value, str) else value


class RecoveryConfig(Model):
    """What the job does when a node it holds fails.

    * ``restart``: roll back to the last checkpoint, wait for a healthy node if no spare is
      free, restart (``job.restart``).
    * ``hot_swap``: roll back, and if a spare took the failed node's place remap it in
      ``swap_time`` instead of a full restart (warm standbys, as in ByteRobust); a failure that
      took no node out (software) or found no spare restarts fully.
    * ``elastic``: the job is ``replicas`` data-parallel replicas. Losing a node drops its
      replica: every replica stalls ``reconfigure_time``, then training continues on the
      others at progress rate ∝ healthy replicas / replicas, with no roll-back (the survivors
      hold the state, as in fault-tolerant HSDP). The replica rejoins when its node is
      replaced (a spare at once, else the repair). Below ``min_replicas`` the job stops and
      recovers as ``restart`` does.
    """

    strategy: Literal["restart", "hot_swap", "elastic"] = "restart"
    swap_time: Seconds | None = Field(default=None, ge=0,
                                      description="hot_swap: remap a spare into the job")
    reconfigure_time: Seconds = Field(default=0.0, ge=0,
                                      description="elastic: stall to drop a replica")
    replicas: int | None = Field(default=None, gt=0, le=MAX_GPUS,
                                 description="elastic: data-parallel replicas of the job")
    min_replicas: int = Field(default=1, gt=0, le=MAX_GPUS,
                              description="elastic: fewest replicas the job trains on")

    @model_validator(mode="after")
    def _needs(self) -> RecoveryConfig:
        s = self.strategy
        if s == "hot_swap" and self.swap_time is None:
            raise ValueError("hot_swap needs swap_time")
        if s == "elastic":
            if self.replicas is None:
                raise ValueError("elastic needs replicas (data-parallel replicas of the job)")
            if self.min_replicas > self.replicas:
                raise ValueError(f"min_replicas ({self.min_replicas}) exceeds replicas "
                                 f"({self.replicas})")
        if s != "hot_swap" and self.swap_time is not None:
            raise ValueError(f"swap_time applies to hot_swap, not {s}")
        if s != "elastic" and self.replicas is not None:
            raise ValueError(f"replicas applies to elastic, not {s}")
        return self


Recovery = Annotated[RecoveryConfig, BeforeValidator(_strategy_name)]


class JobConfig(Model):
    """The synchronous training job."""

    gpus: int | None = Field(default=None, gt=0, le=MAX_GPUS,
                             description="default: all of cluster.gpus")
    work: Seconds | None = Field(default=None, gt=0, description="failure-free compute time")
    flops: float | None = Field(default=None, gt=0, le=1e40, description="total training FLOP")
    mfu: float | None = Field(default=None, ge=1e-4, le=1, description="model FLOP utilisation")
    iteration_time: Seconds = Field(default=2.0, ge=0.01, le=3600.0,
                                   description="training step period (at least 10 ms)")
    planned_interruptions_per_day: float = Field(default=0.0, ge=0, le=1e4)
    checkpoint: CheckpointConfig
    restart: RestartConfig
    recovery: Recovery = Field(default_factory=RecoveryConfig)

    @model_validator(mode="after")
    def _work(self) -> JobConfig:
        if (self.work is None) == (self.flops is None):
            raise ValueError("give exactly one of work or flops (with mfu)")
        if self.flops is not None and self.mfu is None:
            raise ValueError("flops needs mfu")
        return self
