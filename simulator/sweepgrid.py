"""Parameter sweeps: a scenario run at every point of a grid (or zip) of parameter values.

Each point is a full run (all replications) of the scenario with the point's values set at
dotted keys, seeded with the same root seed at every point (common random numbers), so the
differences between points are not drowned in replication noise.

Points are cached in ``DIR/points/<key>.json``, ``key`` a hash of the point's resolved
scenario (without its name and description), seed and replication count: a sweep run again
with the same output folder reuses every finished point and computes only the others.
``--optimize`` refines the best checkpoint interval with a bounded scalar search on
log(interval) over the same seeds; its evaluations are cached points too.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from simulator.analytic import analytic_for
from simulator.config import Scenario
from simulator.executors import Executor, Task
from simulator.loader import (
    ScenarioError,
    read_source,
    resolved_dict,
)
from simulator.output import atomic_write_text
from simulator.records import METRICS, ReplicationRecord, metric_range
from simulator.runner import seeds_for
from simulator.stats import Estimate, estimate
from simulator.sweepparams import ParamSpec, combinations, describe, param_column

#: bump when the meaning of a cached point changes (invalidates every points/ folder)
POINT_FORMAT = 2
INTERVAL_KEY = "job.checkpoint.interval"
DEFAULT_METRICS = ("ettr", "wall_clock_days")
#: the analytic columns of sweep.csv
ANALYTIC_COLUMNS = ("job_mtbf_hours", "young_interval_s", "daly_interval_s", "daly_ettr",
                    "daly_wall_clock_days")

Progress = Callable[[int], None]

# ---- points --------------------------------------------------------------------------------


@dataclass
class SweepPoint:
    """One point: its overrides (as typed), validated scenario, seed and replications."""

    index: int
    overrides: dict[str, Any]
    scenario: Scenario
    data: dict[str, Any]
    params: dict[str, Any]
    seed: int
    replications: int
    key: str


@dataclass
class PointResult:
    point: SweepPoint
    records: list[ReplicationRecord]
    cached: bool

    def estimate(self, metric: str) -> Estimate:
        return estimate((float(getattr(r, metric)) for r in self.records), metric_range(metric))


def point_key(data: dict[str, Any], seed: int, replications: int) -> str:
    """Hash of what determines a point's numbers: the resolved scenario (without name,
    description and sources), the seed and the replication count."""
    d = copy.deepcopy(data)
    for k in ("name", "description", "sources"):
        d.pop(k, None)
    run = d.get("run") or {}
    run.pop("seed", None)
    run.pop("replications", None)
    trace = (d.get("failures") or {}).get("trace")
    if trace:
        with contextlib.suppress(OSError):
            d["failures"]["trace_sha256"] = hashlib.sha256(Path(trace).read_bytes()).hexdigest()
    from simulator import __version__

    # the model version is in the key: a point computed by another version is recomputed
    blob = json.dumps({"format": POINT_FORMAT, "model": __version__, "scenario": d,
                       "seed": seed, "replications": replications}, sort_keys=True,
                      allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def keep_points(source: Path, target: Path) -> int:
    """Hard-link (or copy) every point file of ``source/points`` missing from ``target/points``,
    so a sweep's new folder keeps the cache of the one it replaces; returns how many."""
    import shutil

    src, dst = source / "points", target / "points"
    if not src.is_dir():
        return 0
    dst.mkdir(parents=True, exist_ok=True)
    kept = 0
    for f in src.glob("*.json"):
        if (dst / f.name).exists():
            continue
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)
        kept += 1
    return kept


