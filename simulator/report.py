"""Terminal output: the run table (simulated vs analytic) and progress bars."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from simulator.records import LEDGER

if TYPE_CHECKING:
    from simulator.config import Scenario


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def progress_enabled(enabled: bool = True) -> bool:
    """Progress bars only on a terminal, and never under CI."""
    return enabled and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


@contextlib.contextmanager
def progress_bar(label: str, total: int | None,
                 enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar, shown only on a TTY and not under CI (``total=None``: a counter
    without an end, e.g. an optimizer's evaluations)."""
    if not progress_enabled(enabled):
        yield lambda _n: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


@contextlib.contextmanager
def step(label: str, enabled: bool = True) -> Iterator[None]:
    """A spinner for a step without a count (drawing plots), under the same rules as the bars."""
    if not progress_enabled(enabled):
        yield
        return
    with Console(stderr=True).status(label):
        yield


# metric -> (label, analytic key or None)
_ROWS: list[tuple[str, str, str | None]] = [
    ("wall_clock_days", "wall clock (days)", "daly_wall_clock_days"),
    ("ettr", "ETTR (productive / wall)", "daly_ettr"),
    ("utilization", "utilization (installed GPUs)", None),
    ("effective_mfu", "effective MFU", None),
    ("work_done_fraction", "work done (fraction)", None),
    ("interruptions", "unexpected interruptions", "expected_interruptions"),
    ("planned_interruptions", "planned interruptions", None),
    ("productive_hours", "productive (h)", None),
    ("throttled_hours", "throttled by smoothing (h)", None),
    ("degraded_hours", "below full width (h)", None),
    ("slow_hours", "slowed by stragglers (h)", None),
    ("checkpoint_hours", "checkpoint (h)", None),
    ("lost_work_hours", "lost work (h)", None),
    ("detect_hours", "failure detection (h)", None),
    ("restart_hours", "restart (h)", None),
    ("ramp_hours", "soft start and stop (h)", None),
    ("waiting_hours", "waiting for hardware (h)", None),
    ("outage_hours", "site dark after trips (h)", None),
    ("effective_exaflops", "effective EFLOP/s", None),
    ("usd_per_effective_exaflop_hour", "USD per effective EFLOP/s·h", None),
    ("exaflops_per_busd_capex_per_mw", "EFLOP/s per $B capex per MW", None),
    ("energy_mwh", "facility energy (MWh)", None),
    ("peak_facility_mw", "peak facility load (MW)", None),
    ("battery_peak_mw", "battery peak (MW)", None),
    ("battery_throughput_mwh", "battery throughput (MWh)", None),
    ("battery_cycles", "battery cycles", None),
    ("power_trips", "power trips", None),
    ("frequency_max_deviation_hz", "largest |Δf| (Hz)", None),
    ("frequency_nadir_hz", "frequency nadir Δf (Hz)", None),
    ("frequency_peak_hz", "frequency peak Δf (Hz)", None),
    ("rocof_max_hz_per_s", "largest RoCoF (Hz/s)", None),
    ("oscillation_amplitude_hz", "iteration oscillation (Hz, amplitude)", None),
    ("oscillation_violation_hours", "band limit exceeded (h)", None),
    ("frequency_excursion_hours", "outside the normal band (h)", None),
    ("unserved_mwh", "unserved energy (MWh)", None),
    ("grid_ramp_violations", "grid ramp-limit exceedances", None),
    ("generator_oscillation_hours", "generators oscillating (h)", None),
    ("soc_limit_hours", "battery at SoC limit (h)", None),
    ("floor_energy_mwh", "power-floor energy (MWh)", None),
    ("energy_cost_usd", "energy cost (USD)", None),
    ("power_capex_usd", "storage capex (USD)", None),
]


#: time rows shown only when the scenario uses their mechanism (they are 0 otherwise)
_ONLY_IF_USED = ("degraded_hours", "slow_hours", "detect_hours")


