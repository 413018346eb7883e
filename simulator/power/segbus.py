"""The site bus during one segment: the droop equilibrium, the orbit, the transient from
the previous segment's state, the predicted trip, and the frequency metrics.

The generators' load w_g = m + w̃(t) (:mod:`simulator.power.residual`) sets the droop
equilibrium Δf_e = −m/(k + D) (Hz) and, through its ripple w̃, the periodic orbit
(:mod:`simulator.power.frequency`). A segment starts from the state the previous one left;
the transient (:mod:`simulator.power.transient`) carries it to the orbit. Protection acts on
both: a lasting step beyond the generators' block-load acceptance (its T_g-moving average),
the frequency band for longer than the trip delay, and the windowed RoCoF, including the
windows that reach back across the boundary. Whole outcomes of a start are cached: the same
start recurs at every checkpoint and restart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulator.power.dispatch import Supply
from simulator.power.frequency import Orbit
from simulator.power.pieces import snap
from simulator.power.protection import excursion_time, windowed_rocof
from simulator.power.residual import TIE_Q, Residual
from simulator.power.transient import (
    TRANSIENT_MAX_S,
    Transient,
    solve_transient,
    truncated_extrema,
)
from simulator.power.waveform import Pwl

if TYPE_CHECKING:
    from simulator.power.bus import Bus

ON_ORBIT_F = 1e-3  # Hz: a start this close to the new orbit starts on it (no transient)
EARLY_W = 1e6  # W: a dispatch move within the battery's delay below this is left out


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
    f_e: float = 0.0  # Hz: the droop equilibrium at the start (the transient's reference)
    y_e: float = 0.0  # W: the governor's response there
    f_o: float = 0.0  # Hz: the equilibrium the orbit holds about, once the dispatch has moved
    y_o: float = 0.0  # W
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
            self.early = round(early, 0) if abs(early) > EARLY_W else 0.0
        if not bp.has_gens:
            self._no_machines()
            return
        assert bp.freq is not None and bus.modes is not None
        self.f_e, self.y_e = bus.modes.equilibrium(r.mean)
        self.f_o, self.y_o = self.f_e, self.y_e
        if self.drift:  # the dispatch's move shifts the equilibrium by its final input
            h, v, sl = self.drift[-1]
            self.f_o, self.y_o = bus.modes.equilibrium(r.mean + v + sl * h)
        # the governor may shed the machines below their minimum stable load for seconds
        # (that limit is the dispatch's), not below zero output, nor above capacity
        y_lo = -self.gens - self.y_e
        y_hi = bp.gen_cap - self.gens - self.y_e
        prev = self.before
        window: list[tuple[float, float, float]] = []
        z0 = (0.0, 0.0)
        sig = None
        if prev is not None:
            z0 = (snap(prev.f - self.f_e, 1e-7), snap(prev.y - self.y_e, 1.0))
            wkey = bus.window_key(self, prev)
            # the whole outcome of a start is a function of these: repeated starts (every
            # checkpoint and restart) cost one lookup
            sig = (wkey, z0, round(min(self.horizon, TRANSIENT_MAX_S), 3), tuple(self.drift),
                   prev.past_key)
            hit = bus.outcomes.get(sig)
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
            bus.outcomes.put(sig, self._outcome)

    def _start(self, window: list[tuple[float, float, float]], z0: tuple[float, float],
               y_lo: float, y_hi: float) -> None:
        """Block steps, then the frequency's verdicts."""
        bp, r = self.bus.bp, self.r
        tg = bp.prot.step_window
        block = None
        if self.step > bp.prot.block_step:
            # the T_g-moving average of a lasting step crosses the limit part-way
            block = (min(tg * bp.prot.block_step / self.step, self.horizon), "block_step")
        elif r.sustained_rise > bp.prot.block_step:
            block = (min(bp.delay + tg, self.horizon), "block_step")
        if block is not None:  # the segment ends there at the latest
            self.horizon = block[0]
        self._frequency(window, z0, y_lo, y_hi)
        # every criterion watches the same step: the first to fire trips
        if block is not None and (self.trip is None or block[0] <= self.trip[0]):
            self.trip = block

    def _frequency(self, window: list[tuple[float, float, float]], z0: tuple[float, float],
                   y_lo: float, y_hi: float) -> None:
        """The transient (cached), the entry RoCoF and the orbit's verdict."""
        bus, bp, r = self.bus, self.bus.bp, self.r
        prev = self.before
        # inputs snapped to a fine grid, so that equal keys mean equal computations
        mean = r.mean
        shifted = [(h, snap(v - mean, 1.0), sl) for h, v, sl in window]
        y_lo, y_hi = snap(y_lo, TIE_Q), snap(y_hi, TIE_Q)
        if self._on_orbit(z0, shifted):
            self.settled_at = 0.0
        else:
            # a solution that never touched the headroom bounds holds for any bounds beyond its
            # reach: look it up without them, then check
            at = 0.0 if len(self.orbit.f) == 1 else round(self.phase % bp.period, 9)
            key = (r.key, at, z0, tuple(shifted),
                   round(min(self.horizon, TRANSIENT_MAX_S), 3), tuple(self.drift))
            tr = bus.transients.get(key)
            if tr is None or not (y_lo < tr.y_low and tr.y_high < y_hi):
                tr = bus.transients.get((*key, y_lo, y_hi))
            if tr is None:
                assert bus.modes is not None
                ripple = None if len(self.orbit.f) == 1 else r.ripple
                tr = solve_transient(bus.modes, bp.prot, ripple, self.phase, self.f_e, z0,
                                     shifted, self.drift, self.horizon, y_lo, y_hi)
                free = y_lo < tr.y_low and tr.y_high < y_hi
                tr.key = key if free else (*key, y_lo, y_hi)
                bus.transients.get_or(tr.key, lambda: tr)
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
        if self.drift:  # the dispatch moves the equilibrium: never on the orbit yet
            return False
        bp = self.bus.bp
        of, oy = self.orbit.state(self.phase)
        if abs(z0[0] - of) > ON_ORBIT_F or abs(z0[1] - oy) > ON_ORBIT_F * bp.freq.k:
            return False
        if not window:
            return True
        # the window's input against what the orbit assumed there, as a frequency kick
        kick = 0.0
        t = self.phase
        for h, v, sl in window:
            kick += abs(h * (v + 0.5 * sl * h) - self.r.ripple.integral(t, h))
            t += h
        return kick / bp.freq.m < ON_ORBIT_F

    def _orbit_trip(self) -> tuple[float, str] | None:
        prot = self.bus.bp.prot
        o = self.orbit
        if len(o.f) == 1:
            lo = self.f_o
            if lo < prot.band_lo or lo > prot.band_hi:
                return self.settled_at + prot.trip_delay, \
                    "underfrequency" if lo < prot.band_lo else "overfrequency"
            return None
        run, start = o.longest_outside(self.f_o, prot.band_lo, prot.band_hi)
        if run >= prot.trip_delay:
            low = (o.f + self.f_o).min() < prot.band_lo
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
            return f + self.f_e, y + self.y_e
        f, y = self.orbit.state(self.phase + t)
        return f + self.f_o, y + self.y_o

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
            f, y = f - self.f_o + fe, y - self.y_o + ye
        bp = self.bus.bp
        tg = bp.prot.step_window
        on = self.r.gens_mean(self.phase + t - tg, tg)
        T = bp.period
        if self.tr is None or t >= self.settled_at:
            # on a quiet orbit (a flat frequency) the waveform time makes no difference
            at = 0.0 if len(self.orbit.f) == 1 else round((self.phase + t) % T, 9)
            past: tuple = ("o", self.r.key, at, self.f_o)
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
                out[early] = self.f_e + self.tr.sol.values(np.minimum(times[early],
                                                                      self.tr.sol.end))
        else:
            early = np.zeros(len(times), dtype=bool)
        late = ~early
        if late.any():
            out[late] = self.f_o + self.orbit.values(self.phase + times[late])
        return out

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
            return self._settled_part(lo, hi, exc, roc, t - self.settled_at)
        return self._metrics(t, rocof_floor)

    def _settled_part(self, lo: float, hi: float, exc: float, roc: float, rest: float
                      ) -> tuple[float, float, float, float]:
        """The metrics with ``rest`` s on the orbit (or at the final equilibrium) added."""
        if rest <= 0:
            return lo, hi, exc, roc
        prot = self.bus.bp.prot
        o = self.orbit
        lo, hi = min(lo, o.low + self.f_o), max(hi, o.high + self.f_o)
        exc += rest * o.outside(self.f_o, prot.normal_lo, prot.normal_hi)
        if len(o.f) > 1:
            roc = max(roc, o.rocof(prot.rocof_window))
        return lo, hi, exc, roc

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
                a, b = truncated_extrema(sol, t)
                lo, hi = a + self.f_e, b + self.f_e
                if lo < prot.normal_lo or hi > prot.normal_hi:
                    exc = excursion_time(sol, self.f_e, prot, t)
                if (b - a) / prot.rocof_window > rocof_floor:
                    ts, f = sol.sample(prot.rocof_window / 25, t)
                    roc = float(windowed_rocof(f, ts[1] - ts[0], prot.rocof_window).max())
        lo, hi, exc, roc = self._settled_part(lo, hi, exc, roc, t - self.settled_at)
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
            lo, hi = min(lo, self.orbit.low + self.f_o), max(hi, self.orbit.high + self.f_o)
        return lo, hi
