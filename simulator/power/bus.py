"""The site bus within one segment: who carries the fast residual, the frequency it makes,
and whether protection trips.

Given the facility load L(t) (periodic, W), the dispatched grid import I and generators G
(slow, held over an iteration), the battery (power P_b, response delay T_b) and the tie (cap
C), the fast residual is split in this order:

    c(t) = L(t) − I − G                         the battery's command
    b(t) = clamp(c(t − T_b), −P_c, P_d)          what it delivers (P_d, P_c: 0 at an SoC limit)
    w(t) = c(t) − b(t)                           what it leaves
    tie(t) = clamp(w(t), −I, C − I)              a stiff tie takes it while the import stays
                                                 within [0, C] (the bus frequency is held)
    w_g(t) = w(t) − tie(t)                       the rest falls on the generators' rotors

A capped tie is thus held at its cap (a constant-power injection, as an import limiter would
hold it) and the island's machines carry the rest. w_g = m + w̃(t): its mean m moves the
droop equilibrium Δf_e = −m/(k + D), its ripple w̃ drives the periodic orbit
(:mod:`simulator.power.frequency`). At a segment start the bus leaves the previous state and
the battery keeps delivering its old output for T_b: that transient is solved exactly from
the previous state (:mod:`simulator.power.arcs`) until it has joined the new orbit.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from simulator.power.arcs import FrequencyParams, LinearModes, Solution, integrate
from simulator.power.dispatch import Supply
from simulator.power.frequency import Orbit, periodic_orbit, quiet_orbit
from simulator.power.load import Trapezoid
from simulator.power.protection import (
    Protection,
    band_trip,
    excursion_time,
    run_beyond,
    sustained,
    windowed_rocof,
)
from simulator.power.waveform import Pwl

_CACHE = 4096
_SETTLE_F = 2e-5  # Hz: one period later the state repeats to this: the orbit
_ON_ORBIT_F = 1e-3  # Hz: a start this close to the new orbit starts on it (no transient)
_TRANSIENT_MAX_S = 60.0  # beyond this a transient is taken as settled
_TOL_W = 1.0
_TIE_Q = 1e6  # W: the fast layer takes the grid dispatch (the tie's room) to this step
_EARLY_W = 1e6  # W: a dispatch move within the battery's delay below this is left out
_YPAD = 1e3  # W: margin on a transient's governor range when reusing it under other bounds


@dataclass(frozen=True)
class BusParams:
    """The fast layer's parameters (SI, Hz)."""

    period: float
    grid_cap: float
    bat_power: float
    delay: float
    gen_cap: float
    gen_min: float
    freq: FrequencyParams | None
    prot: Protection
    grid_window: float

    @property
    def has_gens(self) -> bool:
        return self.freq is not None


@dataclass
class Residual:
    """The split of one periodic load against one dispatch (phase 0 = waveform origin)."""

    battery: Pwl
    tie: Pwl
    gens: Pwl
    mean: float
    clipped: bool
    ripple: Pwl
    key: tuple
    sustained_rise: float = 0.0
    runs: tuple[float, float] = (0.0, 0.0)
    orbit: Orbit | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    def tie_rise(self, window: float) -> float:
        """Largest change of the tie's fast share over ``window`` s (W)."""
        key = ("tie", window)
        if key not in self._memo:
            self._memo[key] = self.tie.rise_within(window)
        return self._memo[key]

    def gens_mean(self, start: float, span: float) -> float:
        """Mean load on the generators over [start, start + span] (W)."""
        if span <= 0:
            return self.gens(start)
        key = ("avg", round(start % self.gens.period, 9), span)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self.gens.integral(start, span) / span
        return got


class _Lru(OrderedDict):
    def get_or(self, key, make):
        hit = self.get(key)
        if hit is None:
            hit = make()
            self[key] = hit
            if len(self) > _CACHE:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return hit


def load_pwl(load: Trapezoid, period: float) -> Pwl:
    if load.is_constant:
        w = Pwl.constant(load.low, period)
        w.shape = (load.low, load.low, 0.0, 0.0)
    else:
        w = Pwl.trapezoid(load.low, load.high, load.t_high, load.t_edge, load.period)
        w.shape = (load.low, load.high, load.t_high, load.t_edge)
    return w