def render_run_table(console: Console, scenario: Scenario, summary: dict[str, Any]) -> None:
    """Print the simulated-vs-analytic table and the analytic block."""
    a = summary["analytic"]
    n = summary["replications"]
    c = scenario.cluster
    hardware = " + ".join(f"{g.gpus:,} {g.gpu.upper()}" for g in c.fleet) if c.fleet \
        else f"{scenario.job_gpus:,} × {c.gpu.upper()}"
    table = Table(title=f"{scenario.name}: {hardware}"
                        f", {n} replications, seed {summary['seed']}")
    table.add_column("metric")
    table.add_column("simulated mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("analytic", justify="right")
    for key, label, akey in _ROWS:
        est = summary.get(key)
        if est is None or est["mean"] is None or not math.isfinite(est["mean"]):
            continue  # a metric that does not apply to this scenario
        if key in _ONLY_IF_USED and est["mean"] == 0.0:
            continue  # a mechanism the scenario does not use
        ci = f"[{_fmt(est['ci95_low'])}, {_fmt(est['ci95_high'])}]"
        analytic = ("n/a" if summary.get("analytic_caveats") else _fmt(a[akey])) if akey else ""
        table.add_row(label, _fmt(est["mean"]), ci, analytic)
    ledger = [summary[k]["mean"] if k in summary else 0.0 for k in LEDGER]
    if all(v is not None and math.isfinite(v) for v in ledger):
        # the rows from productive to site dark account for every hour of the wall clock
        table.add_row("sum of the time rows (h)", _fmt(sum(ledger)), "", "")
        table.add_row("wall clock (h)", _fmt((summary["wall_clock_days"]["mean"] or 0.0) * 24.0),
                      "", "")
    for key, est in (summary.get("smoothing_energy_mwh") or {}).items():
        if est["mean"]:
            table.add_row(f"smoothing energy: {key} (MWh)", _fmt(est["mean"]),
                          _ci(est["ci95_low"], est["ci95_high"]), "")
    for key, est in (summary.get("oscillation_band_mw") or {}).items():
        table.add_row(f"{key} (MW, largest harmonic)", _fmt(est["mean"]),
                      _ci(est["ci95_low"], est["ci95_high"]), "")
    console.print(table)
    render_causes(console, summary)
    for w in summary.get("warnings") or []:
        console.print(f"warning: {w['message']}", style="yellow", highlight=False)
    reasons = summary.get("power_trips_by_reason") or {}
    tripped = {k: v["mean"] for k, v in reasons.items() if v["mean"]}
    if tripped:
        console.print("power trips by reason (mean per replication): " + ", ".join(
            f"{k} {_fmt(v)}" for k, v in sorted(tripped.items(), key=lambda kv: -kv[1])),
            highlight=False)
    kind = "exponential causes" if a["exponential_only"] else "mean rates (Weibull causes present)"
    console.print(
        f"analytic ({kind}): job MTBF {a['job_mtbf_hours']:.3g} h "
        f"({a['job_failure_rate_per_day']:.3g} failures/day); optimum checkpoint interval "
        f"Young {a['young_interval_min']:.3g} min, Daly {a['daly_interval_min']:.3g} min "
        f"(scenario: {scenario.job.checkpoint.interval / 60:.3g} min)",
        highlight=False,
    )
    written, lost = summary.get("checkpoint_hours_by_tier"), summary.get("lost_hours_by_tier")
    if written and lost:
        console.print("checkpoint tiers (mean h per replication): " + "; ".join(
            f"{k} writes {_fmt(written[k]['mean'])}, lost rolling back to it "
            f"{_fmt(lost.get(k, {}).get('mean', 0.0))}" for k in written), highlight=False)
    prec = summary.get("precision")
    if prec:
        console.print(
            f"precision: {prec['metric']} 95% CI half-width {prec['achieved_rel']:.3%} of the "
            f"mean after {prec['replications']} replications (--ci-target "
            f"{prec['target_rel']:.3%}{'' if prec['met'] else ', not met'})", highlight=False)
    start = summary.get("initial_state")
    if start:
        console.print("start: " + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in start.items()),
                      highlight=False)
    perf = summary["perf"]
    console.print(
        f"perf: {perf['events']:,} events, {perf['seconds_per_replication']:.3f} s/replication, "
        f"{perf['events_per_second']:,.0f} events/s, {perf['wall_seconds']:.2f} s wall",
        highlight=False,
    )


