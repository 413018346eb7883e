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
import csv
import hashlib
import io
import itertools
import json
import math
import os
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from simulator import units
from simulator.analytic import analytic_for
from simulator.config import Scenario
from simulator.configbase import inner_model
from simulator.executors import Executor, Task
from simulator.loader import (
    ScenarioError,
    apply_overrides,
    parse_override,
    read_yaml,
    resolved_dict,
    validate_data,
)
from simulator.output import atomic_write_text
from simulator.records import METRICS, ReplicationRecord, metric_range
from simulator.runner import seeds_for
from simulator.stats import Estimate, estimate

#: bump when the meaning of a cached point changes (invalidates every points/ folder)
POINT_FORMAT = 2
#: the most points one sweep may have (grid size or --range N)
MAX_POINTS = 10_000
INTERVAL_KEY = "job.checkpoint.interval"
DEFAULT_METRICS = ("ettr", "wall_clock_days")
#: the analytic columns of sweep.csv
ANALYTIC_COLUMNS = ("job_mtbf_hours", "young_interval_s", "daly_interval_s", "daly_ettr",
                    "daly_wall_clock_days")
#: unit converters of :mod:`simulator.units` by the kind of quantity they read
_CONVERTERS: dict[str, Callable[[Any], float]] = {
    "duration": units.to_seconds,
    "power": units.to_watts,
    "energy": units.to_joules,
    "money": units.to_usd,
    "ramp": units.to_watts_per_second,
    "price": units.to_usd_per_joule,
}

#: the SI unit a column of swept values carries in its name, by kind of quantity
SI_SUFFIX = {"duration": "_s", "power": "_w", "energy": "_j", "money": "_usd",
             "ramp": "_w_per_s", "price": "_usd_per_j"}

Progress = Callable[[int], None]


# ---- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """One swept key and the values it takes (as written into the scenario mapping)."""

    key: str
    values: tuple[Any, ...]
    log: bool = False
    #: kind of quantity (duration, power, ...) when known, for axis units
    kind: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "column": param_column(self.key), "log": self.log,
                "kind": self.kind, "text": self.text, "values": list(self.values)}


def param_column(key: str) -> str:
    """The CSV column of a swept key: the key with its SI unit, e.g.
    ``job.checkpoint.interval_s`` (values in seconds); counts and fractions keep the key."""
    return key + SI_SUFFIX.get(unit_kind(key) or "", "")


def split_values(text: str) -> list[str]:
    """``"2 min, 5 min, {a: 1, b: 2}"`` -> items, splitting on commas outside brackets."""
    items, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur).strip())
    return items


def unit_kind(key: str) -> str | None:
    """The kind of quantity the scenario key holds (``duration``, ``power``...), if any."""
    from pydantic import BaseModel

    model: Any = Scenario
    kind = None
    for part in key.split("."):
        if part.isdigit():
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        kind = _converter_kind([info.annotation, *info.metadata])
        model = inner_model(info.annotation)
    return kind


def _converter_kind(objs: Sequence[Any]) -> str | None:
    for obj in objs:
        func = getattr(obj, "func", None)
        for kind, conv in _CONVERTERS.items():
            if func is conv:
                return kind
        args = typing.get_args(obj)
        if args:
            found = _converter_kind([*args, *getattr(obj, "__metadata__", ())])
            if found:
                return found
    return None


def parse_values(key: str, text: str) -> ParamSpec:
    """``--values "2 min,5 min,10 min"``: each item read as in ``--set`` (YAML, units kept)."""
    items = split_values(text)
    if len(items) > MAX_POINTS:
        raise ScenarioError([f"--param {key} --values: {len(items):,} values is more than "
                             f"{MAX_POINTS:,}"])
    if not text.strip() or any(not item for item in items):
        raise ScenarioError([f"--param {key} --values {text!r}: expected a comma-separated list "
                             f"of values, e.g. '2 min,5 min,10 min'"])
    values = tuple(parse_override(f"{key}={item}")[1] for item in items)
    kind = unit_kind(key) or _typed_kind(values)
    # compare quantities in SI, so that "5 min" and "300 s" count as the same point
    same: list[Any] = []
    for v in values:
        try:
            same.append(_CONVERTERS[kind](v) if kind in _CONVERTERS else v)
        except units.UnitError:
            same.append(v)  # the scenario's validation reports it
    seen: dict[Any, int] = {}
    for k, v in enumerate(same):
        try:
            first = seen.setdefault(v, k)
        except TypeError:  # an unhashable value (a list or mapping): not compared
            continue
        if first != k:
            also = f" (the same as {items[first]!r})" if items[first] != items[k] else ""
            raise ScenarioError([f"--param {key} --values {text!r}: {items[k]!r} is "
                                 f"repeated{also}"])
    return ParamSpec(key, values, log=False, kind=kind, text=f"--values {text}")


