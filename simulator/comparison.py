"""Paired comparison of scenarios on common random numbers.

Replication i of every compared scenario uses ``SeedSequence(seed).spawn(n)[i]`` (with the
same child stream per random component), so scenario differences are estimated from
per-replication differences: the paired 95% t-interval of their mean is usually much
narrower than the unpaired (Welch) interval of the difference of the means, which is also
reported to show it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.config import Scenario
from simulator.executors import Executor, Task, run_tasks
from simulator.loader import ScenarioError
from simulator.records import METRICS, ReplicationRecord, metric_range
from simulator.runner import seeds_for
from simulator.stats import estimate, paired_difference, welch_difference

#: the metrics a comparison shows when ``--metric`` is not given (those with data)
DEFAULT_TABLE = ("wall_clock_days", "ettr", "utilization", "effective_mfu", "interruptions",
                 "lost_work_hours", "restart_hours", "waiting_hours", "outage_hours",
                 "effective_exaflops", "usd_per_effective_exaflop_hour", "energy_mwh",
                 "peak_facility_mw", "battery_peak_mw", "power_trips", "unserved_mwh",
                 "energy_cost_usd")
DEFAULT_PLOT = ("wall_clock_days", "ettr", "utilization", "interruptions", "energy_mwh",
                "power_trips")
COLUMNS = ("metric", "scenario", "mean", "std", "ci95_low", "ci95_high", "n", "diff_mean",
           "diff_ci95_low", "diff_ci95_high", "diff_unpaired_ci95_low",
           "diff_unpaired_ci95_high", "diff_relative")


def labels_for(paths: Sequence[Path], scenarios: Sequence[Scenario]) -> list[str]:
    """Unique short labels: scenario names, else file stems, else numbered."""
    names = [s.name for s in scenarios]
    if len(set(names)) == len(names):
        return names
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    out: list[str] = []
    for name in names:
        label, k = name, 2
        while label in out:
            label, k = f"{name}-{k}", k + 1
        out.append(label)
    return out


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``--variant "LABEL: key=value; key=value"`` -> (label, ["key=value", ...]): the first
    scenario file with these overrides, compared under LABEL."""
    label, sep, rest = text.partition(":")
    sets = [part.strip() for part in rest.split(";") if part.strip()]
    if not sep or not label.strip() or not sets or any("=" not in s for s in sets):
        raise ScenarioError([f"--variant {text!r}: expected 'LABEL: key=value; key=value', "
                             f"e.g. 'restart 2 min: job.restart.time=2 min'"])
    return label.strip(), sets


def default_dir(labels: Sequence[str]) -> Path:
    """``results/compare-<a>-vs-<b>`` (three names at most, then ``-and-N-more``)."""
    shown = "-vs-".join(labels[:3])
    if len(labels) > 3:
        shown += f"-and-{len(labels) - 3}-more"
    return Path("results") / f"compare-{safe(shown)}"


def safe(text: str) -> str:
    """A file-name-safe version of a label."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)


def run_compare(scenarios: Sequence[Scenario], seed: int, replications: int,
                executor: Executor, progress: Any = None) -> list[list[ReplicationRecord]]:
    """Replication i of every scenario on ``SeedSequence(seed).spawn(n)[i]``; all tasks in
    one batch. Returns records per scenario, in replication order."""
    seqs = seeds_for(seed, replications)
    data = [s.model_dump(mode="json") for s in scenarios]
    tasks = [Task(k, seqs[i], i) for k in range(len(scenarios)) for i in range(replications)]
    flat = run_tasks(executor, data, tasks, progress)
    return [flat[k * replications:(k + 1) * replications] for k in range(len(scenarios))]


def compare_rows(labels: Sequence[str], records: Sequence[Sequence[ReplicationRecord]],
                 metrics: Sequence[str] = tuple(METRICS)) -> list[dict[str, Any]]:
    """Long table: one row per (metric, scenario) with the estimate and, against the first
    scenario, the paired difference (CI of the mean per-replication difference), the unpaired
    (Welch) CI of the difference and the relative difference."""
    rows = []
    for m in metrics:
        base = [float(getattr(r, m)) for r in records[0]]
        for k, (label, recs) in enumerate(zip(labels, records, strict=True)):
            x = [float(getattr(r, m)) for r in recs]
            est = estimate(x, metric_range(m))
            row: dict[str, Any] = {"metric": m, "scenario": label, "mean": est.mean,
                                   "std": est.std, "ci95_low": est.ci95_low,
                                   "ci95_high": est.ci95_high, "n": est.n}
            if k == 0:
                row.update({k: math.nan for k in COLUMNS[7:]})
            else:
                d = paired_difference(x, base)
                w = welch_difference(x, base)
                b = estimate(base).mean
                row.update({
                    "diff_mean": d.mean, "diff_ci95_low": d.ci95_low,
                    "diff_ci95_high": d.ci95_high, "diff_unpaired_ci95_low": w.ci95_low,
                    "diff_unpaired_ci95_high": w.ci95_high,
                    "diff_relative": d.mean / b if b and math.isfinite(b) else math.nan,
                })
            rows.append(row)
    return rows


def shown_metrics(rows: Sequence[dict[str, Any]], wanted: Sequence[str]) -> list[str]:
    """The wanted metrics that have a finite mean for some scenario."""
    have = {r["metric"] for r in rows
            if isinstance(r["mean"], float) and math.isfinite(r["mean"])}
    return [m for m in wanted if m in have]
