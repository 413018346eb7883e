"""Plant parameters and the event-level power solver, advanced one job segment at a time.

A segment is one job state with one facility load (a periodic trapezoid). For each segment:

* the slow layer (:mod:`simulator.power.dispatch`) sends the grid import and the generators
  toward their merit-order targets on closed-form paths; the battery covers the rest, and its
  energy is integrated exactly along those paths (:mod:`simulator.power.battery`) and, once
  they have settled, along the SoC feedback loop (:mod:`simulator.power.socloop`);
* the fast layer (:mod:`simulator.power.bus`) splits the iteration-rate residual between the
  battery, the tie and the generators' rotors, and gives the frequency: the periodic orbit
  (Fourier series, or the exact nonlinear orbit) and the transient from the previous state,
  with protection's verdict.

The cost per segment is a fixed amount of arithmetic plus cached work per distinct load shape:
it grows with events, never with simulated time / dt. All quantities SI (s, W, J) and Hz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.power.battery import integrate as battery_integrals
from simulator.power.battery import rates
from simulator.power.bus import Bus, BusState, SegmentBus
from simulator.power.dispatch import SETTLED_REL, Supply, Trajectory, hold, trajectory
from simulator.power.load import MECHANISMS, Trapezoid
from simulator.power.plantparams import PlantParams
from simulator.power.screening import Screener
from simulator.power.socloop import Loop, settle

_SOC_TOL_J = 1.0


@dataclass
class PowerMetrics:
    """Power outcomes of one replication (SI units and Hz; converted for reports)."""

    energy_j: float = 0.0
    peak_facility_w: float = 0.0
    battery_peak_w: float = 0.0
    battery_throughput_j: float = 0.0
    battery_discharge_j: float = 0.0
    unserved_j: float = 0.0
    trips_by_reason: dict[str, int] = field(default_factory=dict)
    grid_ramp_violations: int = 0
    generator_oscillation_s: float = 0.0
    smoothing_energy_j: dict[str, float] = field(default_factory=dict)  # mechanism -> J
    soc_limit_s: float = 0.0
    frequency_low_hz: float = 0.0
    frequency_high_hz: float = 0.0
    rocof_max_hz_s: float = 0.0
    excursion_s: float = 0.0
    oscillation_hz: float = 0.0
    band_peak_w: dict[str, float] = field(default_factory=dict)  # "source band" -> W
    band_violation_s: float = 0.0

    @property
    def floor_energy_j(self) -> float:
        return self.smoothing_energy_j.get("floor", 0.0)

    @property
    def trips(self) -> int:
        return sum(self.trips_by_reason.values())


class EventSolver:
    """The event-level power solver.

    Call :meth:`start` once with the plant at rest, then :meth:`begin` when a segment starts
    (it returns the time until a predicted trip or battery limit within ``max_duration``, if
    any) and :meth:`end` when it ends (it books the segment).
    """

    def __init__(self, params: PlantParams):
        self.p = params
        self.merit = params.merit
        self.bus = Bus(params.bus)
        self.metrics = PowerMetrics()
        self.energy_stored = params.e_initial  # J
        self.gen = self.filt = self.grid = 0.0  # generator output, its filter, import (W)
        self._gen_at_end = 0.0  # the generators' output as the last booked segment ended (W)
        self._t0 = 0.0
        self._load = Trapezoid.constant(0.0)
        self._extras_w: tuple[float, ...] = ()
        self._supply = Supply(hold(0.0), hold(0.0))
        self._seg: SegmentBus | None = None
        self._state: BusState | None = None
        self._dark = True
        self._ramp_violating = False
        self._grid_history: list[tuple[float, float]] = [(-math.inf, 0.0)]
        self._limit_at: float | None = None
        self._last_tie = (0.0, 0.0)
        self.screener = Screener(params.bands, params.grid_cap > 0, params.gen_cap > 0) \
            if params.bands else None
        if self.screener is not None:
            self.metrics.band_peak_w = self.screener.zeros()

    # -- dispatch -----------------------------------------------------------------------------
    def soc_request(self, stored_j: float) -> float:
        p = self.p
        return (p.e_target - stored_j) / p.tau_soc if p.bat_energy > 0 else 0.0

    def targets(self, load_mean: float, stored_j: float) -> tuple[float, float]:
        """(grid import, generator dispatch) the plant settles to (W)."""
        return self.merit.split(load_mean + self.soc_request(stored_j))

    def start(self, t: float, rest: Trapezoid) -> None:
        """The plant at rest at time t under the ``rest`` load, everything settled."""
        self._resync(t, rest)

    def _resync(self, t: float, rest: Trapezoid) -> None:
        grid, gens = self.targets(rest.mean, self.energy_stored)
        self.grid, self.gen, self.filt = grid, gens, gens
        self._grid_history = [(t, grid)]
        avail = self._availability()
        seg = self.bus.segment(rest, 0.0, grid, gens, *avail, None, 0.0)
        self._state = seg.leave(0.0)
        self._dark = False

    def _availability(self) -> tuple[float, float]:
        p = self.p
        pd = p.bat_power if self.energy_stored > p.e_min + _SOC_TOL_J else 0.0
        pc = p.bat_power if self.energy_stored < p.e_max - _SOC_TOL_J else 0.0
        return pd, pc

    def _paths(self, load: Trapezoid, horizon: float) -> Supply:
        p = self.p
        tol = max(1.0, SETTLED_REL * (p.gen_cap + p.grid_cap))
        grid_t, gen_t = self.targets(load.mean, self.energy_stored)
        grid = trajectory(self.grid, self.grid, grid_t, p.grid_ramp, 0.0, tol)
        gens = trajectory(self.gen, self.filt, gen_t, p.gen_ramp, p.tau_filter, tol) \
            if p.gen_cap > 0 else hold(0.0)
        supply = Supply(grid, gens)
        if p.bat_energy > 0 and supply.settle_time() > 0:
            # corrector: the SoC request sees the charge the battery moves during the transit
            settle_s = min(supply.settle_time(), horizon)
            if settle_s > 0:
                # cheap estimate: the mean battery power L̄ − S, losses by direction
                out = load.mean * settle_s - supply.integral(settle_s)
                moved = -out / p.eta if out > 0 else -out * p.eta
                grid_t, gen_t = self.targets(load.mean, self.energy_stored + moved)
                grid = trajectory(self.grid, self.grid, grid_t, p.grid_ramp, 0.0, tol)
                gens = trajectory(self.gen, self.filt, gen_t, p.gen_ramp, p.tau_filter, tol) \
                    if p.gen_cap > 0 else hold(0.0)
                supply = Supply(grid, gens)
        return supply

    # -- segments -----------------------------------------------------------------------------
    def begin(self, t: float, load: Trapezoid, extras_w: tuple[float, ...] = (),
              max_duration: float = math.inf, phase: float = 0.0,
              rest: Trapezoid | None = None) -> tuple[float, str] | None:
        """Start a segment at ``t`` with facility ``load`` whose waveform starts at ``phase``.

        Args:
            extras_w: the extra mean facility power (W) each smoothing mechanism costs in this
                segment (floor, damper, ramp: :data:`simulator.power.load.MECHANISMS`).
            rest: after a dark spell, the load the plant is restored to before this segment
                (all healthy nodes idle); the step from it to ``load`` is checked.

        Returns:
            ``(seconds until the event, kind)``: a trip reason (see
            :data:`simulator.power.protection.REASONS`), or ``battery_limit`` when the battery
            reaches an SoC limit (re-begin the segment then); else None.
        """
        if self._dark:
            self._resync(t, rest if rest is not None else Trapezoid.constant(0.0))
        self._t0 = t
        self._load = load
        self._extras_w = extras_w
        self.metrics.peak_facility_w = max(self.metrics.peak_facility_w, load.high)
        self._supply = self._paths(load, max_duration)
        seg = self.bus.segment(load, phase, self.grid, self.gen, *self._availability(),
                               self._state, max_duration, self._supply)
        self._seg = seg
        self._check_grid_ramp(t, seg)
        event = seg.trip
        limit = self._limit_time(max_duration)
        self._limit_at = limit
        if limit is not None and (event is None or limit < event[0]):
            event = (limit, "battery_limit")
        return event

    def _check_grid_ramp(self, t: float, seg: SegmentBus) -> None:
        """Count an excursion when the import changes more than ramp_limit × window over a
        window (the dispatch never does: only what the tie takes that the battery could not)."""
        p = self.p
        if not math.isfinite(p.grid_ramp) or p.grid_cap <= 0:
            return
        allow = p.grid_ramp * p.grid_window * (1 + 1e-9) + 1.0
        tie_lo, tie_hi = seg.r.tie_range
        periodic = seg.r.tie_rise(p.grid_window)
        past = self._grid_at(t - p.grid_window)
        prev = self._state
        before = (0.0, 0.0) if prev is None else self._last_tie
        now_lo, now_hi = self.grid + tie_lo, self.grid + tie_hi
        jump = max(abs(now_hi - (past + before[0])), abs(now_lo - (past + before[1])))
        if (jump > allow or periodic > allow) and not self._ramp_violating:
            self.metrics.grid_ramp_violations += 1
        self._ramp_violating = periodic > allow
        self._last_tie = (tie_lo, tie_hi)  # until the segment ends

    def _grid_at(self, t: float) -> float:
        """The dispatched import at an earlier time t (piecewise linear history)."""
        hist = self._grid_history
        for (ta, ga), (tb, gb) in zip(reversed(hist[:-1]), reversed(hist[1:]), strict=False):
            if ta <= t <= tb:
                return ga + (gb - ga) * (t - ta) / (tb - ta) if tb > ta else gb
        return hist[0][1] if t < hist[0][0] else hist[-1][1]

    def _limit_time(self, horizon: float) -> float | None:
        """When the battery reaches an SoC limit within ``horizon`` (s), if it does."""
        p = self.p
        if p.bat_energy <= 0 or not math.isfinite(horizon):
            return None
        worst = p.bat_power * horizon
        e = self.energy_stored
        if e - worst / p.eta >= p.e_min and e + worst * p.eta <= p.e_max:
            return None
        _, _, _, limit_at, _ = self._battery(horizon)
        # a limit the battery already sits at is in the availability of this segment already
        return limit_at if limit_at is not None and limit_at > 1e-6 else None

    def _battery(self, dt: float) -> tuple[float, float, float, float | None, float]:
        """Battery over [0, dt]: (energy at dt, ∫discharge, ∫charge, time a limit was first
        reached or None, time held at a limit)."""
        p, load, supply = self.p, self._load, self._supply
        e0 = self.energy_stored
        t_s = min(supply.settle_time(), dt)
        dis, chg = battery_integrals(load, p.bat_power, supply, t_s)
        e1 = e0 + p.eta * chg - dis / p.eta
        limit_at: float | None = None
        held = 0.0
        if e1 < p.e_min or e1 > p.e_max:
            bound = p.e_min if e1 < p.e_min else p.e_max
            frac = (bound - e0) / (e1 - e0) if e1 != e0 else 0.0
            limit_at = t_s * min(max(frac, 0.0), 1.0)
            held = dt - limit_at
            return bound, dis * frac, chg * frac, limit_at, held
        if dt > t_s:
            lo, hi = self.merit.supply_range
            loop = Loop(load, p.bat_power, p.eta, p.e_target, p.tau_soc, lo, hi, p.e_min, p.e_max)
            res = settle(loop, e1, dt - t_s)
            e1 = res.energy_j
            dis += res.discharge_j
            chg += res.charge_j
            if res.limit_at_s is not None:
                limit_at = t_s + res.limit_at_s
            held = res.at_limit_s
        return e1, dis, chg, limit_at, held

    def begin_dark(self, t: float) -> None:
        """The site is dark after a trip: no load, no sources; the battery holds its charge.
        The next :meth:`begin` restores the plant to rest first."""
        self._t0 = t
        self._dark = True
        self._seg = None
        self._load = Trapezoid.constant(0.0)
        self.gen = self.filt = self.grid = 0.0
        self._state = None

    def end(self, t: float) -> None:
        """Book the segment that began at the last :meth:`begin`, up to ``t``."""
        p, m = self.p, self.metrics
        dt = t - self._t0
        if dt <= 0 or self._dark or self._seg is None:
            self._t0 = t
            self._gen_at_end = self.gen
            return
        load, supply, seg = self._load, self._supply, self._seg
        m.energy_j += load.mean * dt
        for name, w in zip(MECHANISMS, self._extras_w, strict=False):
            if w:
                m.smoothing_energy_j[name] = m.smoothing_energy_j.get(name, 0.0) + w * dt
        if seg.r.clipped and not load.is_constant:
            m.generator_oscillation_s += dt
        s0 = supply.at(0.0)
        if p.bat_power > 0:
            e, dis, chg, _, held = self._battery(dt)
            m.battery_throughput_j += dis + chg
            m.battery_discharge_j += dis
            m.soc_limit_s += held
            self.energy_stored = e
            s1 = supply.at(min(dt, supply.settle_time()))
            peak = max(load.high - min(s0, s1), max(s0, s1) - load.low, 0.0)
            m.battery_peak_w = max(m.battery_peak_w, min(peak, p.bat_power))
        self._advance_dispatch(dt)
        self._gen_at_end = self.gen
        if self.screener is not None and not load.is_constant:
            r = seg.r
            m.band_violation_s += self.screener.book(m.band_peak_w, seg.load, r.tie, r.gens,
                                                     r.memo, load.high, dt)
        # frequency
        lo, hi, exc, roc = seg.metrics(dt, m.rocof_max_hz_s)
        m.frequency_low_hz = min(m.frequency_low_hz, lo)
        m.frequency_high_hz = max(m.frequency_high_hz, hi)
        m.rocof_max_hz_s = max(m.rocof_max_hz_s, roc)
        m.excursion_s += exc
        if dt - seg.settled_at >= seg.orbit.period and len(seg.orbit.f) > 1:
            # a steady swing the bus rode for at least one whole cycle
            m.oscillation_hz = max(m.oscillation_hz, seg.orbit.amplitude)
        self._state = seg.leave(dt, self.grid + self.gen)
        self._last_tie = self._tie_range(load, seg)
        self._t0 = t

    def _tie_range(self, load: Trapezoid, seg: SegmentBus) -> tuple[float, float]:
        """The tie's fast share (lowest, highest, W) as the segment ends: for a constant load
        it moved with the dispatch; for a swing it is the segment's residual's."""
        p = self.p
        if not load.is_constant or p.grid_cap <= 0:
            return seg.r.tie_range
        pd, pc = self._availability()
        c = load.low - self.grid - self.gen
        w = c - (min(max(c, -pc), pd) if p.bat_power > 0 else 0.0)
        tie = min(max(w, -self.grid), p.grid_cap - self.grid)
        return tie, tie

    def _advance_dispatch(self, dt: float) -> None:
        """The grid and generator paths at dt (settled paths follow the SoC request)."""
        p, supply = self.p, self._supply
        self._grid_history.append((self._t0 + dt, supply.grid.at(dt)))
        cutoff = self._t0 + dt - 2 * p.grid_window
        while len(self._grid_history) > 2 and self._grid_history[1][0] < cutoff:
            self._grid_history.pop(0)
        if dt > supply.settle_time():
            grid, gens = self.targets(self._load.mean, self.energy_stored)
            self.grid, self.gen, self.filt = grid, gens, gens
            self._grid_history[-1] = (self._t0 + dt, grid)
            return
        traj = supply.gens
        self.grid = supply.grid.at(dt)
        self.gen = traj.at(dt)
        # the filter moves on its own, whether or not the output has caught up with it
        self.filt = traj.s + (traj.f0 - traj.s) * math.exp(-dt / traj.tau) if traj.tau > 0 \
            else traj.s

    def trip(self, t: float, reason: str, outage_s: float) -> None:
        """Record a trip at ``t``: the site goes dark for ``outage_s``."""
        m = self.metrics
        m.trips_by_reason[reason] = m.trips_by_reason.get(reason, 0) + 1
        # energy not served: what the site was drawing, for as long as it stays dark
        m.unserved_j += self._load.mean * outage_s

    @property
    def bus_state(self) -> BusState | None:
        """The bus state the last segment left (None while dark)."""
        return self._state

    @property
    def generator_path(self) -> Trajectory:
        """The generators' dispatched path over the current segment (W over s from its start)."""
        return self._supply.gens if not self._dark else hold(0.0)

    @property
    def dispatch_settled_s(self) -> float:
        """When both dispatch paths of the current segment settle (s from its start)."""
        return self._supply.settle_time() if not self._dark else 0.0

    @property
    def gen_at_end(self) -> float:
        """The generators' output at the end of the last booked segment (W)."""
        return self._gen_at_end

    @property
    def battery_rates(self) -> tuple[float, float]:
        """(discharge, charge) mean power (W) at the current supply level (for probes)."""
        return rates(self._load, self.grid + self.gen, self.p.bat_power)