def _typed_kind(values: Sequence[Any]) -> str | None:
    for kind, conv in _CONVERTERS.items():
        try:
            if all(isinstance(v, str) for v in values):
                for v in values:
                    conv(v)
                return kind
        except units.UnitError:
            continue
    return None


def parse_range(key: str, text: str) -> ParamSpec:
    """``--range START:STOP:N``: N log-spaced values, e.g. ``"2 min:30 min:10"`` (SI out).

    START and STOP may carry units of the same kind; plain integers give integer values
    (rounded, repeats dropped) so counts can be swept too.
    """
    where = f"--param {key} --range {text!r}"
    parts = [p.strip() for p in text.split(":")]
    if len(parts) != 3:
        raise ScenarioError([f"{where}: expected START:STOP:N, e.g. '2 min:30 min:10'"])
    try:
        n = int(parts[2])
    except ValueError:
        raise ScenarioError([f"{where}: N must be a whole number, got {parts[2]!r}"]) from None
    if n < 2:
        raise ScenarioError([f"{where}: N must be at least 2"])
    if n > MAX_POINTS:
        raise ScenarioError([f"{where}: N = {n:,} is more than {MAX_POINTS:,} points"])
    ends, kind = range_ends(where, parts[0], parts[1])
    start, stop = ends
    if not (start > 0 and stop > 0 and math.isfinite(start) and math.isfinite(stop)):
        raise ScenarioError([f"{where}: a log-spaced range needs START and STOP above 0"])
    if start == stop:
        raise ScenarioError([f"{where}: START and STOP are equal"])
    grid = np.geomspace(start, stop, n)
    integers = kind is None and all(_is_int_text(p) for p in parts[:2])
    if integers:
        vals: list[Any] = []
        for v in grid:
            r = round(float(v))
            if r not in vals:
                vals.append(r)
    else:
        vals = [float(v) for v in grid]
        vals[0], vals[-1] = start, stop  # exact ends
    return ParamSpec(key, tuple(vals), log=True, kind=unit_kind(key) or kind,
                     text=f"--range {text}")


def _is_int_text(s: str) -> bool:
    return s.lstrip("+-").isdigit()


def range_ends(where: str, a: str, b: str) -> tuple[tuple[float, float], str | None]:
    try:
        plain = (float(a), float(b))
    except ValueError:
        pass
    else:
        return plain, None
    for kind, conv in _CONVERTERS.items():
        try:
            return (conv(a), conv(b)), kind
        except units.UnitError:
            continue
    raise ScenarioError([f"{where}: START and STOP must be numbers or quantities of the same "
                         f"kind, e.g. '2 min:30 min:10' or '10 MW:200 MW:8'"])


def combinations(specs: Sequence[ParamSpec], zip_: bool) -> list[dict[str, Any]]:
    """The points: every combination (grid) or the i-th value of each (zip)."""
    keys = [s.key for s in specs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ScenarioError([f"--param {dup[0]}: given more than once"])
    if zip_:
        lengths = {s.key: len(s.values) for s in specs}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ScenarioError([f"--zip needs the same number of values for every --param "
                                 f"({listed})"])
        return [dict(zip(keys, combo, strict=True))
                for combo in zip(*(s.values for s in specs), strict=True)]
    size = math.prod(len(s.values) for s in specs)
    if size > MAX_POINTS:
        raise ScenarioError([f"{', '.join(f'--param {k}' for k in keys)}: the grid of "
                             f"{' × '.join(str(len(s.values)) for s in specs)} "
                             f"values has {size:,} points, more than {MAX_POINTS:,}: sweep "
                             f"fewer values, or pair them with --zip"])
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(s.values for s in specs))]


def describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())


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

    def __init__(self, path: Path, sets: Sequence[str], specs: Sequence[ParamSpec], zip_: bool,
                 seed: int | None, replications: int | None):
        self.path = Path(path)
        #: further folders whose points/ a resumed sweep reuses (the previous result folder)
        self.also_read: list[Path] = []
        self.specs = list(specs)
        self.zip = zip_
        self._seed, self._replications = seed, replications
        data = read_yaml(self.path)
        self.base_data = apply_overrides(data, [parse_override(s) for s in sets])
        self.base = validate_data(self.base_data, str(self.path), self.path.parent, sets)
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
            data = apply_overrides(self.base_data, overrides.items())
        except ScenarioError as exc:
            raise ScenarioError([p.replace("--set ", "--param ", 1) for p in exc.problems]) from None
        scenario = validate_data(data, f"{self.path} (point {describe(overrides)})",
                                 self.path.parent)
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

    def load_cached(self, out_dir: Path, point: SweepPoint) -> list[ReplicationRecord] | None:
        """The records of a finished point, from ``out_dir`` or else a folder of
        :attr:`also_read`, or None (missing, unreadable or not this point)."""
        for folder in (out_dir, *self.also_read):
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

    def save(self, out_dir: Path, point: SweepPoint, records: Sequence[ReplicationRecord]) -> None:
        body = {"format": POINT_FORMAT, "key": point.key, "params": point.params,
                "overrides": point.overrides, "seed": point.seed,
                "replications": point.replications,
                "records": [r.to_dict() for r in records]}
        from simulator.output import _clean

        body = _clean(body)
        body["sha256"] = _records_digest(body["records"])
        atomic_write_text(self.point_file(out_dir, point), json.dumps(body) + "\n")

    def plan(self, out_dir: Path, points: Sequence[SweepPoint]
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

    def compute(self, out_dir: Path, points: Sequence[SweepPoint], executor: Executor,
                progress: Progress | None = None) -> list[PointResult]:
        """Every point's records: from ``DIR/points/`` when finished earlier, else computed
        (all replications of all pending points in one batch; each point saved when done)."""
        cached, pending = self.plan(out_dir, points)
        fresh = run_points(pending, executor, progress,
                           on_point=lambda p, recs: self.save(out_dir, p, recs))
        return [PointResult(p, cached[p.key], True) if p.key in cached
                else PointResult(p, fresh[p.key], False) for p in points]

    # -- optimize --

    def optimize(self, out_dir: Path, results: Sequence[PointResult], executor: Executor,
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


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


def rows_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a sweep.csv or compare.csv with numbers as floats (empty cells NaN)."""
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        conv: dict[str, Any] = {}
        for k, v in row.items():
            if v == "":
                conv[k] = math.nan
                continue
            try:
                conv[k] = float(v)
            except ValueError:
                conv[k] = v
        out.append(conv)
    return out


# ---- display units -------------------------------------------------------------------------


def display_scale(kind: str | None, values: Sequence[float]) -> tuple[float, str]:
    """(SI per display unit, unit label) for axis and table values of a quantity kind."""
    finite = [abs(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    top = max(finite, default=0.0)
    if kind == "duration":
        for limit, scale, label in ((180.0, 1.0, "s"), (3 * 3600.0, 60.0, "min"),
                                    (3 * 86400.0, 3600.0, "h")):
            if top <= limit:
                return scale, label
        return 86400.0, "d"
    if kind == "power":
        for scale, label in ((1e9, "GW"), (1e6, "MW"), (1e3, "kW")):
            if top >= scale:
                return scale, label
        return 1.0, "W"
    if kind == "energy":
        return (3.6e9, "MWh") if top >= 3.6e9 else (3.6e6, "kWh")
    if kind == "ramp":
        return 1e6, "MW/s"
    if kind == "money":
        return 1.0, "USD"
    if kind == "price":
        return 1.0 / 3.6e9, "USD/MWh"
    return 1.0, ""
