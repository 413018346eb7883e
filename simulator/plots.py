"""Plots of a run, drawn from its result files (so ``dcsim plot DIR`` can redraw them)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simulator.records import LEDGER

STATE_COLORS = {
    "compute": "#2ca02c",
    "checkpoint": "#1f77b4",
    "restart": "#ff7f0e",
    "detect": "#8c564b",
    "ramp": "#e377c2",
    "waiting": "#d62728",
    "outage": "#7f7f7f",
    "done": "#ffffff",
}
LEDGER_COLORS = dict(zip(LEDGER, ["#2ca02c", "#bcbd22", "#17becf", "#aec7e8", "#1f77b4", "#9467bd",
                                  "#8c564b", "#ff7f0e", "#e377c2", "#d62728", "#7f7f7f"],
                         strict=True))


def laid_out(fig: Any) -> None:
    """tight_layout, marked so that :func:`_save` skips its own crop (a second layout pass).

    tight_layout leaves a placeholder layout engine behind, and savefig runs a whole draw
    (without rendering) before any figure with an engine: removing it saves that pass."""
    fig.tight_layout()
    fig.set_layout_engine(None)
    fig.dcsim_laid_out = True


def _save(fig: Any, path: Path) -> None:
    """Write the figure atomically, cropped to its drawn content unless :func:`laid_out`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    crop = None if getattr(fig, "dcsim_laid_out", False) else "tight"
    try:
        fig.savefig(tmp, dpi=110, bbox_inches=crop)
        from simulator.output import _file_mode

        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        plt.close(fig)


