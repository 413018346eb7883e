"""Plots of the power system of a run: the timeline with its fine-step zooms, and the spectrum
of what the sources carry (drawn from the run's files, so ``dcsim plot DIR`` can redraw them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.plots import _save, laid_out, plt, state_strip

SOURCE_COLORS = {"facility": "#999999", "grid": "#1f77b4", "generators": "#ff7f0e"}


_SAMPLES = 24  # points drawn along a segment's ramp-and-exponential path


def generator_line(rows: Sequence[tuple], span_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The generators' output (W) over [0, span_s] (s), from a segment log: along each
    segment's closed-form path (a ramp, then an exponential toward its target) until the
    dispatch settled, then straight to the output the segment ended at (the SoC request moves
    a settled plant slowly). Logs without the path columns give straight joins of the starts."""
    from simulator.power.dispatch import Trajectory
    from simulator.power.windows import FILT, GEN, T

    times: list[float] = []
    values: list[float] = []
    starts = [r[T] for r in rows[1:]] + [span_s]
    for row, t_next in zip(rows, starts, strict=True):
        t0 = row[T]
        if t0 >= span_s:
            break
        t1 = min(t_next, span_s)
        if len(row) <= _END:  # written before the path was logged
            times.append(t0)
            values.append(row[GEN])
            continue
        path = Trajectory(row[GEN], row[_SLOPE], row[_RAMP_END], row[_TARGET], row[FILT],
                          row[_TAU])
        settled = min(max(row[_SETTLED], 0.0), t1 - t0)
        dt = np.linspace(0.0, settled, _SAMPLES) if settled > 0 else np.zeros(1)
        times.extend(t0 + dt)
        values.extend(path.at(float(x)) for x in dt)
        end = row[_END]
        if t1 - t0 > settled and math.isfinite(end):
            frac = (t1 - t0 - settled) / max(t_next - t0 - settled, 1e-12)
            here = values[-1]
            times.append(t1)
            values.append(here + (end - here) * min(frac, 1.0))
    return np.asarray(times), np.asarray(values)


# columns of the generators' path in a segment-log row (see simulator.power.plant.SegmentLog)
_TARGET, _SLOPE, _RAMP_END, _TAU, _SETTLED, _END = range(15, 21)


