"""Oscillation screening: how much of the iteration swing each source sees, band by band.

During a compute segment the facility load L(t) and what the grid tie and the generators carry
of it after the battery are periodic with the iteration period T (s) and piecewise linear
(:class:`simulator.power.waveform.Pwl`). Each has an exact Fourier series, no time stepping:

    v(t) = c_0 + Σ_{n≥1} A_n · cos(2π n t / T + φ_n),    A_n = 2·|c_n| (W),    f_n = n / T (Hz).

The amplitude of a band [f_lo, f_hi] (Hz) is the largest A_n with f_lo ≤ f_n ≤ f_hi: the peak
of the largest sinusoid in the band, which is what a spectral mask compares with its limit (W,
or a fraction of the segment's peak facility load).

Closed forms (used by the tests). A trapezoid of swing ΔP (W), time at the high level t_h and
linear edges t_e (s) is a rectangular pulse of width w = t_h + t_e smoothed by a box of width
t_e, so

    A_n = 2·ΔP·(w/T) · |sinc(n·w/T)| · |sinc(n·t_e/T)|,    sinc x = sin(πx)/(πx);

a square wave (t_e = 0, duty d = t_h/T) has A_n = 2·ΔP·|sin(π n d)| / (π n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.power.waveform import Pwl

MAX_HARMONICS = 4096  # harmonics looked at, at most (a 2-s iteration reaches 20 Hz at n = 40)
SOURCES = ("facility", "grid", "generators")  # facility: the load before storage
CHECKED = ("grid", "generators")  # the sources a limit applies to


@dataclass(frozen=True)
class Band:
    """A screening band: [low, high] in Hz and its limit on the band amplitude: ``limit_w``
    (W) or ``limit_fraction`` of the segment's peak facility load (None: reported only)."""

    low: float
    high: float
    limit_w: float | None = None
    limit_fraction: float | None = None

    @property
    def label(self) -> str:
        return f"{self.low:g}-{self.high:g} Hz"

    def limit(self, peak_w: float) -> float:
        """The limit (W) for a segment whose facility load peaks at ``peak_w``."""
        if self.limit_w is not None:
            return self.limit_w
        if self.limit_fraction is not None:
            return self.limit_fraction * peak_w
        return math.inf


def harmonics(v: Pwl, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, amplitudes A_n in W) of harmonics 1..n_max of a periodic waveform."""
    if n_max <= 0:
        return np.zeros(0), np.zeros(0)
    c = v.fourier(n_max)[1:]
    return np.arange(1, n_max + 1) / v.period, 2.0 * np.abs(c)


def harmonics_needed(bands: tuple[Band, ...], period: float) -> int:
    """How many harmonics cover every band (at most :data:`MAX_HARMONICS`)."""
    if not bands:
        return 0
    return min(math.floor(max(b.high for b in bands) * period + 1e-9), MAX_HARMONICS)


def band_peaks(v: Pwl, bands: tuple[Band, ...]) -> tuple[float, ...]:
    """The amplitude (W) of each band: its largest harmonic (0 when none falls inside)."""
    flat = len(v.x) == 1 and v.left_v[0] == v.right_v[0]
    n = harmonics_needed(bands, v.period)
    if flat or n == 0:
        return tuple(0.0 for _ in bands)
    f, a = harmonics(v, n)
    out = []
    for b in bands:
        inside = a[(f >= b.low - 1e-12) & (f <= b.high + 1e-12)]
        out.append(float(inside.max()) if len(inside) else 0.0)
    return tuple(out)


def fft_amplitudes(samples: np.ndarray, dt: float, period: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitudes) of a series sampled every ``dt`` s over a whole number of
    periods: the discrete counterpart of :func:`harmonics`, for cross-checks."""
    n = len(samples)
    spec = np.fft.rfft(samples) / n
    f = np.fft.rfftfreq(n, dt)
    a = 2.0 * np.abs(spec)
    a[0] = abs(spec[0])
    return f, a


class Screener:
    """Books the band amplitudes of each compute segment (the largest seen, per source and
    band) and the time any checked source exceeds a band's limit. The amplitudes of a waveform
    are computed once: residuals and loads recur across thousands of segments."""

    def __init__(self, bands: tuple[Band, ...], has_grid: bool, has_gens: bool):
        self.bands = bands
        self.sources = ("facility",) + (("grid",) if has_grid else ()) \
            + (("generators",) if has_gens else ())
        self.keys = {s: tuple(f"{s} {b.label}" for b in bands) for s in self.sources}
        self._loads: dict[tuple, tuple[float, ...]] = {}

    def zeros(self) -> dict[str, float]:
        """Every "source band" key at 0 W (a run without compute still reports them)."""
        return {k: 0.0 for keys in self.keys.values() for k in keys}

    def peaks(self, load: Pwl, tie: Pwl, gens: Pwl, memo: dict) -> dict[str, tuple[float, ...]]:
        """Band amplitudes (W) per source; ``memo`` is the residual's own cache."""
        key = (load.shape, load.period)
        facility = self._loads.get(key)
        if facility is None:
            facility = self._loads[key] = band_peaks(load, self.bands)
        got = memo.get("screen")
        if got is None:
            got = memo["screen"] = (band_peaks(tie, self.bands), band_peaks(gens, self.bands))
        out = {"facility": facility}
        if "grid" in self.sources:
            out["grid"] = got[0]
        if "generators" in self.sources:
            out["generators"] = got[1]
        return out

    def book(self, peaks_w: dict[str, float], load: Pwl, tie: Pwl, gens: Pwl, memo: dict,
             peak_load_w: float, dt: float) -> float:
        """Update ``peaks_w`` (key "source band", W) with a segment of ``dt`` s; return the
        seconds of it that violate a limit (all of it, or none)."""
        violated = False
        for source, amps in self.peaks(load, tie, gens, memo).items():
            for key, band, a in zip(self.keys[source], self.bands, amps, strict=True):
                if a > peaks_w[key]:
                    peaks_w[key] = a
                if source in CHECKED and a > band.limit(peak_load_w):
                    violated = True
        return dt if violated else 0.0