def _records_digest(records: Any) -> str:
    """SHA-256 of a point's records in canonical JSON: a point file whose numbers were edited
    no longer matches it."""
    blob = json.dumps(records, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def lookup(data: Any, key: str) -> Any:
    """The value at a dotted key of nested mappings and lists (None if absent)."""
    for part in key.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


_FLOAT_FIELDS = {f.name for f in fields(ReplicationRecord) if f.type in ("float", float)}


def record_from_dict(d: dict[str, Any]) -> ReplicationRecord:
    """A record from its JSON form (``null`` back to NaN)."""
    clean = {k: (math.nan if v is None and k in _FLOAT_FIELDS else v) for k, v in d.items()}
    return ReplicationRecord(**clean)


@dataclass
class Optimum:
    """The refined checkpoint interval of one series of points."""

    series: dict[str, Any]
    interval_s: float
    wall_clock_days: Estimate
    ettr: Estimate
    sweep_argmin_s: float
    bounds_s: tuple[float, float]
    at_edge: bool
    young_interval_s: float
    daly_interval_s: float
    evaluations: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"series": self.series, "interval_s": self.interval_s,
                "wall_clock_days": self.wall_clock_days.to_dict(), "ettr": self.ettr.to_dict(),
                "sweep_argmin_s": self.sweep_argmin_s, "bounds_s": list(self.bounds_s),
                "at_edge": self.at_edge, "young_interval_s": self.young_interval_s,
                "daly_interval_s": self.daly_interval_s,
                "evaluations": [{"interval_s": t, "wall_clock_days_mean": w}
                                for t, w in self.evaluations]}


