"""Frequency of the site bus: swing equation, governor, and the iteration-rate oscillation.

When the generators carry a load w (W) beyond their dispatch, their rotors decelerate
(units: Δf in Hz, powers in W, M = 2·H·S/f0 in W·s/Hz, k = S/(R·f0) in W/Hz):

    M·dΔf/dt = y − w − D·Δf,      T_g·dy/dt = −k·Δf − y   (|dy/dt| ≤ r, y within headroom)

with H the aggregate inertia constant (s) on the generators' rating S (W), R the droop (pu),
T_g the governor time constant (s), r the governor's rate limit (W/s) and D the load damping.

Closed forms for a load step ΔP onto the generators at t = 0, from rest, linear regime:

* initial rate of change of frequency: dΔf/dt(0⁺) = −ΔP/M = −ΔP·f0/(2·H·S);
* droop steady state: Δf(∞) = −ΔP/(k + D) = −R·(ΔP/S)·f0 when D = 0;
* trajectory: Δf(t) = Δf(∞)·[1 − e^{σt}(cos ω_d t + B·sin ω_d t)], B = −(σ + (k + D)/M)/ω_d,
  for the under-damped case, λ = σ ± jω_d the roots of M·T_g·λ² + (M + D·T_g)·λ + (k + D) = 0;
* with a battery that takes the whole step after a delay T_b, the generators see ΔP only on
  [0, T_b]: the extreme is Δf(T_b) of the trajectory above (the governor has already
  turned the rotors round when T_b is shorter than the time to the nadir).

The iteration swing is periodic. Its load on the generators w̃(t) has the Fourier series
Σ c_n e^{jnω0t} (closed form: :mod:`simulator.power.waveform`), and in the linear regime

    Δf(t) = Σ_n G(jnω0)·c_n·e^{jnω0t},   G(s) = −(1 + s·T_g) / ((M·s + D)(1 + s·T_g) + k),

which gives the steady-state oscillation exactly, with no time stepping. Without a governor
response (r → 0, or D = k = 0) a square swing ±A of period T gives a triangle of amplitude
A·T/(4·M). When the series shows the governor would have to move faster than r, the
linear solution no longer applies and the periodic orbit is found instead by solving the
nonlinear equations exactly over one period (:mod:`simulator.power.arcs`) and iterating the
period map to its fixed point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulator.power.arcs import FrequencyParams, LinearModes
from simulator.power.arcsolve import Solution, integrate
from simulator.power.waveform import Pwl, synthesize

HARMONICS = 2048
SAMPLES = 4096


def transfer(p: FrequencyParams, omega: np.ndarray | float) -> np.ndarray | complex:
    """G(jω) = Δf/w (Hz per W of load on the generators)."""
    s = 1j * np.asarray(omega)
    return -(1 + s * p.tg) / ((p.m * s + p.d) * (1 + s * p.tg) + p.k)


@dataclass
class Orbit:
    """The periodic steady state of (Δf, y) under a zero-mean periodic load on the generators.

    Attributes:
        f, y: samples over one period at t_k = k·T/n (Hz, W), relative to the equilibrium of
            the mean load.
        period: T (s).
        linear: True when found from the Fourier series (the governor stays within its rate).
    """

    f: np.ndarray
    y: np.ndarray
    period: float
    linear: bool
    low: float = field(init=False)
    high: float = field(init=False)
    _memo: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.low, self.high = float(self.f.min()), float(self.f.max())
        self._f = self.f.tolist()
        self._y = self.y.tolist()

    @property
    def amplitude(self) -> float:
        """Half the peak-to-peak frequency swing (Hz)."""
        return 0.5 * (self.high - self.low)

    def state(self, t: float) -> tuple[float, float]:
        """(Δf, y) at time t (periodic), interpolated between samples."""
        f, y = self._f, self._y
        n = len(f)
        x = (t % self.period) / self.period * n
        i = int(x)
        a = x - i
        j = (i + 1) % n
        i %= n
        return f[i] + a * (f[j] - f[i]), y[i] + a * (y[j] - y[i])

    def values(self, t: np.ndarray) -> np.ndarray:
        """Δf at many times (periodic), interpolated between samples."""
        n = len(self.f)
        if n == 1:
            return np.full(len(t), float(self.f[0]))
        x = np.mod(t, self.period) / self.period * n
        return np.interp(x, np.arange(n + 1), np.append(self.f, self.f[0]))

    def rocof(self, window: float) -> float:
        """Largest |Δf(t) − Δf(t − window)| / window over the period (Hz/s)."""
        key = ("rocof", window)
        if key not in self._memo:
            self._memo[key] = self._rocof(window)
        return self._memo[key]

    def _rocof(self, window: float) -> float:
        n = len(self.f)
        shift = round((window % self.period) / self.period * n)
        if shift == 0:
            return 0.0
        return float(np.max(np.abs(self.f - np.roll(self.f, shift)))) / window

    def outside(self, offset: float, lo: float, hi: float) -> float:
        """Fraction of the period that offset + Δf(t) spends outside [lo, hi]."""
        if lo <= self.low + offset and self.high + offset <= hi:
            return 0.0
        key = ("out", offset, lo, hi)
        if key not in self._memo:
            g = self.f + offset
            self._memo[key] = float(np.mean((g < lo) | (g > hi)))
        return self._memo[key]

    def longest_outside(self, offset: float, lo: float, hi: float) -> tuple[float, float]:
        """(longest contiguous time outside [lo, hi] within a period, its start) in s, the
        period treated as repeating."""
        if lo <= self.low + offset and self.high + offset <= hi:
            return 0.0, 0.0
        key = ("run", offset, lo, hi)
        if key not in self._memo:
            self._memo[key] = self._longest(offset, lo, hi)
        return self._memo[key]

    def _longest(self, offset: float, lo: float, hi: float) -> tuple[float, float]:
        g = self.f + offset
        out = (g < lo) | (g > hi)
        n = len(out)
        if not out.any():
            return 0.0, 0.0
        if out.all():
            return math.inf, 0.0
        dt = self.period / n
        # rotate so that the sequence starts inside the band
        first_in = int(np.argmin(out))
        rolled = np.roll(out, -first_in)
        best = run = 0
        best_start = start = 0
        for k, v in enumerate(rolled):
            if v:
                if run == 0:
                    start = k
                run += 1
                if run > best:
                    best, best_start = run, start
            else:
                run = 0
        return best * dt, ((best_start + first_in) % n) * dt


def quiet_orbit(period: float) -> Orbit:
    z = np.zeros(1)
    return Orbit(z, z, period, True)


def periodic_orbit(p: FrequencyParams, modes: LinearModes, ripple: Pwl,
                   y_lo: float = -math.inf, y_hi: float = math.inf) -> Orbit:
    """The steady oscillation driven by ``ripple`` (zero mean, W): the Fourier series through
    G(jω) when the governor keeps within its rate limit, else the exact periodic orbit."""
    T = ripple.period
    coeffs = ripple.fourier(HARMONICS)
    coeffs[0] = 0.0
    n = np.arange(HARMONICS + 1)
    omega = 2 * math.pi / T * n
    g = transfer(p, omega)
    fc = g * coeffs
    gov = -p.k / (1 + 1j * omega * p.tg)
    yc = gov * fc
    f = synthesize(fc, SAMPLES)
    y = synthesize(yc, SAMPLES)
    ydot = synthesize(1j * omega * yc, SAMPLES)
    if np.max(np.abs(ydot)) <= p.rate * (1 + 1e-9) and y.max() <= y_hi and y.min() >= y_lo:
        return Orbit(f, y, T, True)
    return _shooting(p, modes, ripple, float(f[0]), float(y[0]), y_lo, y_hi)


def _period_map(modes: LinearModes, ripple: Pwl, f0: float, y0: float, y_lo: float,
                y_hi: float) -> tuple[Solution, float, float]:
    sol = integrate(modes, f0, y0, ripple.pieces(0.0, ripple.period), y_lo, y_hi)
    f1, y1 = sol.state(sol.end)
    return sol, f1, y1


def _shooting(p: FrequencyParams, modes: LinearModes, ripple: Pwl, f0: float, y0: float,
              y_lo: float, y_hi: float, samples: int = 1024) -> Orbit:
    """The attractor of the one-period map. First its fixed point, from the linear orbit's
    start; when there is none that attracts (a rate-limited governor near resonance can lock
    into a response that repeats only every q iteration periods, a subharmonic), the map is
    iterated until the state nearly repeats after q periods, and the fixed point of the
    q-fold map is solved from there: the orbit spans those q periods. Such a response can
    have more than one attractor; the one taken is the one reached from the droop
    equilibrium (Δf, y) = (0, 0) at phase 0, the state of a bus that was at rest at the mean
    load, and the orbit's time origin is aligned with that start."""
    T = ripple.period
    yscale = max(p.k, 1.0)

    def size(rf: float, ry: float) -> float:
        return abs(rf) + abs(ry) / yscale

    def fold(q: int) -> Callable[[float, float], tuple[float, float]]:
        def go(f: float, y: float) -> tuple[float, float]:
            for _ in range(q):
                _, f, y = _period_map(modes, ripple, f, y, y_lo, y_hi)
            return f, y
        return go

    periods, shift = 1, 0
    found = _fixed_point(fold(1), f0, y0, size, yscale)
    if found is None:
        periods, f0, y0, shift = _cycle(fold(1), 0.0, 0.0, size)
        found = _fixed_point(fold(periods), f0, y0, size, yscale)
    if found is not None:
        f0, y0 = found
    span = periods * T
    t = np.arange(samples) * (T / samples)
    fs, ys = [], []
    for _ in range(periods):
        sol, f0, y0 = _period_map(modes, ripple, f0, y0, y_lo, y_hi)
        f, y = sol.states(t)
        fs.append(f)
        ys.append(y)
    roll = (shift % periods) * samples
    return Orbit(np.roll(np.concatenate(fs), roll), np.roll(np.concatenate(ys), roll), span,
                 False)