def render_causes(console: Console, summary: dict[str, Any]) -> None:
    """What each cause cost, the costliest first: "which cause costs us most?"."""
    costs = {c: v for c, v in (summary.get("cost_by_cause") or {}).items() if v["total_hours"]}
    if not costs:
        return
    table = Table(title="cost by cause (mean per replication)")
    for name in ("cause", "interruptions", "lost work (h)", "restarts (h)", "down (h)",
                 "total (h)", "share"):
        table.add_column(name, justify="left" if name == "cause" else "right")
    total = sum(v["total_hours"] for v in costs.values())
    for cause, v in costs.items():
        table.add_row(cause, _fmt(v["interruptions"]), _fmt(v["lost_hours"]),
                      _fmt(v["restart_hours"]), _fmt(v["down_hours"]), _fmt(v["total_hours"]),
                      f"{v['total_hours'] / total:.1%}")
    console.print(table)


def metric_label(metric: str) -> str:
    """The run table's readable name of a metric, e.g. 'wall clock (days)'; the metric's own
    name with its unit for those the run table does not show."""
    from simulator.records import METRICS

    for key, label, _ in _ROWS:
        if key == metric:
            return label
    unit = METRICS.get(metric)
    return f"{metric} ({unit})" if unit not in (None, "fraction", "count") else metric


def _ci(est_low: float | None, est_high: float | None) -> str:
    return f"[{_fmt(est_low)}, {_fmt(est_high)}]"


def render_sweep_table(console: Console, meta: dict[str, Any], rows: list[dict[str, Any]],
                       cached: set[int]) -> None:
    """Points with their parameters (display units) and the chosen metrics' mean and CI."""
    from simulator.sweepgrid import by_key
    from simulator.sweepparams import display_scale

    rows = by_key(rows, meta["params"])
    table = Table(title=f"{meta['scenario']}: sweep of {len(rows)} points, "
                        f"{meta['replications']} replications each, seed {meta['seed']} "
                        f"(common random numbers)")
    table.add_column("#", justify="right")
    scales = {}
    for p in meta["params"]:
        scale, unit = display_scale(p["kind"], [r[p["key"]] for r in rows])
        scales[p["key"]] = scale
        table.add_column(f"{p['key']}" + (f" ({unit})" if unit else ""), justify="right")
    for m in meta["metrics"]:
        table.add_column(f"{metric_label(m)}: mean", justify="right")
        table.add_column("95% CI", justify="right")
    if cached:
        table.add_column("")
    for r in rows:
        cells = [str(int(r["point"]))]
        for p in meta["params"]:
            v = r[p["key"]]
            cells.append(_val(v / scales[p["key"]]) if isinstance(v, int | float) else _val(v))
        for m in meta["metrics"]:
            cells += [_fmt(r[f"{m}_mean"]), _ci(r[f"{m}_ci95_low"], r[f"{m}_ci95_high"])]
        if cached:
            cells.append("cached" if int(r["point"]) in cached else "")
        table.add_row(*cells)
    console.print(table)