class Bus:
    """Builds and caches residuals, orbits and transients for one plant."""

    def __init__(self, bp: BusParams):
        self.bp = bp
        self.modes = LinearModes(bp.freq) if bp.freq is not None else None
        self._residuals = _Lru()
        self._orbits = _Lru()
        self._transients = _Lru()
        self._windows = _Lru()
        self._outcomes = _Lru()
        self._loads: dict[tuple, Pwl] = {}
        self._quiet = quiet_orbit(bp.period)

    # -- the split ----------------------------------------------------------------------------
    def residual(self, load: Trapezoid, grid: float, gens: float, pd: float, pc: float) -> Residual:
        bp = self.bp
        # the tie's bounds to 1 MW (cache hits; the supply level itself stays exact)
        supply = grid + gens
        grid = _snap(grid, _TIE_Q)
        if load.is_constant:
            # everything is a constant: the split in closed form, keyed by its result
            c = load.low - supply
            b = min(max(c, -pc), pd) if bp.bat_power > 0 else 0.0
            w = c - b
            tie = min(max(w, -grid), bp.grid_cap - grid) if bp.grid_cap > 0 else 0.0
            g = _snap(w - tie, 1.0)
            clipped = abs(w) > 1e-6  # the battery does not take it all
            key = ("k", g, round(tie, 0), clipped)
            return self._residuals.get_or(key, lambda: self._constant(b, tie, g, key, clipped))
        unclipped = load.low - supply >= -pc - 1e-9 and load.high - supply <= pd + 1e-9
        shape = (round(load.high - load.low, 3), load.t_high, load.t_edge, load.period)
        if unclipped:
            # the battery follows the command exactly, late by T_b: w = L(t) − L(t − T_b),
            # whatever the levels; only the tie's room depends on them
            key = ("u", shape, grid, bp.grid_cap - grid)
        else:
            key = ("c", round(load.low, 0), shape, grid, round(gens, 0), round(pd, 0),
                   round(pc, 0))
        return self._residuals.get_or(key, lambda: self._split(load, grid, supply, pd, pc, key,
                                                               not unclipped))

    def _constant(self, b: float, tie: float, g: float, key: tuple, clipped: bool) -> Residual:
        T = self.bp.period
        on = Pwl.constant(g, T)
        return Residual(Pwl.constant(b, T), Pwl.constant(tie, T), on, g, clipped,
                        Pwl.constant(0.0, T), key,
                        runs=(math.inf if g > _TOL_W * 1e3 else 0.0,
                              math.inf if g < -_TOL_W * 1e3 else 0.0))

    def _split(self, load: Trapezoid, grid: float, supply: float, pd: float, pc: float,
               key: tuple, clipped: bool) -> Residual:
        bp = self.bp
        L = load_pwl(load, bp.period)
        command = L.shift(-supply)
        battery = command.delay(bp.delay).clip(-pc, pd) if bp.bat_power > 0 else \
            Pwl.constant(0.0, bp.period)
        w = command.combine(battery, 1.0, -1.0)
        if bp.grid_cap > 0:
            tie = w.clip(-grid, bp.grid_cap - grid)
            on_gens = w.combine(tie, 1.0, -1.0)
        else:
            tie = Pwl.constant(0.0, bp.period)
            on_gens = w
        mean = on_gens.mean
        r = Residual(battery, tie, on_gens, mean, clipped, on_gens.shift(-mean), key)
        if bp.has_gens:
            r.sustained_rise = sustained(on_gens, bp.prot.step_window)
        else:
            r.runs = run_beyond(on_gens, _TOL_W * 1e3)
        return r

    def orbit(self, r: Residual) -> Orbit:
        if r.orbit is not None:
            return r.orbit
        if not self.bp.has_gens or r.ripple.high - r.ripple.low < _TOL_W:
            r.orbit = self._quiet
        else:
            assert self.bp.freq is not None and self.modes is not None
            r.orbit = self._orbits.get_or(r.key, lambda: periodic_orbit(self.bp.freq, self.modes,
                                                                        r.ripple))
        return r.orbit

    def window_key(self, seg: SegmentBus, prev: BusState) -> tuple:
        """What the battery-delay window of a segment start depends on: the battery's command
        before and after (load against supply), its limits, the tie's room, and how far the
        dispatch moves within the delay (when it moves enough to matter)."""
        bp = self.bp
        lo, hi = prev.load.low - prev.supply, prev.load.high - prev.supply
        if -prev.pc <= lo and hi <= prev.pd and abs(prev.supply - seg.supply) < 0.5:
            # the battery was following its command: the window is the new load less the old,
            # whatever the supply level
            ref = prev.load.low
            loads = (_command_key(prev.load, ref), _command_key(seg.load, ref), "rel")
        else:
            loads = (_command_key(prev.load, prev.supply), _command_key(seg.load, seg.supply),
                     prev.pd, prev.pc)
        return (loads, round(prev.phase % bp.period, 9), round(seg.phase % bp.period, 9),
                seg.grid, seg.r.key, seg.early)

    def window(self, seg: SegmentBus, prev: BusState, key: tuple
               ) -> tuple[list[tuple[float, float, float]], float]:
        """The generators' load while the battery still delivers its old output (pieces over
        [0, T_b), snapped), and its mean over the first governor time (W)."""
        bp = self.bp
        got = self._windows.get(key)
        if got is None:
            pieces = [(_snap(h, 1e-9), v, _snap(sl, 1.0)) for h, v, sl in seg._window(prev)]
            span = sum(h for h, _, _ in pieces)
            tg = bp.prot.step_window
            head = sum(h * (v + 0.5 * sl * h) for h, v, sl in pieces)
            rest = seg.r.gens_mean(seg.phase + span, tg - span) * (tg - span) if tg > span else 0.0
            avg = (head + rest) / max(tg, span) if max(tg, span) > 0 else seg.r.gens(seg.phase)
            got = self._windows.get_or(key, lambda: (pieces, avg))
        return got

    def load_pwl(self, load: Trapezoid) -> Pwl:
        # kept for the run (few distinct loads): the window cache keys on their identity
        key = (load.low, load.high, load.t_high, load.t_edge, load.period)
        got = self._loads.get(key)
        if got is None:
            got = self._loads[key] = load_pwl(load, self.bp.period)
        return got

    # -- a segment ----------------------------------------------------------------------------
    def segment(self, load: Trapezoid, phase: float, grid: float, gens: float, pd: float,
                pc: float, before: BusState | None, horizon: float,
                path: Supply | None = None) -> SegmentBus:
        """The bus over a segment that starts at waveform time ``phase`` (s); ``before`` is the
        state the previous segment left (None: the plant starts at rest); ``path`` is where the
        dispatch goes during the segment."""
        r = self.residual(load, grid, gens, pd, pc)
        drift = self._drift(load, r, pd, pc, path, horizon) if path is not None else []
        return SegmentBus(self, r, self.load_pwl(load), phase, _snap(grid, _TIE_Q), gens, pd, pc,
                          before, horizon, grid + gens, drift, path)

    def _drift(self, load: Trapezoid, r: Residual, pd: float, pc: float, path: Supply,
               horizon: float) -> list[tuple[float, float, float]]:
        """For a constant load that the battery does not cover, the load left on the generators
        moves as the dispatch catches up: that input (minus its start value) as linear pieces,
        exact on the dispatch's ramps and chords of its exponential."""
        bp = self.bp
        if not load.is_constant or not bp.has_gens or (not r.clipped and bp.bat_power > 0):
            return []
        end = min(path.settle_time(), horizon, _TRANSIENT_MAX_S * 10)
        if end <= 0:
            return []

        def left(t: float) -> float:
            grid = _snap(path.grid.at(t), _TIE_Q)
            c = load.low - path.at(t)
            b = min(max(c, -pc), pd) if bp.bat_power > 0 else 0.0
            w = c - b
            tie = min(max(w, -grid), bp.grid_cap - grid) if bp.grid_cap > 0 else 0.0
            return w - tie

        times = {0.0, end, *path.structural_cuts(end)}
        # where the battery's limits or the tie's bounds start or stop binding
        levels = [load.low - pd, load.low + pc]
        if bp.grid_cap > 0:
            levels += [load.low - pd - bp.grid_cap, load.low + pc]
        times.update(path.crossings(levels, end))
        tau = path.gens.tau if path.gens.tau > 0 else end
        k = 1
        while k * tau / 3 < end:
            times.add(k * tau / 3)
            k += 1
        ts = sorted(times)
        base = left(0.0)
        if all(abs(left(t) - base) < _TOL_W for t in ts):
            return []
        vals = [left(t) - base for t in ts]
        return [(_snap(b - a, 1e-9), _snap(va, 1.0), _snap((vb - va) / (b - a), 1.0))
                for a, b, va, vb in zip(ts, ts[1:], vals, vals[1:], strict=False) if b > a]


