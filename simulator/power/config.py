"""Validated configuration of the facility power system (the scenario file's ``power`` block).

Quantities accept SI numbers or strings with units (:mod:`simulator.units`) and are held as SI
floats: W, J, s, Hz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from simulator.configbase import Model as _Model
from simulator.units import (
    USD,
    Hertz,
    HertzPerSecond,
    Joules,
    Seconds,
    UnitError,
    USDPerJoule,
    Watts,
    WattsPerSecond,
    to_watts,
)


class GpuWattsConfig(_Model):
    """Per-GPU power (W) by job state; unset levels come from the catalog (see ``levels``)."""

    compute: Watts | None = Field(default=None, ge=0, description="compute phase of an iteration")
    communication: Watts | None = Field(default=None, ge=0, description="communication phase")
    checkpoint: Watts | None = Field(default=None, ge=0)
    restart: Watts | None = Field(default=None, ge=0)
    waiting: Watts | None = Field(default=None, ge=0, description="job GPUs waiting for hardware")
    idle: Watts | None = Field(default=None, ge=0, description="powered GPUs the job does not use")


class WaveformConfig(_Model):
    compute_fraction: float = Field(default=0.7, gt=0, lt=1,
                                    description="share of an iteration at the compute level")
    edge_time: Seconds = Field(default=0.1, ge=0, description="linear edge between the levels")


class GridConfig(_Model):
    """The utility tie: stiff up to its import cap; the controller holds its ramp limit."""

    capacity: Watts = Field(default=0.0, ge=0, description="import cap")
    ramp_limit: WattsPerSecond | None = Field(
        default=None, gt=0, description="utility's limit on import change, per time (enforced: "
                                        "the battery covers what the import may not follow yet)")
    ramp_window: Seconds = Field(default=60.0, gt=0,
                                 description="window over which the import change is measured")


class GeneratorConfig(_Model):
    """Aggregate on-site generation: dispatch limits, block-load acceptance, inertia, governor.

    ``ramp_rate`` limits the dispatch setpoint (the loading rate); ``governor_ramp_rate``
    limits the governor's fast response to frequency (fuel valve), 0.1 pu/s by default (the
    WECC GGOV1 model's typical valve rate). Defaults: H = 3 s (IEC CIM typical machine
    inertia), droop 4 % and governor time 0.5 s (IEC CIM typical GAST governor).
    """

    capacity: Watts = Field(default=0.0, ge=0, description="aggregate capacity (rating S)")
    ramp_rate: WattsPerSecond = Field(default=0.5e6, gt=0,
                                      description="ramp limit of the dispatch setpoint")
    min_load: float = Field(default=0.2, ge=0, le=1, description="minimum stable load (fraction)")
    max_step: float = Field(default=0.25, ge=0, le=1,
                            description="largest block load step accepted (fraction)")
    inertia: Seconds = Field(default=3.0, gt=0,
                             description="aggregate inertia constant H (s) on the rating")
    droop: float = Field(default=0.04, gt=0, le=1, description="governor droop R (pu)")
    governor_time: Seconds = Field(default=0.5, gt=0, description="governor time constant")
    governor_ramp_rate: WattsPerSecond | None = Field(
        default=None, gt=0,
        description="rate limit of the governor's response (default: 0.1 × capacity per s)")


class ProtectionConfig(_Model):
    """Frequency protection of the site bus.

    Defaults (60 Hz; scaled with the nominal frequency otherwise): trip band 56.5-62.0 Hz
    after 0.16 s (IEEE 1547-2018 default UF2/OF2); RoCoF 1 Hz/s over 500 ms (GB G59/G99
    loss-of-mains setting); normal band 59.5-60.5 Hz (NERC PRC-024 continuous operation).
    """

    frequency_band: tuple[Hertz, Hertz] | None = Field(
        default=None, description="[low, high]: outside for trip_delay trips (Hz)")
    trip_delay: Seconds = Field(default=0.16, ge=0, description="time outside the band to trip")
    rocof_limit: HertzPerSecond = Field(default=1.0, gt=0, description="trip above this RoCoF")
    rocof_window: Seconds = Field(default=0.5, ge=0.02, le=60.0,
                                 description="RoCoF measurement window (at least one 50 Hz cycle)")
    normal_band: tuple[Hertz, Hertz] | None = Field(
        default=None, description="[low, high]: time outside counts as excursion (Hz)")

    @model_validator(mode="after")
    def _bands(self) -> ProtectionConfig:
        for key in ("frequency_band", "normal_band"):
            band = getattr(self, key)
            if band is not None and not band[0] < band[1]:
                raise ValueError(f"{key}: the low edge must be below the high edge")
        return self


class BatteryConfig(_Model):
    count: int = Field(default=0, ge=0, le=10**7, description="number of units (e.g. Megapacks)")
    unit_power: Watts = Field(default=0.979e6, ge=0)
    unit_energy: Joules = Field(default=3916 * 3.6e6, ge=0)
    round_trip_efficiency: float = Field(default=0.9, gt=0, le=1)
    soc_min: float = Field(default=0.05, ge=0, le=1)
    soc_max: float = Field(default=0.95, ge=0, le=1)
    initial_soc: float = Field(default=0.5, ge=0, le=1)
    soc_target: float | None = Field(default=None, ge=0, le=1, description="default: initial_soc")
    response_time: Seconds = Field(default=0.05, ge=0, le=600.0)
    unit_capex: USD = Field(default=0.0, ge=0, description="price of one unit (for capex)")

    @model_validator(mode="after")
    def _soc(self) -> BatteryConfig:
        if not self.soc_min < self.soc_max:
            raise ValueError("soc_min must be below soc_max")
        for key in ("initial_soc", "soc_target"):
            v = getattr(self, key)
            if v is not None and not self.soc_min <= v <= self.soc_max:
                raise ValueError(f"{key} must lie within [soc_min, soc_max]")
        return self


class ControllerConfig(_Model):
    time_constant: Seconds = Field(default=30.0, ge=0,
                                   description="low-pass of net demand that sets the generators")
    soc_time_constant: Seconds = Field(default=1800.0, gt=0,
                                       description="how fast the generators restore battery SoC")


class SmoothingConfig(_Model):
    """GPU-side smoothing of the iteration swing, per GPU (a fleet group may set its own).

    ``ramp_up``/``ramp_down`` limit how fast a GPU's power rises or falls (W/s, e.g.
    ``2 kW/s``; GB300-style power smoothing); ``damper`` holds that fraction of TDP during
    communication phases with dummy work, at a ``damper_throughput_cost`` (fraction of compute
    throughput, lengthening the job); ``rack_storage_*`` is energy storage in each rack that holds
    the rack's draw steady within its power and energy. The power floor is
    ``power.gpu_power_floor``.
    """

    ramp_up: WattsPerSecond | None = Field(default=None, gt=0,
                                           description="fastest rise of a GPU's power (W/s)")
    ramp_down: WattsPerSecond | None = Field(default=None, gt=0,
                                             description="fastest fall of a GPU's power (W/s)")
    damper: float | None = Field(default=None, gt=0, le=1,
                                 description="fraction of TDP held during communication")
    damper_throughput_cost: float = Field(default=0.0, ge=0, lt=1,
                                          description="fraction of compute throughput the "
                                                      "damper costs")
    rack_storage_power: Watts = Field(default=0.0, ge=0,
                                      description="energy storage in each rack: power")
    rack_storage_energy: Joules = Field(default=0.0, ge=0,
                                        description="energy storage in each rack: usable energy")
    rack_storage_efficiency: float = Field(default=0.95, gt=0, le=1,
                                           description="its round-trip efficiency (estimate)")
    rack_storage_capex: USD = Field(default=0.0, ge=0,
                                    description="price of the storage in one rack (for capex)")


class OtherLoadsConfig(_Model):
    """Loads on the site beside the job (inference, cooling): a ``constant`` (W) and/or a
    ``trace`` CSV of ``time,power`` rows (each level holds until the next row; in a scenario
    file a plain power such as ``20 MW`` is the constant)."""

    constant: Watts = Field(default=0.0, ge=0, description="always on while the site is up")
    trace: Path | None = Field(default=None, description="CSV time,power (relative to the "
                                                         "scenario file)")


def _constant_other(value: Any) -> Any:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"constant": value}
    return value


OtherLoads = Annotated[OtherLoadsConfig, BeforeValidator(_constant_other)]


class LimitConfig(_Model):
    """A limit on a band amplitude: ``watts`` (W) or ``percent`` of the segment's peak facility
    load. In a scenario file: ``5 MW`` or ``1 %`` (a plain number is W)."""

    watts: float | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=1e4)

    @model_validator(mode="after")
    def _one(self) -> LimitConfig:
        if (self.watts is None) == (self.percent is None):
            raise ValueError("give the limit in W (e.g. '5 MW') or as a percent (e.g. '1 %')")
        return self


def _limit(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        try:
            return {"percent": float(number)}
        except ValueError as exc:
            raise UnitError(f"cannot read {value!r} as a percent") from exc
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"watts": to_watts(value)}
    return value


Limit = Annotated[LimitConfig, BeforeValidator(_limit), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}],
     "description": "limit: W, a power such as '5 MW', or a percent of peak load such as '1 %'"})]


class BandConfig(_Model):
    """A screening band of the sources' power spectrum (Hz) and its limit."""

    low: Hertz = Field(gt=0, description="lowest frequency of the band")
    high: Hertz = Field(gt=0, description="highest frequency of the band")
    limit: Limit | None = Field(default=None, description="largest harmonic amplitude allowed "
                                                          "(none: the band is reported only)")

    @model_validator(mode="after")
    def _order(self) -> BandConfig:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self


