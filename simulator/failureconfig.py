"""The failure model's part of a scenario: causes, their inter-failure and repair-time
distributions, fail-slow episodes, a trace to replay, and how the fleet starts.

Rates are per unit (GPU, node or rack) and per year in the files, per second in the model;
durations are SI seconds (the files may give units).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from simulator.configbase import Model
from simulator.distributions import Distribution, Exponential, Fixed, Lognormal, Weibull
from simulator.reference import LLAMA3_SOFTWARE, LLAMA3_TABLE5, llama3_rate_per_year
from simulator.units import Seconds

SECONDS_PER_YEAR = 365.0 * 86400.0
#: the interruption cause of a site power trip
POWER_TRIP = "power_trip"
PLANNED = "planned"  # the cause a planned stop's restart is booked to
#: the interrupt cause that tells a computing job its pace changed (an elastic job's width,
#: or a straggler's slowness): no failure, no stall
WIDTH = "width"
#: the cause a wait at launch is booked to (repairs under way at t = 0 left the job short)
REPAIRS_AT_START = "repairs_at_start"
#: names the job books its own stops to or uses for its own signals: a cause may not take them
RESERVED = frozenset({PLANNED, POWER_TRIP, REPAIRS_AT_START, WIDTH})


def _one_of(rate_per_year: float | None, mtbf: float | None) -> None:
    if (rate_per_year is None) == (mtbf is None):
        raise ValueError("give exactly one of rate_per_year or mtbf")


def _per_second(rate_per_year: float | None, mtbf: float | None) -> float:
    """A per-unit rate in 1/s from events per unit-year or a mean time between them (s)."""
    if mtbf is not None:
        return 1.0 / mtbf
    return float(rate_per_year) / SECONDS_PER_YEAR  # type: ignore[arg-type]


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
    """One failure cause: every unit of kind ``per`` fails at this rate, independently. A
    ``domain`` is ``domain_nodes`` consecutive nodes that one fault takes out together (a
    spine switch, a power distribution unit, a cooling loop)."""

    name: str = Field(min_length=1)
    per: Literal["gpu", "node", "rack", "domain"]
    domain_nodes: int | None = Field(default=None, ge=1, le=10**8,
                                     description="per: domain: nodes one fault takes out")
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
        _one_of(self.rate_per_year, self.mtbf)
        if (self.per == "domain") != (self.domain_nodes is not None):
            raise ValueError("per: domain needs domain_nodes (and only it takes them)")
        return self

    @property
    def rate_per_s(self) -> float:
        """Per-unit failure rate in 1/s."""
        return _per_second(self.rate_per_year, self.mtbf)

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


class SlowdownConfig(Model):
    """Fail-slow episodes: each unit of kind ``per`` turns slow at this rate, for a
    ``duration`` drawn per episode, during which its steps take ``factor`` times as long. A
    synchronous job runs at its slowest member's pace. With ``evict_after``, an episode still
    going after that long is detected and the unit evicted: a failure of its node, recovered
    as the job's strategy recovers failures, with ``repair_time`` (default:
    ``cluster.repair_time``)."""

    name: str = Field(min_length=1)
    per: Literal["gpu", "node", "rack"] = "node"
    rate_per_year: float | None = Field(default=None, ge=0, le=1e6,
                                         description="episodes per unit-year")
    mtbf: Seconds | None = Field(default=None, gt=0, description="mean time between episodes")
    duration: RepairTime = Field(description="how long an episode lasts (wall clock)")
    factor: float = Field(gt=1.0, le=100.0, description="step time multiplier while slow")
    evict_after: Seconds | None = Field(default=None, ge=0,
                                        description="detect and evict a straggler after this")
    repair_time: RepairTime | None = Field(default=None,
                                           description="for an evicted unit")

    @model_validator(mode="after")
    def _one_rate(self) -> SlowdownConfig:
        _one_of(self.rate_per_year, self.mtbf)
        return self

    @property
    def rate_per_s(self) -> float:
        """Per-unit episode rate in 1/s."""
        return _per_second(self.rate_per_year, self.mtbf)


class BadNodesConfig(Model):
    """Nodes with a systematic defect (bad DIMMs, marginal links...) that fail ``multiplier``
    times as often, at their GPU and node causes."""

    fraction: float = Field(default=0.0, ge=0, le=1, description="share of nodes bad at start")
    multiplier: float = Field(default=5.0, ge=1, le=1000,
                              description="how many times as often a bad node fails")


class FailuresConfig(Model):
    """Failure causes (default: the Llama 3 Table 5 mix) or a trace to replay."""

    causes: list[FailureCause] = Field(default_factory=llama3_causes)
    trace: Path | None = Field(
        default=None, description="CSV of time,cause,unit events replayed instead of sampling")
    weibull_start: Literal["stationary", "new"] = Field(
        default="stationary",
        description="Weibull units start at a random point of their renewal cycle, or brand new")
    slowdowns: list[SlowdownConfig] = Field(default_factory=list, max_length=64)
    bad_nodes: BadNodesConfig | None = None
    repair_success: float = Field(
        default=1.0, gt=0, le=1,
        description="probability a repair fixes the node; otherwise it returns to service bad "
                    "(needs bad_nodes for the multiplier)")
    retire_after: int | None = Field(
        default=None, ge=1, le=10_000,
        description="a node that has failed this many times is retired instead of repaired")
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
        reserved = sorted(RESERVED & set(names))
        if reserved:
            raise ValueError(f"{', '.join(repr(n) for n in reserved)}: reserved cause names "
                             f"(reserved: {', '.join(sorted(RESERVED))})")
        clash = sorted({s.name for s in self.slowdowns} & (set(names) | RESERVED))
        slow = [s.name for s in self.slowdowns]
        clash += sorted({n for n in slow if slow.count(n) > 1})
        if clash:
            raise ValueError(f"slowdown names must be unique and differ from the causes': "
                             f"{', '.join(clash)}")
        if self.repair_success < 1 and self.bad_nodes is None:
            raise ValueError("repair_success below 1 returns nodes bad: give bad_nodes "
                             "(at least its multiplier)")
        return self
