"""The fine-step power solver: the same plant and controller stepped at dt <= 10 ms.

Used for windows (plots around a failure, a checkpoint and a restart) and in tests to
cross-check the event-level solver. It follows the instantaneous load - every edge of every
iteration - with the controller in continuous form: the generators' setpoint filter sees the
raw net demand, the SoC-restoring term is re-evaluated every step, the battery's output lags
its command by ``response_time`` (the difference is carried by the machines' inertia).
Cost grows with window / dt, which is why runs use the event-level solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.power.load import Trapezoid
from simulator.power.plant import PlantParams

MAX_DT = 0.01  # s


@dataclass
class FineResult:
    """Time series (SI) and totals of one window.

    Attributes:
        t: time (s) from the window start.
        load, grid, generators, battery: power (W); battery > 0 discharges.
        soc: battery state of charge (fraction of its energy).
        energy_j: facility energy over the window.
        battery_peak_w: largest battery power magnitude.
        battery_throughput_j: ∫|battery power| dt.
        trip_at: time of the first violation beyond the generators' step acceptance, or None.
        trip_kind: ``unserved`` or ``overspeed`` when tripped.
    """

    t: np.ndarray
    load: np.ndarray
    grid: np.ndarray
    generators: np.ndarray
    battery: np.ndarray
    soc: np.ndarray
    energy_j: float
    battery_peak_w: float
    battery_throughput_j: float
    trip_at: float | None
    trip_kind: str | None


def simulate_window(p: PlantParams, segments: Sequence[tuple[float, Trapezoid]],
                    gen0: float, filt0: float, energy0: float, dt: float = MAX_DT,
                    stop_at_trip: bool = True, keep_every: int = 1) -> FineResult:
    """Step the plant through ``segments`` (duration s, facility load) from a given state.

    Args:
        p: plant parameters.
        segments: consecutive loads; each starts a new iteration period.
        gen0, filt0: generator output and setpoint-filter state at the start (W).
        energy0: battery energy at the start (J).
        dt: step (s), at most 10 ms.
        stop_at_trip: end the window at the first trip.
        keep_every: keep every k-th sample in the returned series (totals use all steps).
    """
    if not 0 < dt <= MAX_DT:
        raise ValueError(f"dt must be in (0, {MAX_DT}] s")
    eta = p.eta
    a_filter = 1.0 - math.exp(-dt / p.tau_filter) if p.tau_filter > 0 else 1.0
    a_batt = 1.0 - math.exp(-dt / p.response_s) if p.response_s > 0 else 1.0
    step_limit = p.gen_step if p.gen_cap > 0 else 0.0
    gen, filt, energy = gen0, filt0, energy0
    batt_out = 0.0
    series: list[tuple[float, float, float, float, float, float]] = []
    total_e = peak = through = 0.0
    trip_at: float | None = None
    trip_kind: str | None = None
    t_abs = 0.0
    k = 0
    for duration, load in segments:
        n = max(1, round(duration / dt))
        for i in range(n):
            tl = i * dt
            demand = load.value(tl)
            grid = min(p.grid_cap, demand)
            net = demand - grid
            filt += a_filter * (net - filt)
            if p.gen_cap > 0:
                soc_term = (p.e_target - energy) / p.tau_soc if p.bat_energy > 0 else 0.0
                target = min(max(filt + soc_term, p.gen_min), p.gen_cap)
                move = max(-p.gen_ramp * dt, min(p.gen_ramp * dt, target - gen))
                gen += move
            else:
                gen = 0.0
            want = net - gen
            avail = max(-p.bat_power, min(p.bat_power, want))
            if avail > 0 and energy <= p.e_min:
                avail = 0.0
            if avail < 0 and energy >= p.e_max:
                avail = 0.0
            residual = want - avail
            if abs(residual) > 1e-6:
                if abs(residual) > step_limit and trip_at is None:
                    trip_at, trip_kind = t_abs, ("unserved" if residual > 0 else "overspeed")
                    if stop_at_trip:
                        break
                gen += residual  # within step acceptance the machines pick it up
            batt_out += a_batt * (avail - batt_out)
            energy -= (avail / eta if avail > 0 else avail * eta) * dt
            total_e += demand * dt
            through += abs(avail) * dt
            peak = max(peak, abs(avail))
            if k % keep_every == 0:
                soc = energy / p.bat_energy if p.bat_energy > 0 else 0.0
                series.append((t_abs, demand, grid, gen, batt_out, soc))
            k += 1
            t_abs += dt
        if trip_at is not None and stop_at_trip:
            break
    arr = np.array(series) if series else np.zeros((0, 6))
    return FineResult(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5],
                      total_e, peak, through, trip_at, trip_kind)
