"""Terminal output: the run table (simulated vs analytic) and progress bars."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.config import Scenario


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar, shown only on a TTY and not under CI."""
    show = enabled and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"
    if not show:
        yield lambda _n: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


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
    ("checkpoint_hours", "checkpoint (h)", None),
    ("lost_work_hours", "lost work (h)", None),
    ("restart_hours", "restart (h)", None),
    ("waiting_hours", "waiting for hardware (h)", None),
    ("effective_exaflops", "effective EFLOP/s", None),
    ("usd_per_effective_exaflop_hour", "USD per effective EFLOP/s·h", None),
    ("exaflops_per_busd_capex_per_mw", "EFLOP/s per $B capex per MW", None),
    ("energy_mwh", "facility energy (MWh)", None),
    ("peak_facility_mw", "peak facility load (MW)", None),
    ("battery_peak_mw", "battery peak (MW)", None),
    ("battery_throughput_mwh", "battery throughput (MWh)", None),
    ("battery_cycles", "battery cycles", None),
    ("power_trips", "power trips", None),
    ("unserved_mwh", "unserved energy (MWh)", None),
    ("grid_ramp_violations", "grid ramp-limit exceedances", None),
    ("generator_oscillation_hours", "generators oscillating (h)", None),
    ("soc_limit_hours", "battery at SoC limit (h)", None),
    ("floor_energy_mwh", "power-floor energy (MWh)", None),
    ("energy_cost_usd", "energy cost (USD)", None),
]


def render_run_table(console: Console, scenario: Scenario, summary: dict[str, Any]) -> None:
    """Print the simulated-vs-analytic table and the analytic block."""
    a = summary["analytic"]
    n = summary["replications"]
    table = Table(title=f"{scenario.name}: {scenario.job_gpus:,} × {scenario.cluster.gpu.upper()}"
                        f", {n} replications, seed {summary['seed']}")
    table.add_column("metric")
    table.add_column("simulated mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("analytic", justify="right")
    for key, label, akey in _ROWS:
        est = summary[key]
        if est["mean"] is None:
            continue
        ci = f"[{_fmt(est['ci95_low'])}, {_fmt(est['ci95_high'])}]"
        table.add_row(label, _fmt(est["mean"]), ci, _fmt(a[akey]) if akey else "")
    console.print(table)
    kind = "exponential causes" if a["exponential_only"] else "mean rates (Weibull causes present)"
    console.print(
        f"analytic ({kind}): job MTBF {a['job_mtbf_hours']:.3g} h "
        f"({a['job_failure_rate_per_day']:.3g} failures/day); optimum checkpoint interval "
        f"Young {a['young_interval_min']:.3g} min, Daly {a['daly_interval_min']:.3g} min "
        f"(scenario: {scenario.job.checkpoint.interval / 60:.3g} min)",
        highlight=False,
    )
    perf = summary["perf"]
    console.print(
        f"perf: {perf['events']:,} events, {perf['seconds_per_replication']:.3f} s/replication, "
        f"{perf['events_per_second']:,.0f} events/s, {perf['wall_seconds']:.2f} s wall",
        highlight=False,
    )