#: columns of a segment-log row
SEGMENT_COLUMNS = ("time_s", "state", "low_w", "high_w", "t_high_s", "t_edge_s", "period_s",
                   "phase_s", "generator_w", "filter_w", "grid_w", "battery_j", "frequency_hz",
                   "governor_w", "t_fall_s", "generator_target_w", "generator_slope_w_per_s",
                   "generator_ramp_end_s", "generator_tau_s", "dispatch_settled_s",
                   "generator_end_w")
#: the columns :meth:`SegmentLog.add` writes as a segment starts; :meth:`SegmentLog.close`
#: appends the last, the generators' output as it ends
_START_COLUMNS = len(SEGMENT_COLUMNS) - 1


@dataclass
class SegmentLog:
    """Probe: each segment's load and the plant's state as it starts (plots, cross-checks),
    the generators' closed-form path over it (ramp at ``generator_slope_w_per_s`` until
    ``generator_ramp_end_s``, then the exponential toward ``generator_target_w`` with
    ``generator_tau_s``, both from the logged output and filter; after ``dispatch_settled_s``
    it follows the SoC request), and their output as it ends. A dark segment logs no
    generation and no import."""

    rows: list[tuple] = field(default_factory=list)

    def add(self, t: float, state: str, load: Trapezoid, phase: float, solver: EventSolver) -> None:
        self.close(solver)
        st = solver.bus_state
        path = solver.generator_path
        self.rows.append((t, state, load.low, load.high, load.t_high, load.t_edge, load.period,
                          phase, solver.gen, solver.filt, solver.grid, solver.energy_stored,
                          st.f if st is not None else 0.0, st.y if st is not None else 0.0,
                          load.t_fall, path.s, path.slope, path.t_meet, path.tau,
                          solver.dispatch_settled_s))

    def close(self, solver: EventSolver) -> None:
        """Append the generators' output at the end of the last segment (after the solver
        booked it; a segment cut by a trip ends at what the generators gave before the dark)."""
        if self.rows and len(self.rows[-1]) == _START_COLUMNS:
            self.rows[-1] = (*self.rows[-1], solver.gen_at_end)
