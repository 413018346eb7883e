"""Result files: summary.json, replications.csv, resolved.yaml, metadata.json, timeline.csv.

Every file is written atomically (temporary file in the same folder, then ``os.replace``), so
a run that fails or is killed never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import yaml

from simulator import __version__
from simulator.analytic import Analytic
from simulator.model import Timeline
from simulator.power.plant import SEGMENT_COLUMNS, SegmentLog
from simulator.records import METRICS, ReplicationRecord
from simulator.stats import cost_by_cause, estimate, summarize, summarize_causes


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _clean(value: Any) -> Any:
    """JSON cannot hold NaN: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def build_summary(scenario_name: str, records: Sequence[ReplicationRecord], seed: int,
                  analytic: Analytic, wall_seconds: float,
                  warnings: Sequence[dict[str, str]] = (),
                  analytic_caveats: Sequence[str] = (),
                  initial_state: dict[str, str] | None = None) -> dict[str, Any]:
    """summary.json: metric -> {mean, std, ci95_low, ci95_high}, plus context blocks."""
    summary: dict[str, Any] = {"scenario": scenario_name, "replications": len(records),
                               "seed": seed}
    for name, est in summarize(records).items():
        summary[name] = est.to_dict()
    summary["interruptions_by_cause"] = {c: e.to_dict()
                                         for c, e in summarize_causes(records).items()}
    summary["cost_by_cause"] = cost_by_cause(records)
    if any(math.isfinite(r.power_trips) for r in records):
        from simulator.power.protection import REASONS

        summary["power_trips_by_reason"] = {
            c: e.to_dict() for c, e in summarize_causes(records, "power_trips_by_reason",
                                                        REASONS).items()}
    bands = sorted({k for r in records for k in r.oscillation_band_mw})
    if bands:
        summary["oscillation_band_mw"] = {
            k: estimate(r.oscillation_band_mw.get(k, 0.0) for r in records).to_dict()
            for k in bands}
    if any(r.smoothing_energy_mwh for r in records):
        summary["smoothing_energy_mwh"] = {
            k: estimate(r.smoothing_energy_mwh.get(k, 0.0) for r in records).to_dict()
            for k in sorted({k for r in records for k in r.smoothing_energy_mwh})}
    for name in ("checkpoint_hours_by_tier", "lost_hours_by_tier"):
        tiers = sorted({k for r in records for k in getattr(r, name)})
        if tiers:
            summary[name] = {k: estimate(getattr(r, name).get(k, 0.0) for r in records).to_dict()
                             for k in tiers}
    summary["completed_fraction"] = sum(r.completed for r in records) / len(records)
    summary["warnings"] = list(warnings)
    summary["analytic"] = analytic.to_dict()
    summary["analytic_caveats"] = list(analytic_caveats)
    if initial_state:
        summary["initial_state"] = dict(initial_state)
    events = sum(r.events for r in records)
    sim_s = sum(r.sim_seconds for r in records)
    summary["perf"] = {
        "events": events,
        "simulation_seconds": sim_s,
        "seconds_per_replication": sim_s / len(records),
        "events_per_second": events / sim_s if sim_s > 0 else math.nan,
        "wall_seconds": wall_seconds,
    }
    summary["units"] = METRICS
    return summary


def frame(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame (pandas is an optional extra)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame needs pandas: pip install pandas") from None
    return pd.DataFrame(list(rows))


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as a Parquet file (pandas and pyarrow), written beside and renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    frame(rows).to_parquet(tmp, index=False)
    tmp.replace(path)


def csv_rows(records: Sequence[ReplicationRecord]) -> list[dict[str, Any]]:
    """The rows of replications.csv: one flat dict per replication, the same columns in each
    (every cause seen in any replication)."""
    causes = sorted({c for r in records for c in r.interruptions_by_cause})
    costed = sorted({c for r in records for d in (r.lost_hours_by_cause,
                                                  r.restart_hours_by_cause,
                                                  r.down_hours_by_cause) for c in d})
    return [r.flat(causes, costed) for r in records]


def replications_csv(records: Sequence[ReplicationRecord]) -> str:
    rows = csv_rows(records)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def timeline_csv(timeline: Timeline) -> str:
    buf = io.StringIO()
    buf.write("time_s,state,progress_s\n")
    for t, s, p in timeline.changes:
        buf.write(f"{t!r},{s},{p!r}\n")
    return buf.getvalue()


def segments_csv(log: SegmentLog) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SEGMENT_COLUMNS)
    width = len(SEGMENT_COLUMNS)
    # a run stopped by its event budget leaves its last segment without an end
    writer.writerows(row if len(row) == width else (*row, *(["nan"] * (width - len(row))))
                     for row in log.rows)
    return buf.getvalue()


