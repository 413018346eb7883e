"""What ``dcsim fit`` writes from a :class:`~simulator.fit.FitResult`: the commented
``failures:`` block (failures.yaml), every number (fit.json) and the fit plot (fit.png)."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulator.fit import CauseFit, FitResult, RepairFit


def duration_text(seconds: float | None) -> str:
    """A duration as a scenario file writes it: s below 2 min, min below 2 h, else h."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    for unit, size, below in (("s", 1.0, 120.0), ("min", 60.0, 7200.0), ("h", 3600.0, math.inf)):
        if seconds < below:
            return f"{seconds / size:.5g} {unit}"
    raise AssertionError  # pragma: no cover


def _repair_value(fit: RepairFit) -> Any:
    """The cause's ``repair_time`` value; None leaves cluster.repair_time in force."""
    if fit.model == "zero":
        return 0
    if fit.model == "fixed":
        return duration_text(fit.mean_s)
    if fit.model == "lognormal":
        median, mean = duration_text(fit.median_s), duration_text(fit.mean_s)
        # a scenario needs mean > median; with σ̂ tiny the rounded two may meet
        if mean != median:
            return {"distribution": "lognormal", "median": median, "mean": mean}
        return mean
    return None


def _sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def failures_block(result: FitResult) -> dict[str, Any]:
    """The fitted ``failures:`` mapping, valid in a scenario."""
    causes = []
    for c in result.causes:
        entry: dict[str, Any] = {"name": c.name, "per": c.per,
                                 "rate_per_year": _sig(c.rate_per_year, 6)}
        entry["distribution"] = ({"weibull": {"shape": _sig(c.weibull.shape, 3)}}  # type: ignore[union-attr]
                                 if c.weibull_recommended else "exponential")
        repair = _repair_value(c.repair)
        if repair is not None:
            entry["repair_time"] = repair
        causes.append(entry)
    block: dict[str, Any] = {"causes": causes}
    if any(c.weibull_recommended for c in result.causes):
        block["weibull_start"] = "stationary"
    return block


def _flow(value: Any) -> str:
    """One YAML flow value (quoted where YAML needs it)."""
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 30, sort_keys=False,
                          allow_unicode=True).strip()[1:-1]


def _when(result: FitResult, seconds: float) -> str:
    if result.iso:
        return datetime.fromtimestamp(seconds, timezone.utc).isoformat()
    return f"{seconds / 86400.0:.6g} d" if seconds >= 2 * 86400.0 else duration_text(seconds)


def _ci(lo: float | None, hi: float | None, fmt: str = ".3g") -> str:
    return " to ".join("open" if x is None else format(x, fmt) for x in (lo, hi))


def _weibull_comment(c: CauseFit) -> str:
    w = c.weibull
    if w is None:
        gaps = sum(c.gap_complete)
        return (f"inter-failure: exponential (a Weibull shape needs at least 10 complete per-unit "
                f"gaps; {gaps} here)")
    verdict = ("weibull" if c.weibull_recommended else
               "exponential kept" + ("" if w.p_value >= 0.05 else " (shape outside 0.05-100)"))
    return (f"Weibull shape {w.shape:.3g} (95% CI {_ci(*w.shape_ci95)}) from {w.gaps:,} gaps "
            f"+ {w.censored:,} censored; LR test vs exponential: LR = {w.lr:.3g}, "
            f"p = {w.p_value:.2g} {'<' if w.p_value < 0.05 else '>='} 0.05: {verdict}")


def _repair_comment(fit: RepairFit) -> str:
    if fit.model == "none":
        return "repair: no repair_end given: repair_time left out (cluster.repair_time applies)"
    if fit.model == "zero":
        return (f"repair: {fit.zero:,} of {fit.n:,} repairs took 0 (a restart on the same "
                f"machines): repair_time 0")
    if fit.model == "fixed":
        return (f"repair: {fit.n:,} repairs, all of one length or too few for a lognormal: fixed "
                f"at their mean")
    zero = f"; {fit.zero:,} repairs of 0 left out" if fit.zero else ""
    med = [duration_text(x) for x in fit.median_ci95_s or (None, None)]
    mean = [duration_text(x) for x in fit.mean_ci95_s or (None, None)]
    return (f"repair: lognormal MLE of {fit.n - fit.zero:,} durations: median "
            f"{duration_text(fit.median_s)} (95% CI {med[0]} to {med[1]}), mean "
            f"{duration_text(fit.mean_s)} (95% CI {mean[0]} to {mean[1]}), σ = {fit.sigma:.3g}{zero}")


def failures_yaml(result: FitResult) -> str:
    """failures.yaml: the block with a comment on how each number was found."""
    f = result.fleet
    src = result.source.replace("\n", " ")
    outside = f" ({result.outside_window:,} outside it left out)" if result.outside_window else ""
    lines = [
        f"# failures block fitted by `dcsim fit` from {src}: {result.incidents:,} incidents in "
        f"the window{outside}",
        f"# window: {_when(result, result.window_start_s)} to {_when(result, result.window_end_s)}"
        f" = {result.window_years:.4g} yr ({result.window_note})",
        f"# fleet: {f['gpu']:,} GPUs = {f['node']:,} nodes of {result.gpus_per_node} = "
        f"{f['rack']:,} racks of up to {result.nodes_per_rack} nodes",
        "# rate_per_year = k / exposure, exposure = units × window − time in repair (unit-years);",
        "# its 95% CI is the exact Poisson (Garwood) interval",
        "failures:",
        "  causes:",
    ]
    block = failures_block(result)
    for c, entry in zip(result.causes, block["causes"], strict=True):
        lo, hi = c.rate_ci95
        lines += [
            f"    - name: {_flow(c.name)}",
            f"      per: {c.per}",
            f"      # k = {c.k:,} failures of {c.units_failed:,} {c.per}s in "
            f"{c.exposure_unit_years:,.5g} {c.per}-years; 95% CI {lo:.4g} to {hi:.4g} per {c.per}-year",
            f"      rate_per_year: {_flow(entry['rate_per_year'])}",
            f"      # {_weibull_comment(c)}",
            *([f"      # {c.overlaps:,} failures came before the unit's previous repair had "
               f"ended: counted, but no gap"] if c.overlaps else []),
            f"      distribution: {_flow(entry['distribution'])}",
            f"      # {_repair_comment(c.repair)}",
        ]
        if "repair_time" in entry:
            lines.append(f"      repair_time: {_flow(entry['repair_time'])}")
    if "weibull_start" in block:
        lines += ["  # the log's fleet was already running: Weibull units start part-way through "
                  "their renewal cycle", "  weibull_start: stationary"]
    return "\n".join(lines) + "\n"


