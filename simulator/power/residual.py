"""How the fast layer splits one periodic load against one dispatch.

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
(:mod:`simulator.power.frequency`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from simulator.power.arcs import FrequencyParams
from simulator.power.dispatch import Supply
from simulator.power.frequency import Orbit
from simulator.power.load import Trapezoid
from simulator.power.pieces import Pieces, snap
from simulator.power.protection import Protection, run_beyond, sustained
from simulator.power.waveform import Pwl

CACHE = 4096  # entries per cache
CACHE_SOLUTIONS = 1024  # entries of caches that hold whole transients (up to MBs each)
TOL_W = 1.0  # W: below this a residual is nothing
TIE_Q = 1e6  # W: the fast layer takes the grid dispatch (the tie's room) to this step ...
TIE_Q_SITE = 0.01  # ... or to this fraction of the site's peak load, if smaller


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
    tie_q: float = TIE_Q  # W: the step the tie's room is taken to (cache keys)

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
    memo: dict = field(default_factory=dict, repr=False)  # what is computed of it once

    @property
    def tie_range(self) -> tuple[float, float]:
        """(lowest, highest) the tie's fast share reaches (W); asked at every segment start."""
        got = self.memo.get("tie_range")
        if got is None:
            got = self.memo["tie_range"] = (self.tie.low, self.tie.high)
        return got

    def tie_rise(self, window: float) -> float:
        """Largest change of the tie's fast share over ``window`` s (W)."""
        key = ("tie", window)
        if key not in self.memo:
            self.memo[key] = self.tie.rise_within(window)
        return self.memo[key]

    def gens_mean(self, start: float, span: float) -> float:
        """Mean load on the generators over [start, start + span] (W)."""
        if span <= 0:
            return self.gens(start)
        if len(self.gens.x) == 1 and self.gens.left_v[0] == self.gens.right_v[0]:
            return self.gens.right_v[0]  # a constant (most segments): no memo needed
        key = ("avg", round(start % self.gens.period, 9), span)
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self.gens.integral(start, span) / span
        return got


class Lru(OrderedDict):
    """A bounded cache (least recently used out) of at most ``size`` entries."""

    def __init__(self, size: int = CACHE):
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)

    def get_or(self, key, make):
        hit = self.get(key)
        if hit is None:
            hit = make()
            self.put(key, hit)
        else:
            self.move_to_end(key)
        return hit


def load_pwl(load: Trapezoid, period: float) -> Pwl:
    """The load as a periodic piecewise-linear waveform, tagged with its shape (W, s)."""
    if load.is_constant:
        w = Pwl.constant(load.low, period)
        w.shape = (load.low, load.low, 0.0, 0.0)
    else:
        w = Pwl.trapezoid(load.low, load.high, load.t_high, load.t_edge, load.period)
        w.shape = (load.low, load.high, load.t_high, load.t_edge)
    return w


def constant_residual(bp: BusParams, b: float, tie: float, g: float, key: tuple,
                      clipped: bool) -> Residual:
    """The split of a constant load: battery b, tie, generators g (W)."""
    T = bp.period
    on = Pwl.constant(g, T)
    return Residual(Pwl.constant(b, T), Pwl.constant(tie, T), on, g, clipped,
                    Pwl.constant(0.0, T), key,
                    runs=(math.inf if g > TOL_W * 1e3 else 0.0,
                          math.inf if g < -TOL_W * 1e3 else 0.0))


def periodic_residual(bp: BusParams, load: Trapezoid, grid: float, supply: float, pd: float,
                      pc: float, key: tuple, clipped: bool) -> Residual:
    """The split of a periodic load against the supply I + G (W), the tie's room from the
    import ``grid`` (W), the battery's discharge/charge power pd/pc (W)."""
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
        r.runs = run_beyond(on_gens, TOL_W * 1e3)
    return r


def dispatch_drift(bp: BusParams, load: Trapezoid, r: Residual, pd: float, pc: float,
                   path: Supply, horizon: float, longest: float) -> Pieces:
    """For a load that the battery does not cover, the load left on the generators moves as
    the dispatch catches up: that input (minus its start value) as linear pieces,
    exact on the dispatch's ramps and chords of its exponential; at most ``longest`` s."""
    if not bp.has_gens or (not r.clipped and bp.bat_power > 0):
        return []
    # a periodic load: the move of its mean (the ripple rides on top, by superposition where
    # the tie and the battery stay within their limits)
    level = load.low if load.is_constant else load.mean
    end = min(path.settle_time(), horizon, longest)
    if end <= 0:
        return []

    def left(t: float) -> float:
        grid = snap(path.grid.at(t), bp.tie_q)
        c = level - path.at(t)
        b = min(max(c, -pc), pd) if bp.bat_power > 0 else 0.0
        w = c - b
        tie = min(max(w, -grid), bp.grid_cap - grid) if bp.grid_cap > 0 else 0.0
        return w - tie

    times = {0.0, end, *path.structural_cuts(end)}
    # where the battery's limits or the tie's bounds start or stop binding
    levels = [level - pd, level + pc]
    if bp.grid_cap > 0:
        levels += [level - pd - bp.grid_cap, level + pc]
    times.update(path.crossings(levels, end))
    tau = path.gens.tau if path.gens.tau > 0 else end
    k = 1
    while k * tau / 3 < end:
        times.add(k * tau / 3)
        k += 1
    ts = sorted(times)
    base = left(0.0)
    if all(abs(left(t) - base) < TOL_W for t in ts):
        return []
    vals = [left(t) - base for t in ts]
    return [(snap(b - a, 1e-9), snap(va, 1.0), snap((vb - va) / (b - a), 1.0))
            for a, b, va, vb in zip(ts, ts[1:], vals, vals[1:], strict=False) if b > a]