_OLD_SEGMENT_COLUMNS = 15  # power_segments.csv before the generators' path was logged


def read_segments(path: Path) -> list[tuple]:
    """Rows of power_segments.csv with numbers as floats. Files written by earlier versions,
    with the first 15 columns only (no generator path), are read as they are."""
    with open(path, encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header not in (list(SEGMENT_COLUMNS), list(SEGMENT_COLUMNS[:_OLD_SEGMENT_COLUMNS])):
            raise ValueError(f"the header is not {','.join(SEGMENT_COLUMNS)}")
        width = len(header)
        rows = []
        for line, row in enumerate(reader, start=2):
            if len(row) != width:
                raise ValueError(f"line {line}: {len(row)} columns, expected {width}")
            rows.append(tuple(v if k == 1 else float(v) for k, v in enumerate(row)))
        return rows


def read_timeline(path: Path) -> list[tuple[float, str, float]]:
    with open(path, encoding="utf-8") as fh:
        return [(float(r["time_s"]), r["state"], float(r["progress_s"]))
                for r in csv.DictReader(fh)]


class RunInfo:
    """When, where and how long a run or study ran (what ``metadata.json`` records beside the
    versions): started on creation; :meth:`stop` fixes the wall time (s)."""

    def __init__(self, jobs: int = 1, where: str | None = None,
                 argv: Sequence[str] | None = None):
        import time
        from datetime import datetime, timezone

        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._t0 = time.perf_counter()
        self.wall_s = math.nan
        self.jobs = jobs
        self.where = where
        self.argv = list(sys.argv if argv is None else argv)

    def stop(self, where: str | None = None) -> RunInfo:
        import time

        self.wall_s = time.perf_counter() - self._t0
        if where is not None:
            self.where = where
        return self

    def metadata(self, seed: int) -> dict[str, Any]:
        return metadata(seed, self.argv, self.started, self.wall_s, self.jobs, self.where)


def metadata(seed: int, argv: Sequence[str], started_iso: str, wall_seconds: float,
             jobs: int, executor: str | None = None) -> dict[str, Any]:
    """Versions, seed entropy, command line and run time."""
    import numpy as np

    versions = {"dcsim": __version__, "python": sys.version.split()[0]}
    for pkg in ("simpy", "numpy", "scipy", "pydantic", "typer", "matplotlib", "pyyaml", "dask",
                "distributed"):
        try:
            versions[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "versions": versions,
        "platform": platform.platform(),
        "seed": seed,
        "seed_entropy": str(np.random.SeedSequence(seed).entropy),
        "command_line": list(argv),
        "started": started_iso,
        "wall_seconds": wall_seconds,
        "jobs": jobs,
        "executor": executor or ("local, 1 process" if jobs <= 1 else f"local, {jobs} processes"),
    }


def write_run(out_dir: Path, resolved: dict[str, Any], records: Sequence[ReplicationRecord],
              summary: dict[str, Any], meta: dict[str, Any], timeline: Timeline,
              segments: SegmentLog | None = None) -> list[Path]:
    """Write every file of a run; returns their paths."""
    files = {
        "summary.json": lambda p: write_json(p, summary),
        "replications.csv": lambda p: atomic_write_text(p, replications_csv(records)),
        "resolved.yaml": lambda p: atomic_write_text(
            p, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)),
        "metadata.json": lambda p: write_json(p, meta),
        "timeline.csv": lambda p: atomic_write_text(p, timeline_csv(timeline)),
    }
    if segments is not None and segments.rows:
        files["power_segments.csv"] = lambda p: atomic_write_text(p, segments_csv(segments))
    paths = []
    for name, write in files.items():
        path = out_dir / name
        write(path)
        paths.append(path)
    return paths
