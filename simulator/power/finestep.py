"""The fine-step power solver: the same plant stepped at dt ≤ 10 ms, for windows.

It integrates the equations the event-level solver solves in closed form, with nothing taken
from it: the controller in continuous form (the SoC request re-evaluated every step, the grid
and the generators' setpoint on their ramp and low-pass), the battery delivering its command
late by its response time through a delay line, the tie, the swing equation and the
rate-limited governor by explicit Euler steps, and protection measured on the sampled signals
(moving averages, windowed differences, timers). Used for the plots' zooms and, in tests, to
cross-check the event-level solver on the same window. Cost grows with window / dt.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.power.load import Trapezoid
from simulator.power.plant import PlantParams

MAX_DT = 0.01  # s


@dataclass(frozen=True)
class FineSegment:
    """A stretch of constant job state: duration (s), facility load, waveform phase at start."""

    duration: float
    load: Trapezoid
    phase: float = 0.0
    dark: bool = False


@dataclass(frozen=True)
class FineStart:
    """Plant state at the window start (SI, Hz). ``history`` is the load whose waveform the
    battery's delay line was following (default: the first segment's), at ``history_phase``
    seconds into it, against the supply ``grid + generators``."""

    grid: float
    generators: float
    filter: float
    energy: float
    frequency: float = 0.0
    governor: float = 0.0
    history: Trapezoid | None = None
    history_phase: float = 0.0


@dataclass
class FineResult:
    """Time series (SI) and totals of one window.

    Attributes:
        t: time (s) from the window start.
        load, grid, generators, battery: power (W); battery > 0 discharges; generators is
            their mechanical power (dispatch + governor response), 0 when dark.
        soc: battery state of charge (fraction of its energy).
        frequency: bus frequency deviation Δf (Hz).
        energy_j, battery_peak_w, battery_throughput_j, battery_discharge_j: totals.
        frequency_low, frequency_high: extremes of Δf (Hz); rocof_max: windowed (Hz/s);
        excursion_s: time outside the normal band; grid_ramp_violations: excursions counted.
        trip_at, trip_kind: the first trip (s, reason), or None.
    """

    t: np.ndarray
    load: np.ndarray
    grid: np.ndarray
    generators: np.ndarray
    battery: np.ndarray
    soc: np.ndarray
    frequency: np.ndarray
    energy_j: float = 0.0
    battery_peak_w: float = 0.0
    battery_throughput_j: float = 0.0
    battery_discharge_j: float = 0.0
    frequency_low: float = 0.0
    frequency_high: float = 0.0
    rocof_max: float = 0.0
    excursion_s: float = 0.0
    grid_ramp_violations: int = 0
    trip_at: float | None = None
    trip_kind: str | None = None
    final: dict = field(default_factory=dict)


def simulate_window(p: PlantParams, segments: Sequence[FineSegment], start: FineStart,
                    dt: float = MAX_DT, stop_at_trip: bool = True, keep_every: int = 1,
                    protect: bool = True) -> FineResult:
    """Step the plant through ``segments`` from ``start``.

    Args:
        dt: step (s), at most 10 ms.
        stop_at_trip: end the window at the first trip.
        keep_every: keep every k-th sample in the returned series (totals use all steps).
        protect: apply protection (trips); off, the window shows what would have happened.
    """
    if not 0 < dt <= MAX_DT:
        raise ValueError(f"dt must be in (0, {MAX_DT}] s")
    prot = p.protection
    eta = p.eta
    has_gens = p.gen_cap > 0
    has_grid = p.grid_cap > 0
    freq = p.frequency
    a_filter = 1.0 - math.exp(-dt / p.tau_filter) if p.tau_filter > 0 else 1.0
    grid, gen, filt, energy = start.grid, start.generators, start.filter, start.energy
    f, y = start.frequency, start.governor
    # the battery's delay line: commands issued over the last response time
    n_delay = max(0, round(p.response_s / dt))
    hist = start.history if start.history is not None else segments[0].load
    supply0 = grid + gen
    delay: deque[float] = deque(
        hist.value(start.history_phase - (n_delay - k) * dt) - supply0 for k in range(n_delay))
    # protection's memories
    n_tg = max(1, round(prot.step_window / dt))
    gens_hist: deque[float] = deque([0.0] * n_tg, maxlen=n_tg)
    gens_sum = 0.0
    avg_hist: deque[float] = deque(maxlen=n_tg)
    n_roc = max(1, round(prot.rocof_window / dt))
    f_hist: deque[float] = deque([f] * n_roc, maxlen=n_roc)
    n_grid = max(1, round(p.grid_window / dt))
    imp_hist: deque[float] = deque(maxlen=n_grid)
    ramp_allow = p.grid_ramp * p.grid_window * (1 + 1e-9) + 1.0 if math.isfinite(p.grid_ramp) \
        else math.inf
    violating = False
    low_timer = high_timer = deficit_timer = surplus_timer = 0.0
    res = FineResult(*(np.zeros(0) for _ in range(7)))
    series: list[tuple[float, ...]] = []
    lo_f = hi_f = f
    t_abs = 0.0
    k = 0
    merit = p.merit
    tripped = False
    # the loop's constants as locals: the same arithmetic, without attribute look-ups
    bat_power, bat_energy, e_min, e_max = p.bat_power, p.bat_energy, p.e_min, p.e_max
    e_target, tau_soc, grid_cap, gen_cap = p.e_target, p.tau_soc, p.grid_cap, p.gen_cap
    grid_finite = math.isfinite(p.grid_ramp)
    grid_step, gen_step = p.grid_ramp * dt, p.gen_ramp * dt
    fk, ftg, frate, fd, fm = (freq.k, freq.tg, freq.rate, freq.d, freq.m) if freq is not None \
        else (0.0, 1.0, 0.0, 0.0, 1.0)
    gov = has_gens and freq is not None
    rocof_window, rocof_limit = prot.rocof_window, prot.rocof_limit
    normal_lo, normal_hi, band_lo, band_hi = (prot.normal_lo, prot.normal_hi, prot.band_lo,
                                              prot.band_hi)
    block_step, trip_delay = prot.block_step, prot.trip_delay - 1e-12
    gen_min, floor = p.gen_min, merit.supply_range[0]
    for seg in segments:
        load = seg.load
        value, mean, phase0 = load.value, load.mean, seg.phase
        n = max(1, round(seg.duration / dt))
        for i in range(n):
            if seg.dark:
                grid = gen = filt = 0.0
                f = y = 0.0
                if k % keep_every == 0:
                    series.append((t_abs, 0.0, 0.0, 0.0, 0.0,
                                   energy / bat_energy if bat_energy > 0 else 0.0, 0.0))
                k += 1
                t_abs += dt
                continue
            demand = value(phase0 + i * dt)
            # slow layer: targets from the segment's mean load and the SoC request
            soc_req = (e_target - energy) / tau_soc if bat_energy > 0 else 0.0
            # Merit.split inlined, its min/max as comparisons that pick the same argument
            x = mean + soc_req
            grid_t = x - floor
            grid_t = 0.0 if grid_t < 0.0 else grid_t
            grid_t = grid_cap if grid_cap < grid_t else grid_t
            if has_gens:
                gen_t = x - grid_t
                gen_t = gen_min if gen_min > gen_t else gen_t
                gen_t = gen_cap if gen_cap < gen_t else gen_t
            else:
                gen_t = 0.0
            if grid_finite:
                x = grid_t - grid  # clamp(x, ±step), as max(-c, min(c, x)) picks ties
                x = x if x < grid_step else grid_step
                grid += x if x > -grid_step else -grid_step
            else:
                grid = grid_t
            if has_gens:
                filt += a_filter * (gen_t - filt)
                x = filt - gen
                x = x if x < gen_step else gen_step
                gen += x if x > -gen_step else -gen_step
            supply = grid + gen
            # fast layer: the battery delivers its command late by its response time
            command = demand - supply
            delay.append(command)
            issued = delay.popleft() if len(delay) > n_delay else command
            pd = bat_power if energy > e_min else 0.0
            pc = bat_power if energy < e_max else 0.0
            if bat_power > 0:
                bat = issued if issued < pd else pd
                bat = bat if bat > -pc else -pc
            else:
                bat = 0.0
            w = command - bat
            if has_grid:
                room = grid_cap - grid
                tie = w if w < room else room
                tie = tie if tie > -grid else -grid
            else:
                tie = 0.0
            on_gens = w - tie
            if gov:
                demand_y = (-fk * f - y) / ftg
                dy = demand_y if demand_y < frate else frate
                dy = (dy if dy > -frate else -frate) * dt
                f += (y - on_gens - fd * f) / fm * dt
                room = gen_cap - gen
                y = y + dy if y + dy < room else room
                y = y if y > -gen else -gen
            energy -= (bat / eta if bat > 0 else bat * eta) * dt
            if bat_energy > 0:
                energy = 0.0 if energy < 0.0 else energy  # as max(energy, 0.0)
                energy = bat_energy if bat_energy < energy else energy
            else:
                energy = 0.0
            # books
            res.energy_j += demand * dt
            res.battery_throughput_j += abs(bat) * dt
            if bat > 0:
                res.battery_discharge_j += bat * dt
            if abs(bat) > res.battery_peak_w:
                res.battery_peak_w = abs(bat)
            if f < lo_f:
                lo_f = f
            if f > hi_f:
                hi_f = f
            roc = abs(f - f_hist[0]) / rocof_window
            f_hist.append(f)
            if roc > res.rocof_max:
                res.rocof_max = roc
            if f < normal_lo or f > normal_hi:
                res.excursion_s += dt
            imp = grid + tie
            if len(imp_hist) == n_grid:
                over = abs(imp - imp_hist[0]) > ramp_allow
                if over and not violating:
                    res.grid_ramp_violations += 1
                violating = over
            imp_hist.append(imp)
            # protection
            kind = None
            gens_sum += on_gens - gens_hist[0]
            gens_hist.append(on_gens)
            avg = gens_sum / n_tg
            if has_gens and len(avg_hist) == n_tg and abs(avg - avg_hist[0]) > block_step:
                kind = "block_step"
            avg_hist.append(avg)
            if has_gens:
                low_timer = low_timer + dt if f < band_lo else 0.0
                high_timer = high_timer + dt if f > band_hi else 0.0
                if kind is None and low_timer >= trip_delay:
                    kind = "unserved" if y >= gen_cap - gen - 1e-3 else "underfrequency"
                elif kind is None and high_timer >= trip_delay:
                    kind = "overfrequency"
                elif kind is None and roc > rocof_limit:
                    kind = "rocof"
            else:
                deficit_timer = deficit_timer + dt if on_gens > 1e3 else 0.0
                surplus_timer = surplus_timer + dt if on_gens < -1e3 else 0.0
                if deficit_timer >= trip_delay:
                    kind = "unserved"
                elif surplus_timer >= trip_delay:
                    kind = "grid_tie" if has_grid else "overfrequency"
            if k % keep_every == 0:
                series.append((t_abs, demand, imp, gen + y if has_gens else 0.0, bat,
                               energy / bat_energy if bat_energy > 0 else 0.0, f))
            k += 1
            t_abs += dt
            if protect and kind is not None and res.trip_at is None:
                res.trip_at, res.trip_kind = t_abs, kind
                if stop_at_trip:
                    tripped = True
                    break
        if tripped:
            break
    arr = np.array(series) if series else np.zeros((0, 7))
    res.t, res.load, res.grid, res.generators, res.battery, res.soc, res.frequency = \
        (arr[:, c] for c in range(7))
    res.frequency_low, res.frequency_high = lo_f, hi_f
    res.final = {"grid": grid, "generators": gen, "filter": filt, "energy": energy,
                 "frequency": f, "governor": y}
    return res