@dataclass
class Transient:
    """The exact transient of a segment start, with its metrics over its whole length (cached:
    identical starts recur at every checkpoint and restart)."""

    sol: Solution
    settled: float  # s: from here on the orbit holds
    trip: tuple[float, str] | None
    low: float  # Δf extremes relative to the equilibrium (Hz)
    high: float
    excursion: float = 0.0  # s outside the normal band (with the segment's offset)
    _rocof: float | None = None  # Hz/s, largest windowed (computed when asked)
    y_low: float = 0.0  # the governor response's range (W, relative to the equilibrium)
    y_high: float = 0.0
    key: tuple = ()


    def rocof_series(self, window: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, windowed RoCoF) within the transient (t ≥ W), on a grid of window/25."""
        ts, f = self.sol.sample(window / 25)
        g = windowed_rocof(f, ts[1] - ts[0], window)
        return ts[len(ts) - len(g):], g

    def rocof(self, window: float, floor: float) -> float:
        """Largest windowed RoCoF (Hz/s); 0 when it cannot exceed ``floor``."""
        if self._rocof is None:
            if (self.high - self.low) / window <= floor:
                return 0.0
            self._rocof = float(self.rocof_series(window)[1].max())
        return self._rocof


@dataclass
class BusState:
    """What a segment leaves to the next: the bus state, and what the battery was doing (it
    keeps doing it for its response delay)."""

    f: float  # Δf (Hz)
    y: float  # governor response (W)
    load: Pwl  # the facility load waveform
    supply: float  # I + G (W)
    pd: float  # battery discharge available (W)
    pc: float  # battery charge available (W)
    phase: float  # waveform time at the boundary (s)
    on_gens: float  # the generators' load above dispatch, mean over the last step window (W)
    seg: SegmentBus | None = None  # the segment left, for the frequency's recent past
    t_end: float = 0.0  # its length (s)
    past_key: tuple = ()  # a key for that recent past (equal keys, equal pasts)

    def past(self, times: np.ndarray) -> np.ndarray:
        """Δf at times before the boundary (negative, s)."""
        if self.seg is None:
            return np.full(len(times), self.f)
        return self.seg.f_many(np.maximum(self.t_end + times, 0.0))


@dataclass
class SegmentBus:
    """The bus during one segment: equilibrium, orbit, transient, predicted trip.

    Times are seconds from the segment start; the waveforms' time is ``phase`` + that.
    """

    bus: Bus
    r: Residual
    load: Pwl
    phase: float
    grid: float
    gens: float
    pd: float
    pc: float
    before: BusState | None
    horizon: float
    supply: float  # I + G at the start, exact (W)
    drift: list = field(default_factory=list)  # input from the dispatch's move (constant load)
    path: Supply | None = None  # the dispatch's path over the segment
    early: float = 0.0  # W: how far the dispatch moves within the battery's delay (if much)
    orbit: Orbit = field(init=False)
    f_e: float = 0.0
    y_e: float = 0.0
    tr: Transient | None = None
    settled_at: float = 0.0
    trip: tuple[float, str] | None = None
    step: float = 0.0
    _entry: tuple[float, float] | None = None
    _outcome: list | None = None

    def __post_init__(self) -> None:
        bus, bp, r = self.bus, self.bus.bp, self.r
        self.orbit = bus.orbit(r)
        path = self.path
        if path is not None:
            early = path.at(bp.delay) - path.at(0.0)
            # a move within the delay that is small against the site is left out
            self.early = round(early, 0) if abs(early) > _EARLY_W else 0.0
        if not bp.has_gens:
            self._no_machines()
            return
        assert bp.freq is not None and bus.modes is not None
        self.f_e, self.y_e = bus.modes.equilibrium(r.mean)
        # the governor may shed the machines below their minimum stable load for seconds
        # (that limit is the dispatch's), not below zero output, nor above capacity
        y_lo = -self.gens - self.y_e
        y_hi = bp.gen_cap - self.gens - self.y_e
        prev = self.before
        window: list[tuple[float, float, float]] = []
        z0 = (0.0, 0.0)
        sig = None
        if prev is not None:
            z0 = (_snap(prev.f - self.f_e, 1e-7), _snap(prev.y - self.y_e, 1.0))
            wkey = bus.window_key(self, prev)
            # the whole outcome of a start is a function of these: repeated starts (every
            # checkpoint and restart) cost one lookup
            sig = (wkey, z0, round(min(self.horizon, _TRANSIENT_MAX_S), 3), tuple(self.drift),
                   prev.past_key)
            hit = bus._outcomes.get(sig)
            # an outcome holds for any headroom bounds its governor response never reached
            if hit is not None and (hit[0] is None or (y_lo < hit[0].y_low
                                                        and hit[0].y_high < y_hi)):
                self.tr, self.settled_at, self.trip, self.step, self._entry = hit[:5]
                self._outcome = hit
                return
            window, new_avg = bus.window(self, prev, wkey)
            self.step = abs(new_avg - prev.on_gens)  # the load change that lasts T_g
        self._start(window, z0, y_lo, y_hi)
        if sig is not None:
            # [tr, settled, trip, step, entry RoCoF, metrics over the settled length]
            self._outcome = [self.tr, self.settled_at, self.trip, self.step, self._entry, None]
            bus._outcomes[sig] = self._outcome
            if len(bus._outcomes) > _CACHE:
                bus._outcomes.popitem(last=False)

    def _start(self, window: list[tuple[float, float, float]], z0: tuple[float, float],
               y_lo: float, y_hi: float) -> None:
        """Block steps, the transient (cached), the entry RoCoF and the orbit's verdict."""
        bus, bp, r = self.bus, self.bus.bp, self.r
        prev = self.before
        tg = bp.prot.step_window
        if self.step > bp.prot.block_step:
            # the T_g-moving average of a lasting step crosses the limit part-way
            self.trip = (min(tg * bp.prot.block_step / self.step, self.horizon), "block_step")
            return
        if r.sustained_rise > bp.prot.block_step:
            self.trip = (min(bp.delay + tg, self.horizon), "block_step")
            return
        # inputs snapped to a fine grid, so that equal keys mean equal computations
        mean = r.mean
        shifted = [(h, _snap(v - mean, 1.0), sl) for h, v, sl in window]
        y_lo, y_hi = _snap(y_lo, _TIE_Q), _snap(y_hi, _TIE_Q)
        if self._on_orbit(z0, shifted):
            self.settled_at = 0.0
        else:
            # a solution that never touched the headroom bounds holds for any bounds beyond its
            # reach: look it up without them, then check
            key = (r.key, round(self.phase % bp.period, 9), z0, tuple(shifted),
                   round(min(self.horizon, _TRANSIENT_MAX_S), 3), tuple(self.drift))
            tr = bus._transients.get(key)
            if tr is None or not (y_lo < tr.y_low and tr.y_high < y_hi):
                tr = bus._transients.get((*key, y_lo, y_hi))
            if tr is None:
                tr = self._transient(z0, shifted, y_lo, y_hi)
                free = y_lo < tr.y_low and tr.y_high < y_hi
                tr.key = key if free else (*key, y_lo, y_hi)
                bus._transients.get_or(tr.key, lambda: tr)
            self.tr, self.settled_at, self.trip = tr, tr.settled, tr.trip
        if prev is not None and self._entry_bound(*self.span) > bp.prot.rocof_limit:
            self._entry = self.entry_rocof(min(self.horizon, bp.prot.rocof_window))
            if math.isfinite(self._entry[1]) and (self.trip is None
                                                  or self._entry[1] < self.trip[0]):
                self.trip = (self._entry[1], "rocof")
        if self.trip is None and self.horizon > self.settled_at:
            self.trip = self._orbit_trip()

    def _on_orbit(self, z0: tuple[float, float], window: list) -> bool:
        """Whether the bus starts on the new orbit already, with a negligible disturbance
        while the battery catches up (a split segment, a step the residual does not see)."""
        bp = self.bus.bp
        of, oy = self.orbit.state(self.phase)
        if abs(z0[0] - of) > _ON_ORBIT_F or abs(z0[1] - oy) > _ON_ORBIT_F * bp.freq.k:
            return False
        if not window:
            return True
        # the window's input against what the orbit assumed there, as a frequency kick
        kick = 0.0
        t = self.phase
        for h, v, sl in window:
            kick += abs(h * (v + 0.5 * sl * h) - self.r.ripple.integral(t, h))
            t += h
        return kick / bp.freq.m < _ON_ORBIT_F

    def _window(self, prev: BusState) -> list[tuple[float, float, float]]:
        """The generators' load above dispatch while the battery still delivers its old output:
        t in [0, T_b), as pieces (duration, value, slope)."""
        bp = self.bus.bp
        span = bp.delay
        if span <= 0 or bp.bat_power <= 0:
            return []
        command = self.load.pieces(self.phase, span)
        if self.path is not None and self.early:
            # the dispatch may move within the battery's delay (a fast ramp): follow it
            cuts = sorted({0.0, span, *self.path.structural_cuts(span)})
            supply = [(b - a, self.path.at(a), (self.path.at(b) - self.path.at(a)) / (b - a))
                      for a, b in itertools.pairwise(cuts) if b > a]
        else:
            supply = [(span, self.supply, 0.0)]
        command = [(h, vl - vs, sl - ss) for h, vl, sl, vs, ss in _merge(command, supply)]
        old = _clamp(prev.load.pieces(prev.phase - span, span, prev.supply), -prev.pc, prev.pd)
        out = []
        lo_t, hi_t = -self.grid, bp.grid_cap - self.grid
        for h, vc, sc, vb, sb in _merge(command, old):
            w = [(h, vc - vb, sc - sb)]
            if bp.grid_cap > 0:
                kept = _clamp(w, lo_t, hi_t)
                w = [(hh, v - kv, sl - ks) for (hh, v, sl), (_, kv, ks) in
                     zip(_cut(w, kept), kept, strict=True)]
            out += w
        return out

    def _transient(self, z0: tuple[float, float], window: list, y_lo: float, y_hi: float):
        bus, bp, r = self.bus, self.bus.bp, self.r
        assert bus.modes is not None and bp.freq is not None
        T = bp.period
        limit = min(self.horizon, _TRANSIENT_MAX_S)
        span = sum(h for h, _, _ in window)
        if len(self.orbit.f) == 1:  # no ripple: one solution to the horizon
            pieces = list(window)
            if self.drift:  # the dispatch catching up moves the load left on the generators
                limit = min(self.horizon, max(limit, sum(h for h, _, _ in self.drift)))
                t = span
                for h, v, sl in self.drift:
                    a, b = max(t, span), min(t + h, limit)
                    if b > a:
                        pieces.append((b - a, v + sl * (a - t), sl))
                    t += h
                if limit > t:
                    last = self.drift[-1]
                    pieces.append((limit - t, last[1] + last[2] * last[0], 0.0))
            elif limit > span:
                pieces.append((limit - span, 0.0, 0.0))
            sol = integrate(bus.modes, *z0, pieces, y_lo, y_hi)
            settled = sol.end
        else:
            f, y = z0
            arcs: list = []
            t = 0.0
            settled = math.inf
            first = True
            while limit - t > 1e-9:
                head = list(window) if first else []
                done = span if first else 0.0
                chunk = head + r.ripple.pieces(self.phase + t + done, min(T, limit - t - done))
                if not chunk:
                    break
                part = integrate(bus.modes, f, y, chunk, y_lo, y_hi)
                arcs += [(t0 + t, a) for t0, a in part.arcs]
                t += part.end
                f_prev, y_prev = f, y
                f, y = part.state(part.end)
                if not first and abs(f - f_prev) < _SETTLE_F and \
                        abs(y - y_prev) < _SETTLE_F * bp.freq.k:
                    settled = t  # the period map has reached its fixed point: the orbit
                    break
                first = False
            sol = Solution(arcs, t)
            if not math.isfinite(settled):
                settled = t
        lo, hi = sol.extrema()
        ys = [v for _, a in sol.arcs for v in (a.y0, a.y(a.h))]
        prot = bp.prot
        trip = band_trip(sol, self.f_e, prot, sol.end) if (
            lo + self.f_e < prot.band_lo or hi + self.f_e > prot.band_hi) else None
        tr = Transient(sol, settled, trip, lo, hi, y_low=min(ys, default=0.0) - _YPAD,
                       y_high=max(ys, default=0.0) + _YPAD)
        if lo + self.f_e < prot.normal_lo or hi + self.f_e > prot.normal_hi:
            tr.excursion = excursion_time(sol, self.f_e, prot, sol.end)
        if trip is None and (hi - lo) / prot.rocof_window > prot.rocof_limit:
            ts, g = tr.rocof_series(prot.rocof_window)
            over = np.nonzero(g > prot.rocof_limit)[0]
            if len(over):
                tr.trip = (float(ts[over[0]]), "rocof")
        return tr

    def _orbit_trip(self) -> tuple[float, str] | None:
        prot = self.bus.bp.prot
        o = self.orbit
        if len(o.f) == 1:
            lo = self.f_e
            if lo < prot.band_lo or lo > prot.band_hi:
                return self.settled_at + prot.trip_delay, \
                    "underfrequency" if lo < prot.band_lo else "overfrequency"
            return None
        run, start = o.longest_outside(self.f_e, prot.band_lo, prot.band_hi)
        if run >= prot.trip_delay:
            low = (o.f + self.f_e).min() < prot.band_lo
            t0 = self.settled_at + ((start - self.phase - self.settled_at) % o.period)
            return t0 + prot.trip_delay, "underfrequency" if low else "overfrequency"
        if o.rocof(prot.rocof_window) > prot.rocof_limit:
            return self.settled_at + prot.rocof_window, "rocof"
        return None

    def _no_machines(self) -> None:
        """No generators: the frequency is the grid's; the trip is the tie's or unserved."""
        bp, r = self.bus.bp, self.r
        deficit, surplus = r.runs
        if deficit >= bp.prot.trip_delay:
            self.trip = (min(bp.delay + bp.prot.trip_delay, self.horizon), "unserved")
        elif surplus >= bp.prot.trip_delay:
            self.trip = (min(bp.delay + bp.prot.trip_delay, self.horizon),
                         "grid_tie" if bp.grid_cap > 0 else "overfrequency")

    # -- results ------------------------------------------------------------------------------
    def state(self, t: float) -> tuple[float, float]:
        """(Δf, y) at time t of the segment (absolute)."""
        if self.tr is not None and t < self.settled_at:
            f, y = self.tr.sol.state(min(t, self.tr.sol.end))
        else:
            f, y = self.orbit.state(self.phase + t)
        return f + self.f_e, y + self.y_e

    def leave(self, t: float, supply: float | None = None) -> BusState:
        """The state this segment leaves at time t, with the dispatch then at ``supply`` (W,
        default: where it started). When the battery does not cover the residual, the move of
        the dispatch moves the droop equilibrium with it."""
        f, y = self.state(t)
        start = self.supply
        supply = start if supply is None else supply
        drift = supply - start if self.r.clipped and not self.drift else 0.0
        if drift and self.bus.modes is not None:
            fe, ye = self.bus.modes.equilibrium(self.r.mean - drift)
            f, y = f - self.f_e + fe, y - self.y_e + ye
        bp = self.bus.bp
        tg = bp.prot.step_window
        on = self.r.gens_mean(self.phase + t - tg, tg)
        T = bp.period
        if self.tr is None or t >= self.settled_at:
            past: tuple = ("o", self.r.key, round((self.phase + t) % T, 9), self.f_e)
        else:
            past = ("t", self.tr.key, round(t, 9), self.f_e)
        return BusState(f, y, self.load, supply, self.pd, self.pc, self.phase + t, on, self, t,
                        past)

    def f_many(self, times: np.ndarray) -> np.ndarray:
        """Absolute Δf at many times of the segment (s from its start)."""
        out = np.empty(len(times))
        if self.tr is not None:
            early = times < self.settled_at
            if early.any():
                out[early] = self.tr.sol.values(np.minimum(times[early], self.tr.sol.end))
        else:
            early = np.zeros(len(times), dtype=bool)
        late = ~early
        if late.any():
            out[late] = self.orbit.values(self.phase + times[late])
        return out + self.f_e

    def entry_rocof(self, upto: float) -> tuple[float, float]:
        """(largest windowed RoCoF over its first W s, the first time it exceeds the limit or
        inf): the windows that reach back into the previous segment."""
        prev = self.before
        prot = self.bus.bp.prot
        W = prot.rocof_window
        if prev is None:
            return 0.0, math.inf
        n = 100
        dt = W / n
        ts = np.arange(1, n + 1) * dt
        ts = ts[ts <= upto] if upto < W else ts
        if not len(ts):
            return 0.0, math.inf
        g = np.abs(self.f_many(ts) - prev.past(ts - W)) / W
        over = np.nonzero(g > prot.rocof_limit)[0]
        return float(g.max()), float(ts[over[0]]) if len(over) else math.inf

    def metrics(self, t: float, rocof_floor: float) -> tuple[float, float, float, float]:
        """Over [0, t]: (min Δf, max Δf, time outside the normal band, largest windowed RoCoF
        when above ``rocof_floor``)."""
        out = self._outcome
        if out is not None and t >= self.settled_at:
            if out[5] is None:  # once per outcome: everything but the orbit's share of time
                # (the RoCoF floor only rises within a run, so a value found under it holds)
                out[5] = self._metrics(self.settled_at, rocof_floor)
                out[4] = self._entry
            lo, hi, exc, roc = out[5]
            rest = t - self.settled_at
            if rest > 0 and len(self.orbit.f) > 1:
                prot = self.bus.bp.prot
                lo = min(lo, self.orbit.low + self.f_e)
                hi = max(hi, self.orbit.high + self.f_e)
                exc += rest * self.orbit.outside(self.f_e, prot.normal_lo, prot.normal_hi)
                roc = max(roc, self.orbit.rocof(prot.rocof_window))
            return lo, hi, exc, roc
        return self._metrics(t, rocof_floor)

    def _metrics(self, t: float, rocof_floor: float) -> tuple[float, float, float, float]:
        prot = self.bus.bp.prot
        lo = hi = self.f_e
        exc = roc = 0.0
        tr = self.tr
        if tr is not None:
            if t >= self.settled_at:
                lo, hi = tr.low + self.f_e, tr.high + self.f_e
                exc, roc = tr.excursion, tr.rocof(prot.rocof_window, rocof_floor)
            else:  # cut short: the part that happened
                sol = tr.sol
                a, b = _truncated_extrema(sol, t)
                lo, hi = a + self.f_e, b + self.f_e
                if lo < prot.normal_lo or hi > prot.normal_hi:
                    exc = excursion_time(sol, self.f_e, prot, t)
                if (b - a) / prot.rocof_window > rocof_floor:
                    ts, f = sol.sample(prot.rocof_window / 25, t)
                    roc = float(windowed_rocof(f, ts[1] - ts[0], prot.rocof_window).max())
        rest = t - self.settled_at
        if rest > 0 and len(self.orbit.f) > 1:
            lo = min(lo, self.orbit.low + self.f_e)
            hi = max(hi, self.orbit.high + self.f_e)
            exc += rest * self.orbit.outside(self.f_e, prot.normal_lo, prot.normal_hi)
            roc = max(roc, self.orbit.rocof(prot.rocof_window))
        if self._entry is None and self.before is not None \
                and self._entry_bound(lo, hi) > max(roc, rocof_floor):
            self._entry = self.entry_rocof(min(t, prot.rocof_window))
        if self._entry is not None:
            roc = max(roc, self._entry[0])
        return lo, hi, exc, roc

    def _entry_bound(self, lo: float, hi: float) -> float:
        """An upper bound of the windowed RoCoF across the boundary (Hz/s)."""
        prev = self.before
        assert prev is not None
        p_lo = p_hi = prev.f
        if prev.seg is not None:
            p_lo, p_hi = prev.seg.span
        return (max(hi, p_hi) - min(lo, p_lo)) / self.bus.bp.prot.rocof_window

    @property
    def span(self) -> tuple[float, float]:
        """(lowest, highest) Δf the segment can show (Hz), a cheap bound."""
        lo = hi = self.f_e
        if self.tr is not None:
            lo, hi = self.tr.low + self.f_e, self.tr.high + self.f_e
        if len(self.orbit.f) > 1:
            lo, hi = min(lo, self.orbit.low + self.f_e), max(hi, self.orbit.high + self.f_e)
        return lo, hi