def draw_ledger(summary: dict[str, Any], path: Path) -> None:
    """Where the wall-clock time went: mean hours per ledger category, with 95% CIs."""
    # a summary written before a category existed has none of it
    zero = {"mean": 0.0, "ci95_low": 0.0, "ci95_high": 0.0}
    summary = {**{k: zero for k in LEDGER}, **summary}
    means = [summary[k]["mean"] or 0.0 for k in LEDGER]
    total = sum(means) or 1.0
    fig, (ax_bar, ax_tab) = plt.subplots(1, 2, figsize=(11, 3.6),
                                         gridspec_kw={"width_ratios": [3, 2]})
    left = 0.0
    for key, m in zip(LEDGER, means, strict=True):
        ax_bar.barh([0], [m / 24.0], left=left / 24.0, color=LEDGER_COLORS[key],
                    label=f"{key.removesuffix('_hours')} {100 * m / total:.1f}%")
        left += m
    ax_bar.set_yticks([])
    ax_bar.set_xlabel("wall clock (days, mean over replications)")
    ax_bar.set_title(f"{summary['scenario']}: where the time went "
                     f"({summary['replications']} replications)")
    ax_bar.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize=8)
    ax_tab.axis("off")
    rows = [[k.removesuffix("_hours"), f"{summary[k]['mean'] or 0:.1f}",
             f"[{summary[k]['ci95_low'] or 0:.1f}, {summary[k]['ci95_high'] or 0:.1f}]"]
            for k in LEDGER]
    table = ax_tab.table(cellText=rows, colLabels=["category", "hours", "95% CI"], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    _save(fig, path)  # cropped: tight_layout leaves a blank band under the legend


def draw_causes(summary: dict[str, Any], path: Path, top: int = 12) -> None:
    """What each cause cost (mean hours per replication): work lost, restarts and time down,
    stacked, the costliest cause on top."""
    costs = [(c, v) for c, v in (summary.get("cost_by_cause") or {}).items()
             if v["total_hours"] > 0][:top]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.38 * max(len(costs), 1)))
    parts = (("lost_hours", "work lost", "#d62728"), ("restart_hours", "restarts", "#ff7f0e"),
             ("down_hours", "down (waiting, dark site)", "#7f7f7f"))
    names = [c for c, _ in costs][::-1]
    left = [0.0] * len(names)
    for key, label, color in parts:
        widths = [v[key] for _, v in costs][::-1]
        ax.barh(names, widths, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, (width, (_, v)) in enumerate(zip(left, costs[::-1], strict=True)):
        ax.text(width, y, f" {v['interruptions']:.3g} interruptions", va="center", fontsize=7)
    ax.set_xlabel("hours per replication (mean)")
    ax.set_title(f"{summary['scenario']}: what each cause cost"
                 + (f" (top {top})" if len(summary.get("cost_by_cause") or {}) > top else ""))
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlim(0.0, max(left, default=0.0) * 1.3 or 1.0)  # room for the counts
    laid_out(fig)
    _save(fig, path)


def _state_band(ax: Any, changes: Sequence[tuple[float, str, float]], ends: Sequence[float],
                scale_s: float, window: tuple[float, float] | None = None) -> None:
    spans: dict[str, list[tuple[float, float]]] = {}
    for (t0, state, _), t1 in zip(changes, ends, strict=True):
        if window is not None:
            t0, t1 = max(t0, window[0]), min(t1, window[1])
        if t1 > t0:
            spans.setdefault(state, []).append((t0 / scale_s, (t1 - t0) / scale_s))
    for state in STATE_COLORS:
        if state in spans:
            ax.broken_barh(spans[state], (0, 1), facecolors=STATE_COLORS[state], label=state)
    ax.set_yticks([])


def _daily_shares(ax: Any, changes: Sequence[tuple[float, str, float]],
                  ends: Sequence[float]) -> None:
    """Job state as each day's shares, stacked: a 50-day run's thousands of state changes
    stay readable (a band of them would be a blur)."""
    day = 86400.0
    days = max(1, math.ceil(ends[-1] / day)) if ends else 1
    shares: dict[str, np.ndarray] = {}
    for (t0, state, _), t1 in zip(changes, ends, strict=True):
        while t1 > t0:
            d = int(t0 // day)
            cut = min(t1, (d + 1) * day)
            shares.setdefault(state, np.zeros(days))[min(d, days - 1)] += (cut - t0) / day
            t0 = cut
    bottom = np.zeros(days)
    edges = np.arange(days + 1, dtype=float)
    for state in STATE_COLORS:
        if state in shares:
            # one filled staircase per state (a bar per day would be days × states patches)
            top = bottom + shares[state]
            ax.stairs(top, edges, baseline=bottom, fill=True, color=STATE_COLORS[state],
                      label=state, linewidth=0)
            bottom = top
    ax.set_ylim(0, 1)
    ax.set_ylabel("share\nof day", fontsize=8)


def state_strip(ax: Any, changes: Sequence[tuple[float, str, float]], ends: Sequence[float]
                ) -> None:
    """The job-state strip over a whole run (days): daily shares beyond three days, else the
    states themselves."""
    if ends and ends[-1] > 3 * 86400.0:
        _daily_shares(ax, changes, ends)
    else:
        _state_band(ax, changes, ends, 86400.0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0.0)


def draw_timeline(changes: Sequence[tuple[float, str, float]], end_s: float, path: Path,
                  title: str) -> None:
    """Job state over a whole replication, zoomed around its first interruption, and progress."""
    fig, (ax_state, ax_zoom, ax_prog) = plt.subplots(
        3, 1, figsize=(11, 6.5), gridspec_kw={"height_ratios": [1, 1, 2.2]})
    day, hour = 86400.0, 3600.0
    ends = [c[0] for c in changes[1:]] + [end_s]
    state_strip(ax_state, changes, ends)
    ax_state.set_xlim(0, end_s / day)
    ax_state.set_title(title)
    ax_state.set_xlabel("wall clock (days)")
    # zoom: a few hours around the first rollback (a failure), else the first hours
    first = next((t for (t, _, p), (t_prev, _, p_prev) in zip(changes[1:], changes, strict=False)
                  if p < p_prev), None)
    lo = max(0.0, (first or 0.0) - 2 * hour)
    hi = min(end_s, lo + 6 * hour)
    _state_band(ax_zoom, changes, ends, hour, (lo, hi))
    ax_zoom.set_xlim(lo / hour, hi / hour)
    ax_zoom.set_xlabel("wall clock (hours) — zoom around the first interruption")
    # surviving progress: grows during compute, falls back to the checkpoint on a failure
    times, prog = [], []
    for (t0, state, p0), t1 in zip(changes, ends, strict=True):
        times += [t0 / day, t1 / day]
        prog += [p0 / day, (p0 + (t1 - t0 if state == "compute" else 0.0)) / day]
    ax_prog.plot(times, prog, color="#2ca02c", lw=1, label="work that survives")
    ax_prog.plot([0, end_s / day], [0, end_s / day], color="0.6", lw=0.8, ls="--",
                 label="no failures, no checkpoints")
    ax_prog.set_xlabel("wall clock (days)")
    ax_prog.set_ylabel("work done (days of compute)")
    ax_prog.legend(fontsize=8, loc="upper left")
    laid_out(fig)
    _save(fig, path)


def _as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _paired_label(row: dict[str, Any], keys: Sequence[str],
                  scales: dict[str, tuple[float, str]]) -> str:
    """The other parameters' values at one point of a --zip sweep, e.g. 'time=5 min'."""
    parts = []
    for k in keys:
        v, (sc, un) = _as_float(row.get(k)), scales[k]
        shown = f"{v / sc:.4g}{' ' + un if un else ''}" if v is not None else str(row.get(k))
        parts.append(f"{k.split('.')[-1]}={shown}")
    return ", ".join(parts)


def draw_sweep(rows: Sequence[dict[str, Any]], meta: dict[str, Any], path: Path) -> None:
    """Each chosen metric against the first swept parameter with its 95% CI band, one line per
    combination of the other parameters; for a checkpoint-interval sweep the Young and Daly
    optima, the simulated argmin of mean wall clock and any refined optimum are marked."""
    from simulator.records import METRICS
    from simulator.sweepgrid import INTERVAL_KEY, by_key
    from simulator.sweepparams import display_scale

    params = meta["params"]
    rows = by_key(rows, params)
    x_key, log_x, kind = params[0]["key"], params[0]["log"], params[0]["kind"]
    others = [p["key"] for p in params[1:]]
    metrics = meta["metrics"]
    xs_raw = [r[x_key] for r in rows]
    numeric = all(_as_float(v) is not None for v in xs_raw)
    scale, unit = display_scale(kind, [_as_float(v) or 0.0 for v in xs_raw]) if numeric \
        else (1.0, "")
    categories = [] if numeric else list(dict.fromkeys(str(v) for v in xs_raw))

    def xval(v: Any) -> float:
        return float(v) / scale if numeric else float(categories.index(str(v)))

    grouped = meta.get("mode") != "zip" and bool(others)
    other_units = {p["key"]: display_scale(p["kind"], [_as_float(r[p["key"]]) or 0.0 for r in rows])
                   for p in params[1:]}

    def series_key(values: dict[str, Any]) -> tuple:
        if not grouped:
            return ()
        return tuple(_as_float(values.get(k)) if _as_float(values.get(k)) is not None
                     else str(values.get(k)) for k in others)

    def series_label(key: tuple) -> str:
        parts = []
        if not grouped:  # one series: a zip sweep's other values label its points instead
            return ""
        for k, v in zip(others, key, strict=True):
            sc, un = other_units[k]
            parts.append(f"{k.split('.')[-1]}={v / sc:.4g}{' ' + un if un else ''}"
                         if isinstance(v, float) else f"{k.split('.')[-1]}={v}")
        return ", ".join(parts)

    series: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        series.setdefault(series_key(r), []).append(r)
    fig, axes = plt.subplots(len(metrics), 1, figsize=(11.5, 3.0 + 2.4 * len(metrics)),
                             sharex=True, squeeze=False)
    interval = x_key == INTERVAL_KEY and numeric
    optima = meta.get("optimize") or []
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for s, (skey, group) in enumerate(series.items()):
            group = sorted(group, key=lambda r: xval(r[x_key]))
            x = [xval(r[x_key]) for r in group]
            mean = [r[f"{metric}_mean"] for r in group]
            color = f"C{s % 10}"
            ax.plot(x, mean, marker="o", ms=3.5, color=color, label=series_label(skey) or "mean")
            cut = [k for k, r in enumerate(group) if _as_float(r.get("completed_fraction")) is not
                   None and float(r["completed_fraction"]) < 1.0]
            if cut:  # hollow: replications stopped at the horizon, the mean is not the job's
                ax.plot([x[k] for k in cut], [mean[k] for k in cut], marker="o", ms=7,
                        mfc="white", mec=color, ls="none",
                        label="horizon reached (hollow)" if s == 0 else None)
            if others and not grouped:
                for xi, yi, r in zip(x, mean, group, strict=True):
                    ax.annotate(_paired_label(r, others, other_units), (xi, yi), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
            ax.fill_between(x, [r[f"{metric}_ci95_low"] for r in group],
                            [r[f"{metric}_ci95_high"] for r in group], color=color, alpha=0.2,
                            lw=0, label="95% CI" if s == 0 else None)
            if interval:
                walls = [r["wall_clock_days_mean"] for r in group]
                finite = [k for k, w in enumerate(walls) if math.isfinite(w)]
                if finite:
                    j = min(finite, key=lambda k: walls[k])
                    ax.plot([x[j]], [mean[j]], marker="v", ms=10, color=color, ls="none",
                            label="simulated argmin (wall clock)" if s == 0 else None)
        if interval:
            young = sorted({round(r["young_interval_s"], 6) for r in rows
                            if math.isfinite(r["young_interval_s"])})
            daly = sorted({round(r["daly_interval_s"], 6) for r in rows
                           if math.isfinite(r["daly_interval_s"])})
            for k, t in enumerate(young):
                ax.axvline(t / scale, color="0.45", ls=":", lw=1.2,
                           label=f"Young τ* {t / scale:.3g} {unit}" if k < 3 else None)
            for k, t in enumerate(daly):
                ax.axvline(t / scale, color="k", ls="--", lw=1.0,
                           label=f"Daly τ* {t / scale:.3g} {unit}" if k < 3 else None)
            keys = list(series)
            for opt in optima:
                skey = series_key(opt["series"])
                color = f"C{keys.index(skey) % 10}" if skey in keys else "#d62728"
                t = opt["interval_s"] / scale
                ax.axvline(t, color=color, ls="-", lw=0.8, alpha=0.6)
                if metric in ("wall_clock_days", "ettr"):
                    ax.plot([t], [opt[metric]["mean"]], marker="*", ms=13, color=color, ls="none",
                            markeredgecolor="k", markeredgewidth=0.5,
                            label=f"refined optimum {t:.3g} {unit}")
        base = _as_float((meta.get("base_values") or {}).get(x_key))
        if base is not None and numeric:
            ax.axvline(base / scale, color="#2ca02c", ls="-.", lw=1.0,
                       label=f"scenario's value {base / scale:.3g} {unit}".rstrip())
        unit_m = METRICS.get(metric, "")
        ax.set_ylabel(f"{metric}" + (f" ({unit_m})" if unit_m and unit_m != "fraction" else ""))
        ax.grid(alpha=0.3)
        # beside the axes, never over the data
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax = axes[-1, 0]
    counts = numeric and all(float(v).is_integer() for v in xs_raw if _as_float(v) is not None)
    if log_x and numeric and not counts:  # counts (battery units...) read best on a linear axis
        from matplotlib.ticker import FuncFormatter, LogLocator

        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(x_key + (f" ({unit})" if unit else "")
                  + (" — zipped with " + ", ".join(others) if meta.get("mode") == "zip"
                     and others else ""))
    axes[0, 0].set_title(f"{meta['scenario']}: sweep of {len(rows)} points, "
                         f"{meta['replications']} replications each (common random numbers)")
    laid_out(fig)
    _save(fig, path)


def draw_compare(rows: Sequence[dict[str, Any]], meta: dict[str, Any], path: Path) -> None:
    """Bars with 95% CIs per scenario on the same axes, one panel per metric, and the time
    ledger of each scenario as stacked bars side by side."""
    from simulator.records import METRICS

    labels = meta["labels"]
    metrics = meta["plot_metrics"]
    by = {(r["metric"], r["scenario"]): r for r in rows}
    panels = len(metrics) + 1
    ncols = min(3, panels)
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    flat = list(axes.flat)
    x = list(range(len(labels)))
    colors = [f"C{k % 10}" for k in x]
    for ax, metric in zip(flat, metrics, strict=False):
        mean = [by[(metric, lab)]["mean"] for lab in labels]
        lo = [by[(metric, lab)]["ci95_low"] for lab in labels]
        hi = [by[(metric, lab)]["ci95_high"] for lab in labels]
        err = [[max(m - a, 0.0) if math.isfinite(m) else 0.0 for m, a in zip(mean, lo, strict=True)],
               [max(b - m, 0.0) if math.isfinite(m) else 0.0 for m, b in zip(mean, hi, strict=True)]]
        ax.bar(x, [m if math.isfinite(m) else 0.0 for m in mean], yerr=err, capsize=4,
               color=colors, alpha=0.85)
        base = mean[0]
        for k, lab in enumerate(labels[1:], start=1):
            r = by[(metric, lab)]
            d_lo, d_hi = r.get("diff_ci95_low", math.nan), r.get("diff_ci95_high", math.nan)
            if base and math.isfinite(base) and math.isfinite(d_lo) and math.isfinite(d_hi):
                top = hi[k] if math.isfinite(hi[k]) else mean[k]
                ax.annotate(f"Δ {100 * r['diff_mean'] / base:+.2g}%\n"
                            f"[{100 * d_lo / base:+.2g}, {100 * d_hi / base:+.2g}]%",
                            (k, top), textcoords="offset points", xytext=(0, 3), ha="center",
                            va="bottom", fontsize=6.5)
        ax.margins(y=0.15)
        unit = METRICS.get(metric, "")
        ax.set_title(metric + (f" ({unit})" if unit and unit != "fraction" else ""), fontsize=9)
        ax.set_xticks(x, labels, rotation=20 if len(labels) > 2 else 0, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    ax = flat[len(metrics)]
    bottoms = [0.0] * len(labels)
    for key in LEDGER:
        days = []
        for lab in labels:
            r = by.get((key, lab))
            v = r["mean"] if r is not None else math.nan
            days.append(v / 24.0 if isinstance(v, float) and math.isfinite(v) else 0.0)
        ax.bar(x, days, bottom=bottoms, color=LEDGER_COLORS[key], label=key.removesuffix("_hours"))
        bottoms = [b + d for b, d in zip(bottoms, days, strict=True)]
    ax.set_title("where the time went (days, mean)", fontsize=9)
    ax.set_xticks(x, labels, rotation=20 if len(labels) > 2 else 0, fontsize=8)
    ax.set_ylim(0, max(bottoms, default=1.0) * 1.05 or 1.0)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for extra in flat[panels:]:
        extra.axis("off")
    fig.suptitle(f"{' vs '.join(labels)}: {meta['replications']} paired replications, "
                 f"seed {meta['seed']} (bars: 95% CIs; Δ: paired difference against "
                 f"{labels[0]} with its 95% CI)", fontsize=10)
    laid_out(fig)
    _save(fig, path)
