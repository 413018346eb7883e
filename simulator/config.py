"""Validated scenario configuration (pydantic v2).

The key names here are the scenario-file contract users' files rely on. Every model forbids unknown
keys. Quantities accept SI numbers or strings with units (:mod:`simulator.units`) and are held
as SI floats: seconds, watts, joules, USD.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from simulator.catalog import CATALOG, GpuType
from simulator.configbase import Model
from simulator.failureconfig import (
    SECONDS_PER_YEAR,
    FailureCause,
    FailuresConfig,
    RepairTime,
    RepairTimeConfig,
    SlowdownConfig,
    llama3_causes,
)
from simulator.jobconfig import CheckpointConfig, JobConfig, RecoveryConfig, RestartConfig
from simulator.limits import DEFAULT_MAX_EVENTS, MAX_GPUS, MAX_REPLICATIONS
from simulator.power.config import GpuWattsConfig, PowerConfig, SmoothingConfig
from simulator.units import USD, Seconds, Watts

__all__ = ["SECONDS_PER_YEAR", "CheckpointConfig", "FailureCause", "FailuresConfig",
           "JobConfig", "RecoveryConfig", "RepairTime", "RepairTimeConfig", "RestartConfig",
           "SlowdownConfig", "llama3_causes"]



def _gpu_name(value: Any) -> Any:
    # catalog keys are lower case; "H100" is what people write
    return value.strip().lower() if isinstance(value, str) else value


def _known_gpu(value: str) -> str:
    if value not in CATALOG:
        raise ValueError(f"unknown gpu {value!r} (catalog: {', '.join(CATALOG)})")
    return value


GpuName = Annotated[str, BeforeValidator(_gpu_name), AfterValidator(_known_gpu)]


def _check_gpus(gpu: str, gpus: int, gpus_per_node: int) -> None:
    if gpus % gpus_per_node:
        raise ValueError(f"gpus ({gpus}) must be a multiple of gpus_per_node ({gpus_per_node})")


class FleetGroup(Model):
    """One GPU type of a mixed cluster (``cluster.fleet``), with its own packaging, spares,
    failure rates (the causes' rates × ``failure_scale``) and power."""

    gpu: GpuName = Field(description="catalog type (any case)")
    gpus: int = Field(gt=0, le=MAX_GPUS, description="GPUs of this type, not counting spare nodes")
    gpus_per_node: int = Field(default=8, gt=0, le=1024)
    nodes_per_rack: int = Field(default=4, gt=0, le=1024)
    spare_nodes: int = Field(default=0, ge=0, le=MAX_GPUS)
    failure_scale: float = Field(default=1.0, ge=0, le=1e6,
                                 description="multiplies every cause's per-unit rate for this type")
    gpu_watts: GpuWattsConfig | None = Field(
        default=None, description="per-GPU W by state; default power.gpu_watts, then the catalog")
    node_overhead: Watts | None = Field(default=None, ge=0,
                                        description="per node; default power.node_overhead")
    smoothing: SmoothingConfig | None = Field(
        default=None, description="GPU-side smoothing of this type; default power.smoothing")

    @model_validator(mode="after")
    def _check(self) -> FleetGroup:
        _check_gpus(self.gpu, self.gpus, self.gpus_per_node)
        return self

    @property
    def gpu_type(self) -> GpuType:
        return CATALOG[self.gpu]

    @property
    def nodes(self) -> int:
        return self.gpus // self.gpus_per_node + self.spare_nodes


class ClusterConfig(Model):
    """The installed hardware: one GPU type (``gpu``, ``gpus``, ...) or a ``fleet`` of types."""

    gpu: GpuName = Field(default="h100", description=f"GPU type: {', '.join(CATALOG)}")
    gpus: int | None = Field(default=None, gt=0, le=MAX_GPUS,
                             description="GPUs installed, not counting spare nodes")
    gpus_per_node: int = Field(default=8, gt=0, le=1024)
    nodes_per_rack: int = Field(default=4, gt=0, le=1024)
    spare_nodes: int = Field(default=0, ge=0, le=MAX_GPUS,
                             description="hot-spare nodes on top of cluster.gpus")
    fleet: list[FleetGroup] | None = Field(
        default=None, min_length=1, description="mixed cluster: one entry per GPU type")
    repair_time: RepairTime = Field(
        default_factory=lambda: RepairTimeConfig(distribution="lognormal", median=20 * 3600.0,
                                                 mean=5.5 * 86400.0))
    spare_unit: Literal["node", "rack"] = Field(
        default="node",
        description="what replaces a failed node: a spare node, or (rack) a whole spare rack, "
                    "for jobs laid out in NVLink domains such as NVL72 racks")

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        if self.fleet is not None:
            if self.gpus is not None:
                raise ValueError("give cluster.gpus or cluster.fleet, not both")
            return self
        if self.gpus is None:
            raise ValueError("give cluster.gpus (or a cluster.fleet list)")
        _check_gpus(self.gpu, self.gpus, self.gpus_per_node)
        return self

    @property
    def groups(self) -> list[FleetGroup]:
        """The fleet, or the single type as a one-entry fleet."""
        if self.fleet is not None:
            return list(self.fleet)
        return [FleetGroup(gpu=self.gpu, gpus=self.gpus, gpus_per_node=self.gpus_per_node,  # type: ignore[arg-type]
                           nodes_per_rack=self.nodes_per_rack, spare_nodes=self.spare_nodes)]

    @property
    def gpu_type(self) -> GpuType:
        """The GPU type (the first fleet entry's for a mixed cluster)."""
        return self.groups[0].gpu_type

    @property
    def total_gpus(self) -> int:
        """GPUs installed, not counting spare nodes."""
        return sum(g.gpus for g in self.groups)

    @property
    def nodes(self) -> int:
        """Installed nodes including hot spares."""
        return sum(g.nodes for g in self.groups)

    @property
    def installed_gpus(self) -> int:
        return sum(g.nodes * g.gpus_per_node for g in self.groups)

    @property
    def type_label(self) -> str:
        return " + ".join(f"{g.gpus:,} × {g.gpu.upper()}" for g in self.groups)


class EconomicsConfig(Model):
    gpu_capex: USD | None = Field(default=None, ge=0, description="per GPU; default: catalog price")
    facility_capex_per_mw: USD | None = Field(default=None, ge=0, description="per MW of IT load")
    amortization: Seconds = Field(default=4 * 365 * 86400.0, gt=0,
                                  description="period over which capex is spread (default 4 yr)")


class RunConfig(Model):
    replications: int = Field(default=20, gt=0, le=MAX_REPLICATIONS)
    seed: int = Field(default=1, ge=0, lt=2**128)
    horizon: Seconds = Field(default=365 * 86400.0, gt=0, description="cap on simulated wall clock")
    max_events: int = Field(
        default=DEFAULT_MAX_EVENTS, gt=0, le=10**10,
        description="cap on simulation events per replication: a scenario expected to need "
                    "more is refused, and a replication that reaches it stops there and says so")


class Scenario(Model):
    """A whole scenario file."""

    #: warnings about the file as written (set by :func:`simulator.api.load`)
    _input_warnings: list[dict[str, str]] = PrivateAttr(default_factory=list)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")

    @field_validator("name")
    @classmethod
    def _not_only_dots(cls, value: str) -> str:
        if set(value) <= {"."}:
            raise ValueError("must name a folder (letters, digits, _ - .), not only dots")
        return value
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    cluster: ClusterConfig
    failures: FailuresConfig = Field(default_factory=FailuresConfig)
    job: JobConfig
    power: PowerConfig | None = None
    economics: EconomicsConfig | None = None
    run: RunConfig = Field(default_factory=RunConfig)

    @model_validator(mode="after")
    def _job_fits(self) -> Scenario:
        c = self.cluster
        if self.job.gpus is None:
            return self
        if c.fleet is not None:
            if self.job.gpus != c.total_gpus:
                raise ValueError(f"with cluster.fleet the job uses every GPU: leave job.gpus out "
                                 f"or set it to {c.total_gpus}")
            return self
        gpus = self.job.gpus
        if gpus > c.total_gpus:
            raise ValueError(f"job.gpus ({gpus}) exceeds cluster.gpus ({c.total_gpus})")
        if gpus % c.gpus_per_node:
            raise ValueError(f"job.gpus ({gpus}) must be a multiple of cluster.gpus_per_node "
                             f"({c.gpus_per_node})")
        return self

    @model_validator(mode="after")
    def _whole_racks(self) -> Scenario:
        if self.cluster.spare_unit != "rack":
            return self
        from simulator.layout import layout

        for g in layout(self):
            npr = g.nodes_per_rack
            if g.job_nodes % npr or g.nodes % npr:
                raise ValueError(f"cluster.spare_unit: rack needs whole racks: the job's "
                                 f"{g.job_nodes:,} nodes and all {g.nodes:,} nodes of "
                                 f"the {g.config.gpu} group must be multiples of nodes_per_rack ({npr})")
        return self

    @model_validator(mode="after")
    def _replicas_fit(self) -> Scenario:
        rec = self.job.recovery
        if rec.replicas is not None and self.job_nodes % rec.replicas:
            raise ValueError(f"job.recovery.replicas ({rec.replicas}) must divide the job's "
                             f"{self.job_nodes:,} nodes")
        return self

    @property
    def job_nodes(self) -> int:
        """Nodes the job holds when nothing has failed."""
        c = self.cluster
        if c.fleet is not None:
            return sum(g.gpus // g.gpus_per_node for g in c.groups)
        return self.job_gpus // c.gpus_per_node

    @property
    def restart_s(self) -> float:
        """The full restart time R for this job's size (s)."""
        return self.job.restart.seconds(self.job_nodes)

    @property
    def job_gpus(self) -> int:
        return self.job.gpus if self.job.gpus is not None else self.cluster.total_gpus

    @property
    def job_peak_flops(self) -> float:
        """Dense BF16 peak of the job's GPUs, FLOP/s."""
        c = self.cluster
        if c.fleet is None:
            return self.job_gpus * c.groups[0].gpu_type.peak_flops
        return sum(g.gpus * g.gpu_type.peak_flops for g in c.groups)

    @property
    def work_seconds(self) -> float:
        """Failure-free compute time of the job in s."""
        if self.job.work is not None:
            return self.job.work
        return float(self.job.flops) / (self.job_peak_flops * float(self.job.mfu))  # type: ignore[arg-type]