class Sweep:
    """A scenario file, overrides and parameter specs resolved to validated points."""

    def __init__(self, source: Path | Mapping[str, Any], sets: Sequence[str],
                 specs: Sequence[ParamSpec], zip_: bool, seed: int | None,
                 replications: int | None):
        src = self.source = read_source(source, sets)
        self.label = src.label
        #: further folders whose points/ a resumed sweep reuses (the previous result folder)
        self.also_read: list[Path] = []
        self.specs = list(specs)
        self.zip = zip_
        self._seed, self._replications = seed, replications
        self.base = src.scenario
        problems: dict[str, str] = {}
        self.points: list[SweepPoint] = []
        for k, overrides in enumerate(combinations(self.specs, zip_)):
            try:
                self.points.append(self.make_point(k, overrides))
            except ScenarioError as exc:
                for line in exc.problems:
                    rest = line.split(": ", 1)[-1]  # the same problem at many points: once
                    problems.setdefault(rest, line)
        if problems:
            raise ScenarioError(list(problems.values()))

    @property
    def seed(self) -> int:
        return self.base.run.seed if self._seed is None else self._seed

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.specs]

    def make_point(self, index: int, overrides: dict[str, Any]) -> SweepPoint:
        """Validate the base scenario with ``overrides``; ScenarioError names the point."""
        try:
            scenario = self.source.varied(overrides.items(), f"point {describe(overrides)}")
        except ScenarioError as exc:  # a key that does not fit the file's shape: a --param's
            raise ScenarioError([p.replace("--set ", "--param ", 1) if p.startswith("--set ")
                                 else p for p in exc.problems]) from None
        resolved = resolved_dict(scenario)
        seed = scenario.run.seed if self._seed is None else self._seed
        n = scenario.run.replications if self._replications is None else self._replications
        params = {k: lookup(resolved, k) for k in overrides}
        return SweepPoint(index, dict(overrides), scenario, resolved, params, seed, n,
                          point_key(resolved, seed, n))

    # -- running --

    @staticmethod
    def point_file(out_dir: Path, point: SweepPoint) -> Path:
        return out_dir / "points" / f"{point.key}.json"

    def load_cached(self, out_dir: Path | None, point: SweepPoint
                    ) -> list[ReplicationRecord] | None:
        """The records of a finished point, from ``out_dir`` or else a folder of
        :attr:`also_read`, or None (missing, unreadable or not this point)."""
        for folder in (*([out_dir] if out_dir is not None else []), *self.also_read):
            records = self._read_point(self.point_file(folder, point), point)
            if records is not None:
                return records
        return None

    @staticmethod
    def _read_point(path: Path, point: SweepPoint) -> list[ReplicationRecord] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != POINT_FORMAT or data.get("key") != point.key:
                return None
            if data.get("sha256") != _records_digest(data["records"]):
                return None  # edited or damaged: recompute rather than trust it
            records = [record_from_dict(r) for r in data["records"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if [r.replication for r in records] != list(range(point.replications)):
            return None
        return records

    @staticmethod
    def save(out_dir: Path, point: SweepPoint, records: Sequence[ReplicationRecord]) -> None:
        body = {"format": POINT_FORMAT, "key": point.key, "params": point.params,
                "overrides": point.overrides, "seed": point.seed,
                "replications": point.replications,
                "records": [r.to_dict() for r in records]}
        from simulator.output import _clean

        body = _clean(body)
        body["sha256"] = _records_digest(body["records"])
        atomic_write_text(Sweep.point_file(out_dir, point), json.dumps(body) + "\n")

    def plan(self, out_dir: Path | None, points: Sequence[SweepPoint]
             ) -> tuple[dict[str, list[ReplicationRecord]], list[SweepPoint]]:
        """Cached records by point key, and the distinct points still to compute."""
        cached: dict[str, list[ReplicationRecord]] = {}
        pending: dict[str, SweepPoint] = {}
        for p in points:
            if p.key in cached or p.key in pending:
                continue
            records = self.load_cached(out_dir, p)
            if records is None:
                pending[p.key] = p
            else:
                cached[p.key] = records
        return cached, list(pending.values())

    def compute(self, out_dir: Path | None, points: Sequence[SweepPoint], executor: Executor,
                progress: Progress | None = None,
                planned: tuple[dict[str, list[ReplicationRecord]], list[SweepPoint]] | None
                = None) -> list[PointResult]:
        """Every point's records: from ``DIR/points/`` when finished earlier, else computed
        (all replications of all pending points in one batch; each point saved when done,
        unless ``out_dir`` is None). ``planned``: :meth:`plan`'s answer for these points,
        if the caller has it."""
        cached, pending = planned if planned is not None else self.plan(out_dir, points)
        fresh = run_points(pending, executor, progress, on_point=None if out_dir is None else
                           lambda p, recs: self.save(out_dir, p, recs))
        return [PointResult(p, cached[p.key], True) if p.key in cached
                else PointResult(p, fresh[p.key], False) for p in points]

    # -- optimize --

    def optimize(self, out_dir: Path | None, results: Sequence[PointResult], executor: Executor,
                 progress: Progress | None = None, xatol: float = 0.01,
                 maxiter: int = 20) -> list[Optimum]:
        """Refine the checkpoint interval minimising mean wall clock, per series of points
        (points that share the other parameters), over the sweep's seeds."""
        from scipy.optimize import minimize_scalar

        if INTERVAL_KEY not in self.keys:
            raise ScenarioError([f"--optimize refines {INTERVAL_KEY}: sweep it with "
                                 f"--param {INTERVAL_KEY}"])
        series: dict[str, list[PointResult]] = {}
        for r in results:
            others = {k: v for k, v in r.point.overrides.items() if k != INTERVAL_KEY}
            series.setdefault(json.dumps(others, sort_keys=True, default=str), []).append(r)
        optima = []
        for group in series.values():
            group = sorted(group, key=lambda r: float(r.point.params[INTERVAL_KEY]))
            taus = [float(r.point.params[INTERVAL_KEY]) for r in group]
            walls = [r.estimate("wall_clock_days").mean for r in group]
            j = int(np.nanargmin(walls))
            lo = taus[j - 1] if j > 0 else taus[j] / (2.0 if len(taus) == 1 else 1.0)
            hi = taus[j + 1] if j + 1 < len(taus) else taus[j] * (2.0 if len(taus) == 1 else 1.0)
            if lo == hi:
                lo, hi = taus[j] / 2.0, taus[j] * 2.0
            others = {k: v for k, v in group[0].point.overrides.items() if k != INTERVAL_KEY}
            evaluated: dict[float, PointResult] = {taus[k]: group[k] for k in range(len(group))}

            def wall(u: float, others: dict[str, Any] = others,
                     evaluated: dict[float, PointResult] = evaluated) -> float:
                tau = float(math.exp(u))
                if tau not in evaluated:
                    point = self.make_point(-1, {**others, INTERVAL_KEY: tau})
                    evaluated[tau] = self.compute(out_dir, [point], executor, progress)[0]
                return evaluated[tau].estimate("wall_clock_days").mean

            minimize_scalar(wall, bounds=(math.log(lo), math.log(hi)), method="bounded",
                            options={"xatol": xatol, "maxiter": maxiter})
            best_tau = min(evaluated, key=lambda t: evaluated[t].estimate("wall_clock_days").mean)
            best = evaluated[best_tau]
            analytic = analytic_for(best.point.scenario)
            optima.append(Optimum(
                series={k: group[0].point.params.get(k) for k in others}, interval_s=best_tau,
                wall_clock_days=best.estimate("wall_clock_days"), ettr=best.estimate("ettr"),
                sweep_argmin_s=taus[j], bounds_s=(lo, hi),
                at_edge=len(taus) > 1 and j in (0, len(taus) - 1),
                young_interval_s=analytic.young_interval_min * 60.0,
                daly_interval_s=analytic.daly_interval_min * 60.0,
                evaluations=sorted((t, r.estimate("wall_clock_days").mean)
                                   for t, r in evaluated.items() if t not in taus)))
        return optima


def run_points(points: Sequence[SweepPoint], executor: Executor,
               progress: Progress | None = None,
               on_point: Callable[[SweepPoint, list[ReplicationRecord]], None] | None = None,
               ) -> dict[str, list[ReplicationRecord]]:
    """Run every replication of every point as one batch; records by point key."""
    tasks = [Task(k, s, i) for k, p in enumerate(points)
             for i, s in enumerate(seeds_for(p.seed, p.replications))]
    collected: list[list[ReplicationRecord | None]] = [[None] * p.replications for p in points]
    left = [p.replications for p in points]
    out: dict[str, list[ReplicationRecord]] = {}
    for t, record in executor.run([p.data for p in points], tasks):
        k = tasks[t].scenario
        collected[k][tasks[t].replication] = record
        left[k] -= 1
        if left[k] == 0:
            records: list[ReplicationRecord] = collected[k]  # type: ignore[assignment]
            out[points[k].key] = records
            if on_point is not None:
                on_point(points[k], records)
        if progress is not None:
            progress(1)
    return out


def pending_tasks(points: Sequence[SweepPoint]) -> int:
    return sum(p.replications for p in points)


# ---- results -------------------------------------------------------------------------------


def sweep_rows(results: Sequence[PointResult], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per point: parameters (SI, the unit in the column name: :func:`param_column`),
    every metric's mean and 95% CI, analytic values."""
    rows = []
    columns = {k: param_column(k) for k in keys}
    for r in results:
        p = r.point
        row: dict[str, Any] = {"point": p.index}
        for k in keys:
            row[columns[k]] = p.params.get(k)
        row["replications"] = len(r.records)
        row["completed_fraction"] = sum(rec.completed for rec in r.records) / len(r.records)
        for m in METRICS:
            est = r.estimate(m)
            row[f"{m}_mean"] = est.mean
            row[f"{m}_ci95_low"] = est.ci95_low
            row[f"{m}_ci95_high"] = est.ci95_high
        a = analytic_for(p.scenario)
        row["job_mtbf_hours"] = a.job_mtbf_hours
        row["young_interval_s"] = a.young_interval_min * 60.0
        row["daly_interval_s"] = a.daly_interval_min * 60.0
        row["daly_ettr"] = a.daly_ettr
        row["daly_wall_clock_days"] = a.daly_wall_clock_days
        row["key"] = p.key
        rows.append(row)
    return rows


def by_key(rows: Sequence[dict[str, Any]], params: Sequence[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """Rows of sweep.csv with each swept value also under its bare key (files written before
    the unit joined the column name have only the key)."""
    return [{**r, **{p["key"]: r[p.get("column", p["key"])] for p in params}} for r in rows]