def draw_power_timeline(changes: Sequence[tuple[float, str, float]], rows: Sequence[tuple],
                        windows: Sequence[Any], end_s: float, path: Path, title: str,
                        soc_band: tuple[float, float] | None = None) -> None:
    """Job state, facility power, sources and SoC over a replication (event-level solver),
    and fine-step zooms around a failure, a checkpoint and a restart: power, then the bus
    frequency. ``soc_band``: the battery's usable energy limits (MWh), drawn as lines."""
    from simulator.power.windows import ENERGY, GRID, HIGH, LOW, PERIOD, T_EDGE, T_HIGH, T

    fig = plt.figure(figsize=(12, 11.5))
    cols = max(len(windows), 1)
    grid = fig.add_gridspec(5, cols, height_ratios=[0.5, 1.6, 1.0, 1.8, 1.2])
    day, mw = 86400.0, 1e6
    ax_state = fig.add_subplot(grid[0, :])
    ends = [c[0] for c in changes[1:]] + [end_s]
    state_strip(ax_state, changes, ends)
    ax_state.set_xlim(0, end_s / day)
    ax_state.set_title(title)
    # event-level power over the first day (a whole run is too dense to read)
    ax_p = fig.add_subplot(grid[1, :])
    hour = 3600.0
    span = min(end_s, 24 * hour)
    shown = [r for r in rows if r[T] < span]
    t = [r[T] / hour for r in shown] + [span / hour]
    mean = [(r[LOW] + (r[HIGH] - r[LOW]) * (r[T_HIGH] + r[T_EDGE]) / r[PERIOD]) / mw
            if r[HIGH] > r[LOW] else r[LOW] / mw for r in shown]
    ax_p.stairs([r[HIGH] / mw for r in shown], t, color="#bbbbbb", baseline=None,
                label="facility peak (iteration swing)")
    ax_p.stairs(mean, t, color="k", lw=0.8, label="facility mean", baseline=None)
    ax_p.stairs([r[GRID] / mw for r in shown], t, color="#1f77b4", lw=0.8,
                label="grid (dispatched)", baseline=None)
    gen_t, gen_w = generator_line(rows, span)
    ax_p.plot(gen_t / hour, gen_w / mw, color="#ff7f0e", lw=0.8,
              label="generators (dispatched path; 0 when dark)")
    ax_p.set_xlim(0, span / hour)
    ax_p.set_ylabel("MW")
    ax_p.set_xlabel("wall clock (hours): the first day, event-level solver")
    ax_p.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4,
                borderaxespad=0.2, frameon=False)  # above the axes, off the data
    ax_soc = fig.add_subplot(grid[2, :], sharex=ax_state)
    energy0 = max((r[ENERGY] for r in rows), default=0.0)
    ax_soc.plot([r[T] / day for r in rows], [r[ENERGY] / 3.6e9 for r in rows], color="#2ca02c",
                lw=0.8)
    if soc_band is not None and energy0 > 0:
        for level, name in zip(soc_band, ("SoC min", "SoC max"), strict=True):
            ax_soc.axhline(level, color="#2ca02c", ls=":", lw=0.9)
            ax_soc.text(1.002, level, name, transform=ax_soc.get_yaxis_transform(), fontsize=7,
                        va="center", color="#2ca02c")
    ax_soc.set_ylabel("battery MWh")
    ax_soc.set_xlabel("wall clock (days)")
    if energy0 <= 0:
        ax_soc.text(0.5, 0.5, "no battery", transform=ax_soc.transAxes, ha="center")
    for k, w in enumerate(windows):
        ax = fig.add_subplot(grid[3, k])
        ax_f = fig.add_subplot(grid[4, k], sharex=ax)
        r = w.result
        tt = r.t + w.origin_s
        sel = (tt >= w.start_s) & (tt <= w.end_s)
        x = (tt[sel] - w.start_s)
        ax.plot(x, r.load[sel] / mw, color="k", lw=0.5, label="facility")
        ax.plot(x, r.generators[sel] / mw, color="#ff7f0e", lw=1, label="generators")
        ax.plot(x, r.battery[sel] / mw, color="#2ca02c", lw=0.5, label="battery (+ discharge)")
        ax.plot(x, r.grid[sel] / mw, color="#1f77b4", lw=1, label="grid")
        ax.axhline(0, color="0.7", lw=0.5)
        ax.set_title(f"fine-step: {w.label}", fontsize=9)
        ax_f.plot(x, r.frequency[sel] * 1e3, color="#9467bd", lw=0.6)
        ax_f.axhline(0, color="0.7", lw=0.5)
        ax_f.set_xlabel(f"s from {w.start_s / 3600:.2f} h")
        if k == 0:
            ax.set_ylabel("MW")
            ax_f.set_ylabel("Δf (mHz)")
            ax.legend(fontsize=6, loc="lower left")
    laid_out(fig)
    _save(fig, path)


def draw_spectrum(spectra: dict[str, tuple[np.ndarray, np.ndarray]],
                  bands: Sequence[Any], peak_load_w: float, path: Path, title: str) -> None:
    """Harmonic amplitudes (MW) of the facility load and of what the grid and the generators
    carry, bars per harmonic, with the screening bands shaded and their limits drawn."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    mw = 1e6
    names = [s for s in ("facility", "grid", "generators") if s in spectra]
    f0 = spectra[names[0]][0]
    step = f0[0] if len(f0) else 1.0
    width = 0.8 * step / max(len(names), 1)
    for k, name in enumerate(names):
        f, a = spectra[name]
        ax.bar(f + (k - (len(names) - 1) / 2) * width, a / mw, width=width,
               color=SOURCE_COLORS[name], label=name if name != "facility" else
               "facility load (before storage)")
    top = max((float(a.max()) for _, a in spectra.values() if len(a)), default=0.0) / mw
    for b in bands:
        ax.axvspan(b.low, b.high, color="#d62728", alpha=0.06)
        limit = b.limit(peak_load_w)
        if np.isfinite(limit):
            ax.hlines(limit / mw, b.low, b.high, color="#d62728", lw=1.2, linestyles="--")
            right = min(b.high, (f0[-1] + step) if len(f0) else b.high)
            ax.text(right, limit / mw, f"{b.label} limit {limit / mw:.3g} MW ", color="#d62728",
                    fontsize=7, va="bottom", ha="right")
            top = max(top, limit / mw)
    ax.set_xlim(0, (f0[-1] + step) if len(f0) else 1.0)
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    ax.set_xlabel("frequency (Hz): harmonics of the iteration")
    ax.set_ylabel("amplitude (MW)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    laid_out(fig)
    _save(fig, path)