def render_optima(console: Console, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Checkpoint-interval lines: simulated argmin (and refined optimum) beside Young and Daly."""
    from simulator.sweepgrid import INTERVAL_KEY, by_key

    if INTERVAL_KEY not in [p["key"] for p in meta["params"]]:
        return
    rows = by_key(rows, meta["params"])
    if meta.get("mode") == "zip" and len(meta["params"]) > 1:
        return  # paired values: no series over the interval alone to take an argmin of
    optima = meta.get("optimize") or []
    groups: dict[str, list[dict[str, Any]]] = {}
    others = [p["key"] for p in meta["params"] if p["key"] != INTERVAL_KEY]
    from simulator.sweepparams import display_scale

    units = {p["key"]: display_scale(p["kind"], [r[p["key"]] for r in rows
                                                 if isinstance(r[p["key"]], int | float)])
             for p in meta["params"] if p["key"] in others}
    for r in rows:
        groups.setdefault(_series_label(r, others, units), []).append(r)
    for label, group in groups.items():
        best = min(group, key=lambda r: r["wall_clock_days_mean"]
                   if math.isfinite(r["wall_clock_days_mean"]) else math.inf)
        head = f"checkpoint interval{f' ({label})' if label else ''}: "
        line = (f"sweep argmin {best[INTERVAL_KEY] / 60:.3g} min "
                f"(wall clock {_fmt(best['wall_clock_days_mean'])} d)")
        for opt in optima:
            if _series_label(opt["series"], others, units) == label:
                w = opt["wall_clock_days"]
                line += (f"; refined {opt['interval_s'] / 60:.3g} min (wall clock {_fmt(w['mean'])}"
                         f" d {_ci(w['ci95_low'], w['ci95_high'])}, "
                         f"{len(opt['evaluations'])} more evaluations)")
                if opt["at_edge"]:
                    line += " — the minimum is at the edge of the sweep: widen the range"
        line += (f"; analytic Young {best['young_interval_s'] / 60:.3g} min, "
                 f"Daly {best['daly_interval_s'] / 60:.3g} min "
                 f"(job MTBF {best['job_mtbf_hours']:.3g} h)")
        console.print(head + line, highlight=False)


def _pct(rel: Any) -> str:
    if not isinstance(rel, float) or not math.isfinite(rel):
        return ""
    p = 100.0 * rel
    return f"{p:+,.0f}%" if abs(p) >= 99.5 else f"{p:+.2g}%"


def _val(v: Any) -> str:
    return _fmt(float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def _series_label(values: dict[str, Any], keys: list[str],
                  units: dict[str, tuple[float, str]]) -> str:
    parts = []
    for k in keys:
        v, (scale, unit) = values.get(k), units.get(k, (1.0, ""))
        if isinstance(v, int | float) and not isinstance(v, bool):
            parts.append(f"{k}={_fmt(v / scale)}" + (f" {unit}" if unit else ""))
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def render_compare_table(console: Console, meta: dict[str, Any], rows: list[dict[str, Any]],
                         metrics: list[str]) -> None:
    """Each metric per scenario, and paired differences against the first scenario."""

    labels = meta["labels"]
    table = Table(title=f"{' vs '.join(labels)}: {meta['replications']} paired replications, "
                        f"seed {meta['seed']} (common random numbers)")
    table.add_column("metric")
    for label in labels:
        table.add_column(f"{label}\nmean [95% CI]", justify="right")
    for label in labels[1:]:
        table.add_column(f"{label} − {labels[0]}\npaired 95% CI", justify="right")
        table.add_column("relative", justify="right")
    by = {(r["metric"], r["scenario"]): r for r in rows}
    for m in metrics:
        cells = [metric_label(m)]
        for label in labels:
            r = by[(m, label)]
            cells.append(f"{_fmt(r['mean'])} {_ci(r['ci95_low'], r['ci95_high'])}")
        for label in labels[1:]:
            r = by[(m, label)]
            cells.append(f"{_fmt(r['diff_mean'])} {_ci(r['diff_ci95_low'], r['diff_ci95_high'])}")
            cells.append(_pct(r["diff_relative"]))
        table.add_row(*cells)
    console.print(table)


def render_optimize(console: Console, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The search path (every value tried, in order) and the answer with its 95% CI."""
    key, obj = meta["param"], meta["objective"]
    goal = "maximise" if meta["maximize"] else "minimise"
    cons = ", ".join(meta["constraints"]) or "none"
    table = Table(title=f"{meta['scenario']}: {goal} {obj} over {key}; constraints: {cons}; "
                        f"{meta['replications']} replications per value, seed {meta['seed']}")
    for name in ("#", "step", key, f"{obj} mean", "95% CI", "feasible"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for r in rows:
        table.add_row(str(r["evaluation"]), r["step"], _fmt(r[meta.get("column", key)], 6),
                      _fmt(r[f"{obj}_mean"]),
                      _ci(r[f"{obj}_ci95_low"], r[f"{obj}_ci95_high"]),
                      "yes" if r["feasible"] else "no")
    console.print(table)
    a = meta["answer"]
    if a is None:
        console.print(f"no value of {key} in [{_fmt(meta['bounds'][0])}, "
                      f"{_fmt(meta['bounds'][1])}] meets the constraints ({cons})",
                      highlight=False)
        return
    console.print(f"answer: {key} = {_fmt(a[key], 6)}: {obj} {_fmt(a['mean'])} "
                  f"{_ci(a['ci95_low'], a['ci95_high'])} (mean, 95% CI)", highlight=False)

