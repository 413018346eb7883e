"""The site bus of one plant: builds and caches what its segments share.

Residuals (:mod:`simulator.power.residual`), periodic orbits
(:mod:`simulator.power.frequency`), the battery-delay windows of segment starts and their
transients (:mod:`simulator.power.transient`) recur across thousands of segments (every
checkpoint and restart repeats the same start), so each is computed once per distinct key.
A segment's own bus is a :class:`~simulator.power.segbus.SegmentBus`.
"""

from __future__ import annotations

from simulator.power.arcs import LinearModes
from simulator.power.dispatch import Supply
from simulator.power.frequency import Orbit, periodic_orbit, quiet_orbit
from simulator.power.load import Trapezoid
from simulator.power.pieces import snap
from simulator.power.residual import (
    CACHE_SOLUTIONS,
    TOL_W,
    BusParams,
    Lru,
    Residual,
    constant_residual,
    dispatch_drift,
    load_pwl,
    periodic_residual,
)
from simulator.power.segbus import BusState, SegmentBus
from simulator.power.transient import TRANSIENT_MAX_S, start_window
from simulator.power.waveform import Pwl

__all__ = ["Bus", "BusParams", "BusState", "SegmentBus"]


class Bus:
    """Builds and caches residuals, orbits and transients for one plant."""

    def __init__(self, bp: BusParams):
        self.bp = bp
        self.modes = LinearModes(bp.freq) if bp.freq is not None else None
        self._residuals = Lru()
        self._orbits = Lru()
        self.transients = Lru(CACHE_SOLUTIONS)
        self._windows = Lru()
        self.outcomes = Lru(CACHE_SOLUTIONS)
        self._loads: dict[tuple, Pwl] = {}
        self._quiet = quiet_orbit(bp.period)

    # -- the split ----------------------------------------------------------------------------
    def residual(self, load: Trapezoid, grid: float, gens: float, pd: float, pc: float) -> Residual:
        bp = self.bp
        # the tie's bounds to 1 MW (cache hits; the supply level itself stays exact)
        supply = grid + gens
        grid = snap(grid, bp.tie_q)
        if load.is_constant:
            # everything is a constant: the split in closed form, keyed by its result
            c = load.low - supply
            b = min(max(c, -pc), pd) if bp.bat_power > 0 else 0.0
            w = c - b
            tie = min(max(w, -grid), bp.grid_cap - grid) if bp.grid_cap > 0 else 0.0
            g = snap(w - tie, 1.0)
            clipped = abs(w) > 1e-6  # the battery does not take it all
            key = ("k", g, round(tie, 0), clipped)
            return self._residuals.get_or(key, lambda: constant_residual(bp, b, tie, g, key, clipped))
        unclipped = load.low - supply >= -pc - 1e-9 and load.high - supply <= pd + 1e-9
        shape = (round(load.high - load.low, 3), load.t_high, load.t_edge, load.period)
        if unclipped:
            # the battery follows the command exactly, late by T_b: w = L(t) − L(t − T_b),
            # whatever the levels; only the tie's room depends on them
            key = ("u", shape, grid, bp.grid_cap - grid)
        else:
            key = ("c", round(load.low, 0), shape, grid, round(gens, 0), round(pd, 0),
                   round(pc, 0))
        return self._residuals.get_or(key, lambda: periodic_residual(
            bp, load, grid, supply, pd, pc, key, not unclipped))

    def orbit(self, r: Residual) -> Orbit:
        if r.orbit is not None:
            return r.orbit
        if not self.bp.has_gens or r.ripple.high - r.ripple.low < TOL_W:
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
        # a constant waveform has no phase: leaving it out lets such starts share a window
        return (loads, _phase_key(prev.load, prev.phase, bp.period),
                _phase_key(seg.load, seg.phase, bp.period), seg.grid, seg.r.key, seg.early)

    def window(self, seg: SegmentBus, prev: BusState, key: tuple
               ) -> tuple[list[tuple[float, float, float]], float]:
        """The generators' load while the battery still delivers its old output (pieces over
        [0, T_b), snapped), and its mean over the first governor time (W)."""
        bp = self.bp
        got = self._windows.get(key)
        if got is None:
            raw = [] if bp.delay <= 0 or bp.bat_power <= 0 else start_window(
                seg.load, seg.phase, seg.supply, seg.path, bool(seg.early), prev.load,
                prev.phase, prev.supply, prev.pd, prev.pc, bp.delay, seg.grid, bp.grid_cap)
            pieces = [(snap(h, 1e-9), v, snap(sl, 1.0)) for h, v, sl in raw]
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
        drift = dispatch_drift(self.bp, load, r, pd, pc, path, horizon, TRANSIENT_MAX_S * 10) \
            if path is not None else []
        return SegmentBus(self, r, self.load_pwl(load), phase, snap(grid, self.bp.tie_q), gens,
                          pd, pc, before, horizon, grid + gens, drift, path)


def _phase_key(load: Pwl, phase: float, period: float) -> float:
    """A waveform time as a key (s): 0 for a constant waveform, where it makes no difference."""
    lo, hi, _, _ = load.shape
    return 0.0 if hi <= lo else round(phase % period, 9)


def _command_key(load: Pwl, supply: float) -> tuple:
    """A load waveform against a level, as a key (W rounded)."""
    lo, hi, t_high, t_edge = load.shape
    return (round(lo - supply), round(hi - supply), t_high, t_edge)