def fit_json(result: FitResult) -> dict[str, Any]:
    """fit.json: every fitted number (not the raw gaps and durations) and the block."""
    data = asdict(result)
    for cause in data["causes"]:
        for key in ("gaps_s", "gap_complete", "durations_s"):
            cause.pop(key)
    if result.iso:
        data["window_start"] = _when(result, result.window_start_s)
        data["window_end"] = _when(result, result.window_end_s)
    data["failures"] = failures_block(result)
    return data


def kaplan_meier(times: np.ndarray, complete: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan–Meier estimate of the CDF of right-censored times: (event times, F there)."""
    order = np.lexsort((~complete, times))  # at a tie, failures before censorings
    t, d = times[order], complete[order]
    at_risk = len(t) - np.arange(len(t))
    surv = np.cumprod(np.where(d, 1.0 - 1.0 / at_risk, 1.0))
    return t[d], 1.0 - surv[d]


def draw_fit(result: FitResult, path: Path) -> None:
    """fit.png: rates with their 95% CIs; the gaps of the cause with the most of them against
    the fitted exponential and Weibull; the repairs of the cause with the most against their
    lognormal."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    from scipy.special import ndtr

    from simulator.plots import _save, laid_out, plt

    causes = result.causes
    fig, axes = plt.subplots(1, 3, figsize=(16, max(4.0, 0.35 * len(causes) + 2)))
    ax = axes[0]
    y = np.arange(len(causes))
    rates = np.array([c.rate_per_year for c in causes])
    lo = np.array([c.rate_ci95[0] for c in causes])
    hi = np.array([c.rate_ci95[1] for c in causes])
    seen = rates > 0  # a log axis has no 0: a cause never seen shows its upper bound only
    ax.errorbar(rates[seen], y[seen], fmt="o", capsize=3,
                xerr=[rates[seen] - lo[seen], hi[seen] - rates[seen]])
    if not seen.all():
        ax.plot(hi[~seen], y[~seen], "<", color="C0", label="no failure: 95% upper bound")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    # a span of under a decade gets no labelled tick by default; minor labels would collide
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [f"{c.name} (per {c.per}, k={c.k})" for c in causes])
    ax.invert_yaxis()
    ax.set_xlabel("failures per unit-year (95% exact CI)")
    ax.set_title("rate by cause")

    ax = axes[1]
    c = max(causes, key=lambda c: (c.weibull is not None, sum(c.gap_complete)))
    t = np.asarray(c.gaps_s) / 86400.0
    d = np.asarray(c.gap_complete, bool)
    if d.any():
        et, cdf = kaplan_meier(t, d)
        ax.step(et, cdf, where="post", color="0.2", lw=1,
                label=f"data (Kaplan–Meier, {int(d.sum())} gaps)")
        grid = np.geomspace(max(et.min(), 1e-6), t.max(), 200)
        ax.plot(grid, 1 - np.exp(-grid * d.sum() / t.sum()), "--", label="exponential fit")
        if c.weibull is not None:
            w = c.weibull
            ax.plot(grid, 1 - np.exp(-(grid * 86400.0 / w.scale_s) ** w.shape), ":",
                    label=f"Weibull fit, shape {w.shape:.2f} (p = {w.p_value:.2g})")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no unit failed twice in the window", ha="center", transform=ax.transAxes)
    ax.set_xlabel("days from a unit back in service to its next failure")
    ax.set_ylabel("CDF")
    ax.set_title(f"inter-failure gaps: {c.name}")

    ax = axes[2]
    c = max(causes, key=lambda c: (c.repair.model == "lognormal", sum(x > 0 for x in c.durations_s)))
    rep = np.sort([x for x in c.durations_s if x > 0]) / 3600.0
    if len(rep):
        ax.step(rep, np.arange(1, len(rep) + 1) / len(rep), where="post", color="0.2", lw=1,
                label=f"data ({len(rep)} repairs)")
        if c.repair.model == "lognormal":
            grid = np.geomspace(rep.min(), rep.max(), 200)
            ax.plot(grid, ndtr((np.log(grid * 3600.0) - c.repair.mu) / c.repair.sigma), "--",
                    label=f"lognormal: median {duration_text(c.repair.median_s)}, "
                          f"mean {duration_text(c.repair.mean_s)}")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no repair of positive length", ha="center", transform=ax.transAxes)
    ax.set_xlabel("repair time (h)")
    ax.set_title(f"repair times: {c.name}")
    fig.suptitle(f"dcsim fit: {Path(result.source).name}, {result.incidents:,} incidents over "
                 f"{result.window_years:.3g} yr")
    laid_out(fig)
    _save(fig, path)
