"""Sources, controller and the event-level power solver.

Merit order: the grid takes what it can (stiff, up to its cap); the generators follow a slow
setpoint - the net demand (after the grid) through a first-order low-pass of time constant
``controller.time_constant``, plus a term (E_target − E) / ``soc_time_constant`` that pulls
the battery's state of charge back to its target - limited by their ramp rate and clamped to
[min_load, capacity]; the battery takes the fast residual within its power and SoC limits.
What neither can take is a violation: a residual the generators cannot accept as an
instantaneous step (``max_step``) trips the site - a deficit as unserved power, a surplus as
generator overspeed. A residual within ``max_step`` is absorbed by the generators (counted as
generator oscillation exposure when it recurs every iteration).

The event-level solver works segment by segment (a segment = one job state with one load
shape). Within a segment the generators' trajectory is closed form (ramp-limited chase of the
exponential setpoint); the iteration swing is handled in periodic steady state through the
trapezoid's mean excess above/below the generator level (:meth:`Trapezoid.above`), so the
battery absorbs ±swing around the generators' level and the SoC drifts by the losses. Each
step between segments is checked against the sources' limits exactly. Cost per segment is a
fixed number of arithmetic operations: it grows with events, never with simulated time / dt.

All quantities SI: s, W, J.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from simulator.config import PowerConfig
from simulator.power.load import Trapezoid

_STEADY_W = 1.0  # generator within 1 W of its target counts as settled


@dataclass(frozen=True)
class PlantParams:
    """Resolved plant parameters (W, J, s). ``eta`` is the one-way battery efficiency."""

    grid_cap: float
    grid_ramp: float
    gen_cap: float
    gen_ramp: float
    gen_min: float
    gen_step: float
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
    edge_s: float

    @staticmethod
    def from_config(cfg: PowerConfig) -> PlantParams:
        b, g = cfg.battery, cfg.generators
        energy = b.count * b.unit_energy
        target = b.soc_target if b.soc_target is not None else b.initial_soc
        return PlantParams(
            grid_cap=cfg.grid.capacity,
            grid_ramp=cfg.grid.ramp_limit if cfg.grid.ramp_limit is not None else math.inf,
            gen_cap=g.capacity,
            gen_ramp=g.ramp_rate,
            gen_min=g.min_load * g.capacity,
            gen_step=g.max_step * g.capacity,
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
            edge_s=cfg.waveform.edge_time,
        )


@dataclass
class PowerMetrics:
    """Power outcomes of one replication (SI units; converted for reports)."""

    energy_j: float = 0.0
    peak_facility_w: float = 0.0
    battery_peak_w: float = 0.0
    battery_throughput_j: float = 0.0
    battery_discharge_j: float = 0.0
    unserved_j: float = 0.0
    trips: int = 0
    unserved_trips: int = 0
    overspeed_trips: int = 0
    grid_ramp_violations: int = 0
    generator_oscillation_s: float = 0.0
    floor_energy_j: float = 0.0
    soc_limit_s: float = 0.0


@dataclass(frozen=True)
class Trajectory:
    """Generator output over a segment: a ramp at ``slope`` W/s until ``t_meet``, then the
    exponential setpoint S + (F0 − S)·e^{−t/τ} (or S when τ = 0)."""

    g0: float
    slope: float
    t_meet: float
    s: float
    f0: float
    tau: float

    def at(self, t: float) -> float:
        if t < self.t_meet:
            return self.g0 + self.slope * t
        if self.tau <= 0:
            return self.s
        return self.s + (self.f0 - self.s) * math.exp(-t / self.tau)

    def settle_time(self) -> float:
        """Time after which the output is within ``_STEADY_W`` of the target."""
        if self.tau <= 0:
            return self.t_meet
        gap = abs(self.f0 - self.s)
        if gap <= _STEADY_W:
            return self.t_meet
        return max(self.t_meet, self.tau * math.log(gap / _STEADY_W)) if gap > _STEADY_W else self.t_meet


def trajectory(g0: float, f0: float, s: float, ramp: float, tau: float) -> Trajectory:
    """Closed-form generator path from output g0 and filter state f0 toward target s."""
    if tau <= 0:
        gap = s - g0
        return Trajectory(g0, math.copysign(ramp, gap), abs(gap) / ramp, s, s, 0.0)
    if abs(g0 - f0) <= _STEADY_W and abs(s - f0) / tau <= ramp:
        if abs(s - f0) <= _STEADY_W:
            return Trajectory(s, 0.0, 0.0, s, s, 0.0)  # settled
        return Trajectory(g0, 0.0, 0.0, s, f0, tau)  # the generators can follow the filter

    direction = math.copysign(1.0, (f0 - g0) if abs(f0 - g0) > _STEADY_W else (s - f0))
    slope = direction * ramp
    gap0 = f0 - s
    exp = math.exp
    # the filter is "ahead" of the generators while direction·(F(t) − G(t)) > 0; find where
    # that ends by safeguarded Newton on [lo, hi], to 1 ms or 1 W
    hi = abs(s - g0) / ramp + 5 * tau + 1.0
    if direction * (s + gap0 * exp(-hi / tau) - g0 - slope * hi) > 0:
        return Trajectory(g0, slope, abs(s - g0) / ramp, s, s, 0.0)  # round-off guard
    lo, t = 0.0, min(hi, abs(s - g0) / ramp)
    for _ in range(60):
        e = exp(-t / tau)
        value = direction * (s + gap0 * e - g0 - slope * t)
        if abs(value) < _STEADY_W:
            hi = t
            break
        if value > 0:
            lo = t
        else:
            hi = t
        if hi - lo <= 1e-3:
            break
        slope_t = direction * (-gap0 / tau * e - slope)
        step = t - value / slope_t if slope_t != 0 else -1.0
        t = step if lo < step < hi else 0.5 * (lo + hi)
    # after meeting, the generators follow the filter, which never stopped decaying from f0
    return Trajectory(g0, slope, hi, s, f0, tau)


class EventSolver:
    """The event-level power solver, advanced one job segment at a time.

    Call :meth:`begin` when a segment starts (it returns the time until a predicted trip, if
    any, within ``max_duration``) and :meth:`end` when it ends (it books the segment).
    """

    def __init__(self, params: PlantParams):
        self.p = params
        self.metrics = PowerMetrics()
        self.energy_stored = params.e_initial  # J in the battery
        self.gen = 0.0  # generator output (W)
        self.filt = 0.0  # setpoint filter state (W)
        self._started = False
        self._t0 = 0.0
        self._load = Trapezoid.constant(0.0)
        self._net = Trapezoid.constant(0.0)
        self._traj = Trajectory(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        self._floor_w = 0.0
        self._oscillating = False
        self._grid_mean = 0.0
        self._dark = False

    # -- helpers ----------------------------------------------------------------------------
    def net_of(self, load: Trapezoid) -> Trapezoid:
        """Demand left for generators and battery after the grid (stiff, capped)."""
        cap = self.p.grid_cap
        if cap <= 0:
            return load
        return load.clip_below(cap).shift(-cap)

    def target(self, net_mean: float, stored_j: float) -> float:
        """Generator setpoint for a settled net demand and battery energy (W)."""
        p = self.p
        if p.gen_cap <= 0:
            return 0.0
        s = net_mean + ((p.e_target - stored_j) / p.tau_soc if p.bat_energy > 0 else 0.0)
        return min(max(s, p.gen_min), p.gen_cap)

    def _rates(self, g: float) -> tuple[float, float]:
        """(discharge, charge) mean battery power at generator level g (W), power-limited."""
        net, pb = self._net, self.p.bat_power
        if pb <= 0:
            return 0.0, 0.0
        dis = net.above(g) - net.above(g + pb)
        chg = net.below(g) - net.below(g - pb)
        return dis, chg

    def _integrate(self, t1: float) -> tuple[float, float, float]:
        """∫ over [0, t1] of (discharge, charge, dE/dt) along the generator trajectory."""
        traj = self._traj
        eta = self.p.eta
        settle = min(traj.settle_time(), t1)
        dis_sum = chg_sum = 0.0
        if settle > 0:
            for ta, tb in self._pieces(settle):
                d, c = self._piece(ta, tb)
                dis_sum += d
                chg_sum += c
        if t1 > settle:
            d, c = self._rates(traj.s)
            dis_sum += d * (t1 - settle)
            chg_sum += c * (t1 - settle)
        return dis_sum, chg_sum, chg_sum * eta - dis_sum / eta

    def _kinks(self) -> tuple[float, ...]:
        """Generator levels where the battery-rate functions change formula."""
        net, pb = self._net, self.p.bat_power
        if net.is_constant:
            return (net.low, net.low - pb, net.low + pb)
        return (net.low, net.high, net.low - pb, net.high - pb, net.low + pb, net.high + pb)

    def _pieces(self, t1: float) -> list[tuple[float, float]]:
        """[0, t1] cut at the end of the ramp and wherever the generators cross a kink, so that
        on each piece the battery rates are one quadratic in G."""
        traj = self._traj
        cuts = {0.0, t1}
        t_r = min(traj.t_meet, t1)
        cuts.add(t_r)
        g0 = traj.g0
        a = traj.f0 - traj.s
        for k in self._kinks():
            if t_r > 0 and traj.slope != 0:
                t = (k - g0) / traj.slope
                if 0 < t < t_r:
                    cuts.add(t)
            if t1 > t_r and traj.tau > 0 and a != 0:
                ratio = (k - traj.s) / a
                if 0 < ratio < 1:
                    t = -traj.tau * math.log(ratio)
                    if t_r < t < t1:
                        cuts.add(t)
        edges = sorted(cuts)
        return [(x, y) for x, y in itertools.pairwise(edges) if y > x]

    def _piece(self, ta: float, tb: float) -> tuple[float, float]:
        """∫ over [ta, tb] of (discharge, charge) where no kink is crossed: the rates are one
        quadratic in G, and ∫G dt, ∫G² dt along a ramp or an exponential are elementary."""
        traj = self._traj
        g_a, g_b = traj.at(ta), traj.at(tb)
        lo, hi = min(g_a, g_b), max(g_a, g_b)
        mid = 0.5 * (lo + hi)
        span = tb - ta
        # moments of x = G − mid over the piece: m0 = ∫1, m1 = ∫x, m2 = ∫x²
        if tb <= traj.t_meet:  # on the ramp
            x0, k = g_a - mid, traj.slope
            m1 = x0 * span + k * span**2 / 2
            m2 = x0**2 * span + x0 * k * span**2 + k**2 * span**3 / 3
        elif traj.tau > 0:
            a = traj.f0 - traj.s
            e1 = traj.tau * (math.exp(-ta / traj.tau) - math.exp(-tb / traj.tau))
            e2 = traj.tau / 2 * (math.exp(-2 * ta / traj.tau) - math.exp(-2 * tb / traj.tau))
            c = traj.s - mid
            m1 = c * span + a * e1
            m2 = c * c * span + 2 * c * a * e1 + a * a * e2
        else:
            c = traj.s - mid
            m1, m2 = c * span, c * c * span
        half = 0.5 * (hi - lo)
        net = self._net
        if net.is_constant:
            # constant demand: the battery takes N − G, clipped to its power (linear in G)
            pb, gap = self.p.bat_power, net.low - mid
            if pb <= 0:
                return 0.0, 0.0
            if gap >= pb:
                return pb * span, 0.0
            if gap >= 0:
                return gap * span - m1, 0.0
            if gap > -pb:
                return 0.0, m1 - gap * span
            return 0.0, pb * span
        d0, c0 = self._rates(mid)
        if half <= 1e-6:
            return d0 * span, c0 * span
        dl, cl = self._rates(lo)
        dh, ch = self._rates(hi)
        # quadratic through (−h, y_l), (0, y_0), (h, y_h): y = y0 + b·x + q·x²
        inv = 1.0 / (2 * half)
        dis = d0 * span + (dh - dl) * inv * m1 + (dh - 2 * d0 + dl) * inv / half * m2
        chg = c0 * span + (ch - cl) * inv * m1 + (ch - 2 * c0 + cl) * inv / half * m2
        return dis, chg

    def _transient_energy(self, t1: float) -> float:
        """Cheap estimate of the battery energy change over [0, t1] (J) for the SoC-term
        corrector: mean battery power N̄ − G without clipping, losses by direction."""
        traj, net = self._traj, self._net
        t_r = min(traj.t_meet, t1)
        integral_g = traj.g0 * t_r + traj.slope * t_r * t_r / 2
        if t1 > t_r:
            integral_g += traj.s * (t1 - t_r)
            if traj.tau > 0:
                integral_g += (traj.f0 - traj.s) * traj.tau * (
                    math.exp(-t_r / traj.tau) - math.exp(-t1 / traj.tau))
        out = net.mean * t1 - integral_g  # energy the battery delivers
        return -out / self.p.eta if out > 0 else -out * self.p.eta

    # -- segments ---------------------------------------------------------------------------
    def begin(self, t: float, load: Trapezoid, floor_extra_w: float = 0.0,
              max_duration: float = math.inf, resync: bool = False) -> tuple[float, str] | None:
        """Start a segment at ``t`` with facility ``load``.

        Args:
            resync: the site restarts from dark: the plant is synchronised to this load
                (no step check), as after an outage.

        Returns:
            ``(seconds until trip, kind)`` with kind ``unserved`` or ``overspeed`` if the
            sources cannot carry this segment within ``max_duration``; else None.
        """
        p = self.p
        prev_grid = self._grid_mean
        self._t0 = t
        self._dark = False
        self._load = load
        self._floor_w = floor_extra_w
        net = self.net_of(load)
        self._net = net
        self._grid_mean = load.mean - net.mean
        self.metrics.peak_facility_w = max(self.metrics.peak_facility_w, load.high)
        s = self.target(net.mean, self.energy_stored)
        if resync or not self._started:
            self.gen = self.filt = s
            self._started = True
        elif abs(self._grid_mean - prev_grid) > p.grid_ramp * max(p.edge_s, 1e-3):
            self.metrics.grid_ramp_violations += 1
        if not load.is_constant and p.grid_cap > load.low and p.grid_ramp < math.inf:
            swing = min(load.high, p.grid_cap) - load.low
            if swing / max(load.t_edge, 1e-3) > p.grid_ramp:
                self.metrics.grid_ramp_violations += 1
        trip = self._step_check(net)
        self._traj = trajectory(self.gen, self.filt, s, p.gen_ramp, p.tau_filter)
        if p.bat_energy > 0 and p.gen_cap > 0 and self._traj.t_meet + self._traj.tau > 0:
            # corrector: the SoC term sees the charge the battery takes during the transient
            settle = min(self._traj.settle_time(), max_duration)
            s = self.target(net.mean, self.energy_stored + self._transient_energy(settle))
            self._traj = trajectory(self.gen, self.filt, s, p.gen_ramp, p.tau_filter)
        self._oscillating = False
        if trip is not None:
            return 0.0, trip
        return self._later_trip(net, max_duration)

    def begin_dark(self, t: float) -> None:
        """Start a segment with the site dark after a trip: no load, sources idle, the battery
        holds its charge. The next :meth:`begin` should resynchronise."""
        self._t0 = t
        self._dark = True
        self._load = Trapezoid.constant(0.0)
        self._grid_mean = 0.0

    def _step_check(self, net: Trapezoid) -> str | None:
        """Check the instantaneous step at the segment start; absorb small residuals."""
        p = self.p
        limit = p.gen_step if p.gen_cap > 0 else 0.0
        short = net.high - self.gen - p.bat_power  # deficit the battery cannot cover
        if short > 1e-6:
            if short > limit:
                return "unserved"
            if net.is_constant:  # the generators pick the step up
                self.gen += short
                self.filt = max(self.filt, self.gen)
        excess = self.gen - net.low - p.bat_power  # surplus the battery cannot absorb
        if excess > 1e-6:
            if excess > limit:
                return "overspeed"
            if net.is_constant:
                self.gen -= excess
                self.filt = min(self.filt, self.gen)
        return None

    def _later_trip(self, net: Trapezoid, horizon: float) -> tuple[float, str] | None:
        """Trips later in the segment: settled generators vs the swing, or SoC exhaustion."""
        p = self.p
        limit = p.gen_step if p.gen_cap > 0 else 0.0
        traj = self._traj
        # the swing around the settled generator level, once the transient is over
        g_end = traj.s
        short = net.high - g_end - p.bat_power
        excess = g_end - net.low - p.bat_power
        if short > limit or excess > limit:
            kind = "unserved" if short > limit else "overspeed"
            # the level at which the residual crosses the limit, reached on the way to g_end
            if kind == "unserved":
                bound = net.high - p.bat_power - limit
            else:
                bound = net.low + p.bat_power + limit
            return _crossing(traj, bound, horizon), kind
        self._oscillating = (short > 1e-6 or excess > 1e-6) and not net.is_constant
        if p.bat_energy <= 0:
            return None
        # state of charge: does the battery run empty (or full) before the segment ends?
        # (skip the integral when even full power for the whole segment cannot get there)
        worst = p.bat_power * horizon
        if (self.energy_stored - worst / p.eta >= p.e_min
                and self.energy_stored + worst * p.eta <= p.e_max):
            return None
        settle = traj.settle_time()
        probe = min(horizon, settle) if math.isfinite(horizon) else settle
        _, _, de = self._integrate(probe)
        e_probe = self.energy_stored + de
        if e_probe < p.e_min or e_probe > p.e_max:
            bound = p.e_min if e_probe < p.e_min else p.e_max
            frac = (bound - self.energy_stored) / de if de else 0.0
            return self._soc_trip(probe * min(max(frac, 0.0), 1.0), bound == p.e_min, limit)
        if horizon > probe:
            d, c = self._rates(traj.s)
            rate = c * p.eta - d / p.eta
            if rate < 0 and e_probe + rate * (horizon - probe) < p.e_min:
                return self._soc_trip(probe + (p.e_min - e_probe) / rate, True, limit)
            if rate > 0 and e_probe + rate * (horizon - probe) > p.e_max:
                return self._soc_trip(probe + (p.e_max - e_probe) / rate, False, limit)
        return None

    def _soc_trip(self, at: float, empty: bool, limit: float) -> tuple[float, str] | None:
        """At an SoC limit the battery stops absorbing one direction: trip if the generators
        cannot take that swing as a step."""
        g = self._traj.at(at)
        need = (self._net.high - g) if empty else (g - self._net.low)
        if need > limit:
            return at, ("unserved" if empty else "overspeed")
        return None

    def end(self, t: float) -> None:
        """Book the segment that began at the last :meth:`begin`, up to ``t``."""
        p, m = self.p, self.metrics
        dt = t - self._t0
        if dt <= 0:
            return
        if self._dark:
            self._t0 = t
            return
        load = self._load
        m.energy_j += load.mean * dt
        m.floor_energy_j += self._floor_w * dt
        traj = self._traj
        if self._oscillating:
            m.generator_oscillation_s += dt
        if p.bat_power > 0:
            dis, chg, de = self._integrate(dt)
            m.battery_throughput_j += dis + chg
            m.battery_discharge_j += dis
            e = self.energy_stored + de
            if e < p.e_min or e > p.e_max:
                # clamp: the battery sat at its limit for the part of the segment it could not
                # absorb (the generators took it; a trip, if any, was scheduled by begin())
                excess = (p.e_min - e) if e < p.e_min else (e - p.e_max)
                rate = abs(de) / dt if de else 1.0
                m.soc_limit_s += min(dt, excess / rate)
                e = min(max(e, p.e_min), p.e_max)
            self.energy_stored = e
            g0, g1 = traj.at(0.0), traj.at(dt)
            net = self._net
            peak = max(net.high - min(g0, g1), max(g0, g1) - net.low, 0.0)
            m.battery_peak_w = max(m.battery_peak_w, min(peak, p.bat_power))
        self.gen = traj.at(dt)
        # the filter moves on its own, whether or not the generators have caught up with it
        self.filt = traj.s + (traj.f0 - traj.s) * math.exp(-dt / traj.tau) if traj.tau > 0 else traj.s
        self._t0 = t

    def trip(self, t: float, kind: str, outage_s: float) -> None:
        """Record a trip at ``t``: the site goes dark for ``outage_s``."""
        m = self.metrics
        m.trips += 1
        if kind == "unserved":
            m.unserved_trips += 1
        else:
            m.overspeed_trips += 1
        # energy not served: what the site was drawing, for as long as it stays dark
        m.unserved_j += self._load.mean * outage_s


def soc_neutral_level(net: Trapezoid, eta: float) -> float:
    """Generator level (W) at which a battery absorbing the swing neither gains nor loses
    charge: η·E[(G − N)⁺] = E[(N − G)⁺] / η, with η the one-way efficiency."""
    lo, hi = net.low, net.high
    if net.is_constant:
        return lo
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if eta * net.below(mid) - net.above(mid) / eta < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _crossing(traj: Trajectory, level: float, horizon: float) -> float:
    """First time the trajectory reaches ``level`` (0 if already beyond it at the start)."""
    g0, g_end = traj.at(0.0), traj.s
    if (level - g0) * (level - g_end) > 0 and abs(level - g_end) > abs(level - g0):
        return 0.0  # moving away from the level: it is violated from the start
    lo, hi = 0.0, max(traj.settle_time(), traj.t_meet) + 1.0
    if horizon < hi:
        hi = horizon
    if (traj.at(hi) - level) * (g0 - level) > 0:
        return hi  # reaches the limit only as it settles
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        if (traj.at(mid) - level) * (g0 - level) > 0:
            lo = mid
        else:
            hi = mid
    return hi


#: columns of a segment-log row
SEGMENT_COLUMNS = ("time_s", "state", "low_w", "high_w", "t_high_s", "t_edge_s", "period_s",
                   "generator_w", "filter_w", "battery_j", "grid_w")


@dataclass
class SegmentLog:
    """Probe: each segment's load and the plant's state as it starts (plots, cross-checks)."""

    rows: list[tuple] = field(default_factory=list)

    def add(self, t: float, state: str, load: Trapezoid, solver: EventSolver) -> None:
        grid = load.mean - solver.net_of(load).mean
        self.rows.append((t, state, load.low, load.high, load.t_high, load.t_edge, load.period,
                          solver.gen, solver.filt, solver.energy_stored, grid))