def _default_bands() -> list[BandConfig]:
    # the band named by Choukse et al., "Power Stabilization for AI Training Datacenters"
    # (arXiv 2508.14318); the 1 % limit is an estimate (utilities set their own)
    return [BandConfig(low=0.1, high=20.0, limit=LimitConfig(percent=1.0))]


class ScreeningConfig(_Model):
    """Oscillation screening of what the grid and the generators carry, band by band.

    Default: 0.1-20 Hz (the band Choukse et al. 2025, arXiv 2508.14318, name as the one that
    excites grid and turbine equipment) with a limit of 1 % of peak load (an estimate: limits
    are set per interconnection). ``bands: []`` turns screening off.
    """

    bands: list[BandConfig] = Field(default_factory=_default_bands)


class PowerConfig(_Model):
    """The facility power system. All powers in W, energies in J, frequencies in Hz."""

    gpu_watts: GpuWattsConfig = Field(default_factory=GpuWattsConfig)
    node_overhead: Watts = Field(default=1500.0, ge=0, description="per node: CPUs, NICs, fans")
    pue: float = Field(default=1.2, ge=1, le=10)
    waveform: WaveformConfig = Field(default_factory=WaveformConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    generators: GeneratorConfig = Field(default_factory=GeneratorConfig)
    battery: BatteryConfig = Field(default_factory=BatteryConfig)
    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    screening: ScreeningConfig = Field(default_factory=ScreeningConfig)
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    other_loads: OtherLoads | None = Field(default=None,
                                           description="loads beside the job: W, or a mapping")
    protection: ProtectionConfig = Field(default_factory=ProtectionConfig)
    nominal_frequency: Hertz = Field(default=60.0, gt=0, description="bus frequency f0")
    load_damping: float = Field(default=0.0, ge=0, le=1e3,
                                description="load's pu power change per pu frequency, on the "
                                            "generators' rating (0: constant-power IT load)")
    gpu_power_floor: float = Field(default=0.0, ge=0, le=1, description="fraction of TDP")
    trip_outage_time: Seconds = Field(default=1800.0, ge=1.0)
    job_ramp_time: Seconds = Field(default=0.0, ge=0,
                                   description="soft start and stop: the job brings its power up "
                                               "before compute (at the start and after each "
                                               "restart) and down after its last checkpoint "
                                               "over this time (0: steps)")
    electricity_price: USDPerJoule | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _nominal_inside(self) -> PowerConfig:
        f0 = self.nominal_frequency
        for key in ("frequency_band", "normal_band"):
            band = getattr(self.protection, key)
            if band is not None and not band[0] < f0 < band[1]:
                raise ValueError(f"protection.{key} must contain the nominal frequency ({f0:g} Hz)")
        return self

    @property
    def steady_supply_w(self) -> float:
        """What the site can draw indefinitely (W): the grid's import cap plus the generators'
        rating (a battery only bridges)."""
        return self.grid.capacity + self.generators.capacity