def _command_key(load: Pwl, supply: float) -> tuple:
    """A load waveform against a level, as a key (W rounded)."""
    lo, hi, t_high, t_edge = load.shape
    return (round(lo - supply), round(hi - supply), t_high, t_edge)


def _snap(x: float, step: float) -> float:
    return round(x / step) * step


def _clamp(pieces: list[tuple[float, float, float]], lo: float, hi: float
           ) -> list[tuple[float, float, float]]:
    """clamp(u, lo, hi) of a piece list, cut where u crosses lo or hi."""
    out = []
    for h, v, s in pieces:
        cuts = [0.0, h]
        if s != 0:
            for level in (lo, hi):
                x = (level - v) / s
                if 0 < x < h:
                    cuts.append(x)
        cuts.sort()
        for a, b in itertools.pairwise(cuts):
            if b - a <= 0:
                continue
            mid = v + s * 0.5 * (a + b)
            if mid > hi:
                out.append((b - a, hi, 0.0))
            elif mid < lo:
                out.append((b - a, lo, 0.0))
            else:
                out.append((b - a, v + s * a, s))
    return out


def _cut(pieces: list[tuple[float, float, float]], like: list[tuple[float, float, float]]
         ) -> list[tuple[float, float, float]]:
    """``pieces`` re-cut at the breaks of ``like`` (same total span)."""
    return [(h, va, sa) for h, va, sa, _, _ in _merge(pieces, like)]