_NEWTON_STEPS = 10
_FIXED_TOL = 1e-10  # Hz (+ W / k): the residual of a fixed point
_NEAR_TOL = 1e-4  # Hz (+ W / k): a near repeat that hands over to Newton
_CYCLE_MAX = 12  # periods: the longest subharmonic looked for
_CYCLE_RUN = 400  # periods iterated to reach the attractor


def _fixed_point(step: Callable[[float, float], tuple[float, float]], f0: float, y0: float,
                 size: Callable[[float, float], float], yscale: float
                 ) -> tuple[float, float] | None:
    """Fixed point of ``step`` by Newton (finite-difference Jacobian) where it shrinks the
    residual, plain iteration (the real dynamics) where it does not; None when it does not
    converge within _NEWTON_STEPS."""
    f1, y1 = step(f0, y0)
    res = size(f1 - f0, y1 - y0)
    for _ in range(_NEWTON_STEPS):
        if res < _FIXED_TOL:
            return f0, y0
        rf, ry = f1 - f0, y1 - y0
        hf, hy = 1e-7, 1e-7 * yscale
        fa, ya = step(f0 + hf, y0)
        fb, yb = step(f0, y0 + hy)
        j11, j21 = (fa - f1) / hf - 1.0, (ya - y1) / hf
        j12, j22 = (fb - f1) / hy, (yb - y1) / hy - 1.0
        det = j11 * j22 - j12 * j21
        moved = False
        if abs(det) > 1e-300:
            fn = f0 + (-rf * j22 + ry * j12) / det
            yn = y0 + (-j11 * ry + j21 * rf) / det
            fn1, yn1 = step(fn, yn)
            new_res = size(fn1 - fn, yn1 - yn)
            if new_res < res:
                f0, y0, f1, y1, res, moved = fn, yn, fn1, yn1, new_res, True
        if not moved:
            f0, y0 = f1, y1
            f1, y1 = step(f0, y0)
            res = size(f1 - f0, y1 - y0)
    return (f0, y0) if res < _FIXED_TOL else None


def _cycle(step: Callable[[float, float], tuple[float, float]], f0: float, y0: float,
           size: Callable[[float, float], float]) -> tuple[int, float, float, int]:
    """Iterates the period map ``step`` from (f0, y0) until the state nearly repeats after
    q ≤ _CYCLE_MAX periods: (q, the state there in Hz and W, the periods iterated to reach
    it). A response that never repeats (quasi-periodic or chaotic) is represented by its last
    _CYCLE_MAX periods."""
    hist = [(f0, y0)]
    for n in range(1, _CYCLE_RUN + 1):
        f0, y0 = step(f0, y0)
        for q in range(1, min(_CYCLE_MAX, len(hist)) + 1):
            fq, yq = hist[-q]
            if size(f0 - fq, y0 - yq) < _NEAR_TOL:
                return q, f0, y0, n
        hist.append((f0, y0))
    return _CYCLE_MAX, f0, y0, _CYCLE_RUN
