"""The plant's parameters, from the scenario's power section (SI: s, W, J; Hz).

One flat, frozen record the solvers share: the event-level solver
(:mod:`simulator.power.plant`), the fine-step solver (:mod:`simulator.power.finestep`) and the
fast layer (:class:`~simulator.power.residual.BusParams`, :class:`~simulator.power.arcs.
FrequencyParams`) are all built from it, so the two solvers cannot disagree on an input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.power.arcs import FrequencyParams
from simulator.power.config import BandConfig, PowerConfig
from simulator.power.dispatch import Merit
from simulator.power.protection import Protection
from simulator.power.residual import TIE_Q, TIE_Q_SITE, BusParams
from simulator.power.screening import Band


@dataclass(frozen=True)
class PlantParams:
    """Resolved plant parameters (W, J, s, Hz). ``eta`` is the one-way battery efficiency;
    frequencies of the protection are deviations from nominal."""

    grid_cap: float
    grid_ramp: float
    grid_window: float
    gen_cap: float
    gen_ramp: float
    gen_min: float
    gen_step: float
    inertia: float
    droop: float
    governor_time: float
    governor_ramp: float
    damping: float
    f0: float
    bat_power: float
    bat_energy: float
    eta: float
    e_min: float
    e_max: float
    e_target: float
    e_initial: float
    response_s: float
    tau_filter: float
    tau_soc: float
    period: float
    protection: Protection
    bands: tuple[Band, ...] = ()  # oscillation screening
    site_peak_w: float = math.inf  # the facility's peak with every node up (sets tie_q)

    @staticmethod
    def from_config(cfg: PowerConfig, iteration_s: float,
                    site_peak_w: float = math.inf) -> PlantParams:
        b, g, p = cfg.battery, cfg.generators, cfg.protection
        f0 = cfg.nominal_frequency
        energy = b.count * b.unit_energy
        target = b.soc_target if b.soc_target is not None else b.initial_soc
        band = p.frequency_band or (f0 * 56.5 / 60.0, f0 * 62.0 / 60.0)
        normal = p.normal_band or (f0 * 59.5 / 60.0, f0 * 60.5 / 60.0)
        return PlantParams(
            grid_cap=cfg.grid.capacity,
            grid_ramp=cfg.grid.ramp_limit if cfg.grid.ramp_limit is not None else math.inf,
            grid_window=cfg.grid.ramp_window,
            gen_cap=g.capacity,
            gen_ramp=g.ramp_rate,
            gen_min=g.min_load * g.capacity,
            gen_step=g.max_step * g.capacity,
            inertia=g.inertia,
            droop=g.droop,
            governor_time=g.governor_time,
            governor_ramp=(g.governor_ramp_rate if g.governor_ramp_rate is not None
                           else 0.1 * g.capacity),
            damping=cfg.load_damping,
            f0=f0,
            bat_power=b.count * b.unit_power,
            bat_energy=energy,
            eta=math.sqrt(b.round_trip_efficiency),
            e_min=b.soc_min * energy,
            e_max=b.soc_max * energy,
            e_target=target * energy,
            e_initial=b.initial_soc * energy,
            response_s=b.response_time,
            tau_filter=cfg.controller.time_constant,
            tau_soc=cfg.controller.soc_time_constant,
            period=iteration_s,
            protection=Protection(
                band_lo=band[0] - f0, band_hi=band[1] - f0, trip_delay=p.trip_delay,
                rocof_limit=p.rocof_limit, rocof_window=p.rocof_window,
                normal_lo=normal[0] - f0, normal_hi=normal[1] - f0,
                block_step=g.max_step * g.capacity, step_window=g.governor_time),
            bands=tuple(_band(b) for b in cfg.screening.bands),
            site_peak_w=site_peak_w,
        )

    @property
    def merit(self) -> Merit:
        return Merit(self.grid_cap, self.gen_min, self.gen_cap)

    @property
    def frequency(self) -> FrequencyParams | None:
        if self.gen_cap <= 0:
            return None
        return FrequencyParams.of(self.gen_cap, self.inertia, self.droop, self.governor_time,
                                  self.governor_ramp, self.f0, self.damping)

    @property
    def bus(self) -> BusParams:
        return BusParams(period=self.period, grid_cap=self.grid_cap, bat_power=self.bat_power,
                         delay=self.response_s, gen_cap=self.gen_cap, gen_min=self.gen_min,
                         freq=self.frequency, prot=self.protection, grid_window=self.grid_window,
                         tie_q=min(TIE_Q, TIE_Q_SITE * self.site_peak_w))


def _band(b: BandConfig) -> Band:
    lim = b.limit
    return Band(b.low, b.high, lim.watts if lim is not None else None,
                lim.percent / 100.0 if lim is not None and lim.percent is not None else None)