def _merge(a: list[tuple[float, float, float]], b: list[tuple[float, float, float]]):
    """Two piece lists over the same span, cut at the union of their breaks:
    (h, value_a, slope_a, value_b, slope_b)."""
    out = []
    i = j = 0
    ta = tb = 0.0
    t = 0.0
    while i < len(a) and j < len(b):
        ha, va, sa = a[i]
        hb, vb, sb = b[j]
        end = min(ta + ha, tb + hb)
        h = end - t
        if h > 1e-12:
            out.append((h, va + sa * (t - ta), sa, vb + sb * (t - tb), sb))
        t = end
        if ta + ha <= end + 1e-12:
            ta += ha
            i += 1
        if tb + hb <= end + 1e-12:
            tb += hb
            j += 1
    return out


def _truncated_extrema(sol: Solution, t: float) -> tuple[float, float]:
    from simulator.power.arcs import arc_extreme_values

    lo, hi = math.inf, -math.inf
    for t0, arc in sol.arcs:
        if t0 >= t:
            break
        h = arc.h
        arc.h = min(h, t - t0)
        for v in arc_extreme_values(arc):
            lo, hi = min(lo, v), max(hi, v)
        arc.h = h
    return (lo, hi) if math.isfinite(lo) else (0.0, 0.0)
