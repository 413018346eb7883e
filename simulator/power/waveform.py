"""Periodic piecewise-linear waveforms and their Fourier series, in closed form.

Every fast power signal of the plant within a compute segment is periodic with the iteration
period T (s) and piecewise linear in time: the trapezoid load, the battery's output delayed
by its response time and clipped at its power limit, the residual that the grid tie or the
generators must carry. :class:`Pwl` holds one period as knots x_0 = 0 < x_1 < ... < x_p < T,
each with a left and a right value (they differ at a jump); between knots the value is linear.
Values are in W (the operations do not care about the unit).

Fourier series v(t) = Σ_n c_n e^{j n ω0 t}, ω0 = 2π/T. Integrating by parts twice over one
period, with J_i the jump of v and K_i the jump of its slope at knot x_i:

    c_0 = (1/T) ∫ v dt,
    c_n = (1/T) Σ_i [ J_i / (j n ω0) + K_i / (j n ω0)² ] e^{−j n ω0 x_i}     (n ≥ 1),

exact for any number of harmonics: no time stepping.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

_EPS_T = 1e-12  # s: knots closer than this are the same instant


class Pwl:
    """One period of a periodic piecewise-linear waveform.

    Args:
        x: knot times (s), strictly increasing, starting at 0, below ``period``.
        left, right: the value just before and just after each knot.
        period: T (s).
    """

    __slots__ = ("left_v", "period", "right_v", "shape", "x")

    def __init__(self, x: list[float], left: list[float], right: list[float], period: float):
        self.x, self.left_v, self.right_v, self.period = x, left, right, period
        self.shape: tuple = ()  # (low, high, t_high, t_edge, t_fall) from a trapezoid

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def constant(value: float, period: float) -> Pwl:
        return Pwl([0.0], [value], [value], period)

    @staticmethod
    def from_points(t: list[float], v: list[float], period: float) -> Pwl:
        """From knots ``(t_i, v_i)`` covering [0, T] (a jump: two knots at one time; the
        value at T closes the period)."""
        x: list[float] = []
        lv: list[float] = []
        rv: list[float] = []
        for ti, vi in zip(t, v, strict=True):
            if ti >= period - _EPS_T:
                break
            if x and ti - x[-1] <= _EPS_T:
                rv[-1] = vi
            else:
                x.append(ti)
                lv.append(vi)
                rv.append(vi)
        # the value just before T (the first knot at T) is the left value at 0
        end = next((vi for ti, vi in zip(t, v, strict=True) if ti >= period - _EPS_T), v[-1])
        if not x or x[0] > _EPS_T:
            x.insert(0, 0.0)
            lv.insert(0, end)
            rv.insert(0, end if not rv else rv[0])
        else:
            lv[0] = end
        return Pwl(x, lv, rv, period)

    @staticmethod
    def trapezoid(low: float, high: float, t_high: float, t_edge: float, period: float,
                  phase: float = 0.0, t_fall: float | None = None) -> Pwl:
        """``high`` for ``t_high`` (from t = 0), a linear fall over ``t_fall`` (default
        ``t_edge``), ``low``, a linear rise over ``2·t_edge − t_fall``; ``phase`` (s) advances
        it: the value at t is the trapezoid's at t + phase."""
        if high <= low:
            return Pwl.constant(low, period)
        fall = t_edge if t_fall is None else t_fall
        t_low = period - t_high - 2 * t_edge
        t = [0.0, t_high, t_high + fall, t_high + fall + t_low, period]
        w = Pwl.from_points(t, [high, high, low, low, high], period)
        return w.advance(phase) if phase else w

    # -- evaluation ---------------------------------------------------------------------------
    def _piece(self, x: float) -> int:
        return bisect.bisect_right(self.x, x) - 1

    def __call__(self, t: float) -> float:
        """Value at time t (any real; the waveform repeats); at a jump the value after it."""
        x = t % self.period
        i = self._piece(x)
        xs = self.x
        if abs(x - xs[i]) <= _EPS_T:
            return self.right_v[i]
        x1 = xs[i + 1] if i + 1 < len(xs) else self.period
        if x1 - x <= _EPS_T:  # the same instant as the next knot (rounding): after it
            return self.right_v[i + 1] if i + 1 < len(xs) else self.right_v[0]
        v1 = self.left_v[i + 1] if i + 1 < len(xs) else self.left_v[0]
        return self.right_v[i] + (v1 - self.right_v[i]) * (x - xs[i]) / (x1 - xs[i])

    def before(self, t: float) -> float:
        """Value just before time t (the left limit at a jump)."""
        x = t % self.period
        i = bisect.bisect_left(self.x, x - _EPS_T)
        if i < len(self.x) and abs(self.x[i] - x) <= _EPS_T:
            return self.left_v[i]
        if x <= _EPS_T:
            return self.left_v[0]
        return self(x)

    @property
    def mean(self) -> float:
        xs, lv, rv, T = self.x, self.left_v, self.right_v, self.period
        n = len(xs)
        area = 0.0
        for i in range(n):
            x1, v1 = (xs[i + 1], lv[i + 1]) if i + 1 < n else (T, lv[0])
            area += (x1 - xs[i]) * (rv[i] + v1)
        return 0.5 * area / T

    @property
    def high(self) -> float:
        return max(max(self.left_v), max(self.right_v))

    @property
    def low(self) -> float:
        return min(min(self.left_v), min(self.right_v))

    def key(self, digits: int = 3) -> tuple:
        """Hashable, rounded description (caches of responses to this waveform)."""
        return (round(self.period, 9), tuple(round(x, 9) for x in self.x),
                tuple(round(x, digits) for x in self.left_v),
                tuple(round(x, digits) for x in self.right_v))

    # -- operations (each returns a new waveform) ---------------------------------------------
    def advance(self, dt: float) -> Pwl:
        """u(t) = self(t + dt)."""
        T = self.period
        dt %= T
        if dt <= _EPS_T or T - dt <= _EPS_T:
            return Pwl(list(self.x), list(self.left_v), list(self.right_v), T)
        pts = [((x - dt) % T, lv, rv) for x, lv, rv in zip(self.x, self.left_v, self.right_v,
                                                          strict=True)]
        pts.sort()
        if pts[0][0] > _EPS_T and T - pts[-1][0] > _EPS_T:
            value = self(dt)
            pts.insert(0, (0.0, value, value))
        elif T - pts[-1][0] <= _EPS_T:  # rounding put a knot at T: it is the knot at 0
            _x, lv, rv = pts.pop()
            pts.insert(0, (0.0, lv, rv))
        return Pwl([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], T)

    def delay(self, dt: float) -> Pwl:
        """u(t) = self(t − dt)."""
        return self.advance(-dt)

    def shift(self, dv: float) -> Pwl:
        return Pwl(list(self.x), [v + dv for v in self.left_v], [v + dv for v in self.right_v],
                   self.period)

    def clip(self, lo: float, hi: float) -> Pwl:
        """min(max(u, lo), hi), with knots added where u crosses ``lo`` or ``hi``."""
        xs, lv, rv, T = self.x, self.left_v, self.right_v, self.period
        n = len(xs)
        ox: list[float] = []
        ol: list[float] = []
        orr: list[float] = []
        for i in range(n):
            ox.append(xs[i])
            ol.append(min(max(lv[i], lo), hi))
            orr.append(min(max(rv[i], lo), hi))
            x0, v0 = xs[i], rv[i]
            x1, v1 = (xs[i + 1], lv[i + 1]) if i + 1 < n else (T, lv[0])
            if v1 == v0:
                continue
            cross = [x0 + (level - v0) * (x1 - x0) / (v1 - v0) for level in (lo, hi)
                     if (v0 - level) * (v1 - level) < 0]
            for c in sorted(cross):
                if x0 + _EPS_T < c < x1 - _EPS_T:
                    val = min(max(v0 + (v1 - v0) * (c - x0) / (x1 - x0), lo), hi)
                    ox.append(c)
                    ol.append(val)
                    orr.append(val)
        return Pwl(ox, ol, orr, T)

    def combine(self, other: Pwl, a: float = 1.0, b: float = 1.0) -> Pwl:
        """a·self + b·other on the union of the knots (same period)."""
        xs = sorted(set(self.x) | set(other.x))
        merged: list[float] = []
        for x in xs:
            if not merged or x - merged[-1] > _EPS_T:
                merged.append(x)
        left = [a * self.before(x) + b * other.before(x) for x in merged]
        right = [a * self(x) + b * other(x) for x in merged]
        return Pwl(merged, left, right, self.period)

    def jumps(self) -> list[tuple[float, float]]:
        """(time, size) of every jump."""
        return [(x, r - lv) for x, lv, r in zip(self.x, self.left_v, self.right_v, strict=True)
                if r != lv]

    def rise_within(self, window: float) -> float:
        """Largest |u(t) − u(t − window)| over the period: the largest change within
        ``window`` s (the largest jump when ``window`` is 0)."""
        if window <= 0:
            return max((abs(s) for _, s in self.jumps()), default=0.0)
        diff = self.combine(self.delay(window), 1.0, -1.0)
        return max(max(abs(v) for v in diff.left_v), max(abs(v) for v in diff.right_v))

    def samples(self, n: int) -> np.ndarray:
        """Values at n equally spaced times over the period (t_k = k·T/n)."""
        T = self.period
        xs = np.asarray([*self.x, T])
        rv = np.asarray(self.right_v)
        lv = np.asarray([*self.left_v[1:], self.left_v[0]])
        t = np.arange(n) * (T / n)
        i = np.searchsorted(xs, t, side="right") - 1
        span = xs[i + 1] - xs[i]
        return rv[i] + (lv[i] - rv[i]) * (t - xs[i]) / span

    def pieces(self, start: float, duration: float, offset: float = 0.0
               ) -> list[tuple[float, float, float]]:
        """Linear pieces (duration s, value at its start, slope per s) of u(t) − offset for t
        in [start, start + duration], cut at the knots."""
        T = self.period
        xs, lv, rv = self.x, self.left_v, self.right_v
        n = len(xs)
        out: list[tuple[float, float, float]] = []
        # work in one period's time from the start (large run times lose the knots' precision)
        x = start % T
        left = duration
        i = max(bisect.bisect_right(xs, x + 1e-12) - 1, 0)
        while left > 1e-12:
            x_next = xs[i + 1] if i + 1 < n else T
            v1 = lv[i + 1] if i + 1 < n else lv[0]
            span = x_next - xs[i]
            slope = (v1 - rv[i]) / span if span > 0 else 0.0
            h = min(x_next - x, left)
            if h > 1e-12:
                out.append((h, rv[i] + slope * (x - xs[i]) - offset, slope))
            left -= max(h, 0.0)
            # on to the next knot (wrapping at the period's end)
            i += 1
            if i >= n:
                i = 0
                x = 0.0
            else:
                x = xs[i]
        return out

    def integral(self, start: float, duration: float) -> float:
        """∫ u dt over [start, start + duration]."""
        return sum(h * (v + 0.5 * s * h) for h, v, s in self.pieces(start, duration))

    # -- Fourier series -----------------------------------------------------------------------
    def fourier(self, harmonics: int) -> np.ndarray:
        """Coefficients c_0 ... c_N of v(t) = Σ_{n=−N}^{N} c_n e^{j n ω0 t} (c_{−n} = c̄_n)."""
        T = self.period
        xs = np.asarray(self.x)
        rv = np.asarray(self.right_v)
        lv = np.asarray(self.left_v)
        x_next = np.append(xs[1:], T)
        lv_next = np.append(lv[1:], lv[0])
        slope = (lv_next - rv) / (x_next - xs)
        jump = rv - lv
        kink = slope - np.roll(slope, 1)
        n = np.arange(1, harmonics + 1)
        jw = 1j * (2 * math.pi / T) * n
        phase = np.exp(-np.outer(jw, xs))
        c = (phase @ jump / jw + phase @ kink / jw**2) / T
        return np.concatenate(([complex(self.mean)], c))


def synthesize(coeffs: np.ndarray, samples: int) -> np.ndarray:
    """Values at ``samples`` equally spaced times over one period (t_k = k·T/samples) of the
    series with coefficients c_0 ... c_N (harmonics above samples/2 are dropped)."""
    spectrum = np.zeros(samples // 2 + 1, dtype=complex)
    k = min(len(coeffs) - 1, samples // 2 - 1)
    spectrum[: k + 1] = coeffs[: k + 1]
    return np.fft.irfft(spectrum * samples, n=samples)
