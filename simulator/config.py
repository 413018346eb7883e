"""Validated scenario configuration (pydantic v2).

The key names here are the scenario-file contract users' files rely on. Every model forbids unknown
keys. Quantities accept SI numbers or strings with units (:mod:`simulator.units`) and are held
as SI floats: seconds, watts, joules, USD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from simulator.catalog import CATALOG, GpuType
from simulator.configbase import Model
from simulator.distributions import Distribution, Exponential, Fixed, Lognormal, Weibull
from simulator.jobconfig import CheckpointConfig, JobConfig, RecoveryConfig, RestartConfig
from simulator.limits import DEFAULT_MAX_EVENTS, MAX_GPUS, MAX_REPLICATIONS
from simulator.power.config import GpuWattsConfig, PowerConfig, SmoothingConfig
from simulator.reference import LLAMA3_SOFTWARE, LLAMA3_TABLE5, llama3_rate_per_year
from simulator.units import USD, Seconds, Watts

SECONDS_PER_YEAR = 365.0 * 86400.0
__all__ = ["CheckpointConfig", "JobConfig", "RecoveryConfig", "RestartConfig"]



def _scalar_is_fixed(value: Any) -> Any:
    # `repair_time: 20 h` is shorthand for a fixed repair time.
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"distribution": "fixed", "value": value}
    return value


class RepairTimeConfig(Model):
    """How long a failed unit stays out of service (seconds).

    ``fixed`` takes ``value``; ``exponential`` takes ``mean``; ``lognormal`` takes ``median``
    and ``mean`` (mean > median; the StepFun trace has median 0.85 d, mean 5.5 d).
    """

    distribution: Literal["fixed", "exponential", "lognormal"] = "lognormal"
    value: Seconds | None = Field(default=None, ge=0)
    mean: Seconds | None = Field(default=None, ge=0)
    median: Seconds | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> RepairTimeConfig:
        need = {"fixed": ("value",), "exponential": ("mean",), "lognormal": ("median", "mean")}
        missing = [k for k in need[self.distribution] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.distribution} repair time needs {' and '.join(missing)}")
        extra = [k for k in ("value", "mean", "median")
                 if k not in need[self.distribution] and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{self.distribution} repair time does not take {', '.join(extra)}")
        if self.distribution == "lognormal" and self.mean <= self.median:  # type: ignore[operator]
            raise ValueError("lognormal repair time needs mean > median")
        return self

    def build(self) -> Distribution:
        """The distribution object (seconds)."""
        if self.distribution == "fixed":
            return Fixed(float(self.value))  # type: ignore[arg-type]
        if self.distribution == "exponential":
            return Exponential(float(self.mean))  # type: ignore[arg-type]
        return Lognormal(float(self.median), float(self.mean))  # type: ignore[arg-type]


RepairTime = Annotated[RepairTimeConfig, BeforeValidator(_scalar_is_fixed)]


class WeibullShape(Model):
    shape: float = Field(ge=0.05, le=100, description="Weibull shape k (<1: infant mortality; "
                                                       "published fits lie between 0.3 and 3)")


class WeibullSpec(Model):
    weibull: WeibullShape


def _exponential_is_none(value: Any) -> Any:
    # `distribution: exponential` is the default; anything else must be {weibull: {shape: k}}
    if value is None or value == "exponential":
        return None
    if isinstance(value, str):
        raise ValueError(f"unknown distribution {value!r}: use 'exponential' or {{weibull: {{shape: k}}}}")
    return value


InterFailure = Annotated[
    WeibullSpec | None,
    BeforeValidator(_exponential_is_none),
    WithJsonSchema({
        "anyOf": [
            {"const": "exponential"},
            {"type": "object", "additionalProperties": False, "required": ["weibull"],
             "properties": {"weibull": {
                 "type": "object", "additionalProperties": False, "required": ["shape"],
                 "properties": {"shape": {"type": "number", "exclusiveMinimum": 0}}}}},
        ],
        "description": "'exponential' (default) or {weibull: {shape: k}}",
    }),
]


class FailureCause(Model):
    """One failure cause: every unit of kind ``per`` fails at this rate, independently."""

    name: str = Field(min_length=1)
    per: Literal["gpu", "node", "rack"]
    rate_per_year: float | None = Field(default=None, ge=0, le=1e6,
                                         description="failures per unit-year")
    mtbf: Seconds | None = Field(default=None, gt=0, description="mean time between failures per unit")
    distribution: InterFailure = None
    repair_time: RepairTime | None = Field(
        default=None, description="overrides cluster.repair_time for this cause")
    detect_time: Seconds = Field(
        default=0.0, ge=0, description="the job sits stalled this long before the failure is "
                                       "noticed (a hang until a watchdog fires)")

    @model_validator(mode="after")
    def _one_rate(self) -> FailureCause:
        if (self.rate_per_year is None) == (self.mtbf is None):
            raise ValueError("give exactly one of rate_per_year or mtbf")
        return self

    @property
    def rate_per_s(self) -> float:
        """Per-unit failure rate in 1/s."""
        if self.mtbf is not None:
            return 1.0 / self.mtbf
        return float(self.rate_per_year) / SECONDS_PER_YEAR  # type: ignore[arg-type]

    @property
    def weibull_shape(self) -> float | None:
        return None if self.distribution is None else self.distribution.weibull.shape

    def inter_failure(self) -> Distribution:
        """Per-unit time between failures (seconds)."""
        mean = 1.0 / self.rate_per_s if self.rate_per_s > 0 else float("inf")
        shape = self.weibull_shape
        return Exponential(mean) if shape is None else Weibull(shape, mean)


def llama3_causes() -> list[FailureCause]:
    """Table 5 of the Llama 3 paper as per-unit causes (the default failure mix)."""
    return [
        FailureCause(
            name=name, per=per,  # type: ignore[arg-type]
            rate_per_year=round(llama3_rate_per_year(name), 6),
            repair_time=0.0 if name in LLAMA3_SOFTWARE else None,
        )
        for name, _, per in LLAMA3_TABLE5
    ]


class FailuresConfig(Model):
    """Failure causes (default: the Llama 3 Table 5 mix) or a trace to replay."""

    causes: list[FailureCause] = Field(default_factory=llama3_causes)
    trace: Path | None = Field(
        default=None, description="CSV of time,cause,unit events replayed instead of sampling")
    weibull_start: Literal["stationary", "new"] = Field(
        default="stationary",
        description="Weibull units start at a random point of their renewal cycle, or brand new")
    repair_start: Literal["healthy", "stationary"] = Field(
        default="healthy",
        description="every unit in service at t = 0, or repairs already under way as in a "
                    "cluster that has been running (each unit down with its long-run "
                    "probability rE[R]/(1 + rE[R]), for the rest of a length-biased repair)")

    @model_validator(mode="after")
    def _unique(self) -> FailuresConfig:
        names = [c.name for c in self.causes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate cause names: {', '.join(dup)}")
        if "planned" in names or "power_trip" in names:
            raise ValueError("'planned' and 'power_trip' are reserved cause names")
        return self


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
