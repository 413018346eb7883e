"""Speed figures, printed and written as a JSON record; nothing here is a pass/fail test.

* Per scenario: seconds per replication, events per replication, and the cost per event
  against bare SimPy's, bare SimPy measured in the same process right before every run of
  the case (interleaved, so a machine that slows down slows both). Medians of ``--runs``.
* Plots: what drawing a run's figures adds (100k_h100, one replication).
* Start-up: whole-process medians of ``dcsim --help``, ``schema`` and ``validate``.
* ``dcsim run scenarios/100k_h100.yaml`` (20 replications, plots) at ``-j 1`` and ``-j 2``.
* ``--sweep``: a 10-point × 20-replication sweep of 100k_h100 at ``-j 2``.
* ``--big``: one whole replication at 10 million GPUs with every cause Weibull (seconds and
  peak memory, in a child process).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench.py [--runs 3] [--reps 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import simpy

import simulator.executors  # noqa: F401  (run_range imports it: not inside the timing)
from simulator.loader import load_scenario
from simulator.runner import run_range

ROOT = Path(__file__).resolve().parent.parent
DCSIM = str(Path(sys.executable).parent / "dcsim")
QUIET_ENV = {**os.environ, "CI": "true"}  # no progress bars


def bare_simpy_rate(n: int = 200_000) -> float:
    """Events per second of a SimPy process that only waits on timeouts."""
    env = simpy.Environment()

    def proc(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc(env))
    t0 = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t0)


def _rates(path: Path) -> list[float]:
    return [c.rate_per_year for c in load_scenario(path).failures.causes]


def cases() -> list[tuple[str, Path, tuple[str, ...]]]:
    out: list[tuple[str, Path, tuple[str, ...]]] = [
        (p.stem, p, ()) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    headline = ROOT / "scenarios" / "100k_h100.yaml"
    # the reliability model alone: its event overhead against bare SimPy
    out.append(("100k_h100 without power", headline, ("power=null",)))
    # the 100k case at 1M GPUs with every rate / 10: the same number of events, 10x the GPUs
    scaled = tuple(f"failures.causes.{i}.rate_per_year={r / 10}"
                   for i, r in enumerate(_rates(headline)))
    out.append(("100k_h100 at 1M GPUs, rates/10", headline,
                ("cluster.gpus=1000000", "job.gpus=1000000", "cluster.spare_nodes=3200",
                 "power.battery.count=1560", "power.grid.capacity=150 MW",
                 "power.generators.capacity=1300 MW", "power.generators.ramp_rate=5 MW/s",
                 *scaled)))
    return out


def bench_case(path: Path, overrides: tuple[str, ...], runs: int, reps: int) -> dict[str, Any]:
    """Interleaved: bare SimPy, then ``reps`` replications, ``runs`` times; medians."""
    scenario = load_scenario(path, list(overrides))
    per_rep, bare, ratio = [], [], []
    events = 0
    for _ in range(runs):
        b = bare_simpy_rate()
        t0 = time.perf_counter()
        events = sum(r.events for r in run_range(scenario, scenario.run.seed, 0, reps))
        dt = time.perf_counter() - t0
        per_rep.append(dt / reps)
        bare.append(b)
        ratio.append((dt / events) * b)  # our cost per event / bare SimPy's
    return {"s_per_replication": statistics.median(per_rep),
            "events_per_replication": events // reps,
            "bare_events_per_s": statistics.median(bare),
            "cost_per_event_vs_bare": statistics.median(ratio),
            "runs_s_per_replication": per_rep}


def bench_plots(runs: int) -> dict[str, Any]:
    """Seconds that drawing a run's figures adds to writing its files (100k_h100)."""
    import simulator

    result = simulator.run(simulator.load(ROOT / "scenarios" / "100k_h100.yaml"),
                           replications=1)
    with tempfile.TemporaryDirectory() as warm:  # matplotlib imported once, as in a run
        result.write(Path(warm), plots=True)
    with_plots, without = [], []
    for _ in range(runs):
        for plots, into in ((True, with_plots), (False, without)):
            with tempfile.TemporaryDirectory() as out:
                t0 = time.perf_counter()
                result.write(Path(out), plots=plots)
                into.append(time.perf_counter() - t0)
    return {"plots_s": statistics.median(with_plots) - statistics.median(without),
            "files_s": statistics.median(without)}


def whole(args: list[str], runs: int) -> float:
    """Median wall seconds of a whole ``dcsim`` process; ``{out}`` in ``args``: a fresh
    output folder for every run."""
    walls = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            argv = [a.replace("{out}", f"{d}/out") for a in args]
            t0 = time.perf_counter()
            subprocess.run([DCSIM, *argv], check=True, stdout=subprocess.DEVNULL, env=QUIET_ENV)
            walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def bench_startup(runs: int) -> dict[str, float]:
    headline = str(ROOT / "scenarios" / "100k_h100.yaml")
    return {"--help": whole(["--help"], runs), "schema": whole(["schema"], runs),
            "validate 100k_h100": whole(["validate", headline], runs)}


def bench_cli(runs: int) -> dict[str, float]:
    headline = str(ROOT / "scenarios" / "100k_h100.yaml")
    return {f"-j {jobs}": whole(["run", headline, "-j", jobs, "-o", "{out}"], runs)
            for jobs in ("1", "2")}


def bench_sweep() -> float:
    headline = str(ROOT / "scenarios" / "100k_h100.yaml")
    return whole(["sweep", headline, "--param", "job.checkpoint.interval", "--range",
                  "5 min:60 min:10", "-r", "20", "-j", "2", "-o", "{out}"], 1)


BIG = """
import json, sys, time
import numpy as np
from simulator.loader import load_scenario
from simulator.model import simulate
n, path = int(sys.argv[1]), sys.argv[2]
base = load_scenario(path)
sets = ["power=null", f"cluster.gpus={n}", f"job.gpus={n}", f"cluster.spare_nodes={n // 400}"]
for i, c in enumerate(base.failures.causes):
    sets += [f"failures.causes.{i}.rate_per_year={c.rate_per_year * 100_000 / n}",
             f"failures.causes.{i}.distribution={{weibull: {{shape: 0.8}}}}"]
s = load_scenario(path, sets)
t0 = time.perf_counter()
r = simulate(s, np.random.SeedSequence(1), 0)
# the high-water mark of this process's own memory (ru_maxrss would carry the parent's
# from before exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"gpus": n, "s": time.perf_counter() - t0, "events": r.events,
                  "peak_rss_mb": hwm / 1024}))
"""


def bench_big(gpus: int = 10_000_000) -> dict[str, Any]:
    """One replication at ``gpus`` GPUs, every cause Weibull, rates scaled to the 100k
    case's events: seconds and peak memory of a child process."""
    out = subprocess.run([sys.executable, "-c", BIG, str(gpus),
                          str(ROOT / "scenarios" / "100k_h100.yaml")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (medians)")
    ap.add_argument("--reps", type=int, default=1, help="replications per run of a scenario")
    ap.add_argument("--only", help="scenario cases whose name contains this")
    ap.add_argument("--no-cli", action="store_true", help="skip start-up and dcsim run")
    ap.add_argument("--sweep", action="store_true", help="also a 10-point x 20-rep sweep")
    ap.add_argument("--big", action="store_true", help="also 10M GPUs, all-Weibull causes")
    ap.add_argument("--plots", action="store_true", help="the plots figure even with --only")
    ap.add_argument("--json", type=Path, help="record file (default: results/bench-<UTC>.json)")
    args = ap.parse_args()
    record: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cores": os.cpu_count(), "python": platform.python_version(),
        "simpy": simpy.__version__, "load_at_start": os.getloadavg()[0],
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": args.runs, "reps": args.reps, "cases": {}}
    print(f"machine: {record['machine']}, {record['cores']} cores, Python "
          f"{record['python']}, SimPy {record['simpy']}; load {record['load_at_start']:.2f}; "
          f"medians of {args.runs} runs × {args.reps} replication(s)\n")
    print(f"{'scenario':<34}{'s/replication':>15}{'events/rep':>12}{'bare ev/s':>12}"
          f"{'cost/event vs bare':>20}")
    for name, path, overrides in cases():
        if args.only and args.only not in name:
            continue
        r = bench_case(path, overrides, args.runs, args.reps)
        record["cases"][name] = r
        print(f"{name:<34}{r['s_per_replication']:>15.4f}{r['events_per_replication']:>12,}"
              f"{r['bare_events_per_s']:>12,.0f}{r['cost_per_event_vs_bare']:>19.1f}x",
              flush=True)
    if not args.only or args.plots:
        record["plots"] = bench_plots(args.runs)
        print(f"\nplots of a run (100k_h100): {record['plots']['plots_s']:.2f} s "
              f"(the other files {record['plots']['files_s']:.2f} s)")
    if not args.no_cli:
        record["startup_s"] = bench_startup(max(args.runs, 5))
        print("start-up: " + ", ".join(f"dcsim {k} {v:.2f} s"
                                       for k, v in record["startup_s"].items()))
        record["dcsim_run_100k_s"] = bench_cli(args.runs)
        print("dcsim run scenarios/100k_h100.yaml (20 replications, plots): " + ", ".join(
            f"{k} {v:.1f} s" for k, v in record["dcsim_run_100k_s"].items()))
    if args.sweep:
        record["sweep_10x20_j2_s"] = bench_sweep()
        print(f"sweep of 100k_h100, 10 points × 20 replications, -j 2: "
              f"{record['sweep_10x20_j2_s']:.1f} s")
    if args.big:
        record["big"] = bench_big()
        b = record["big"]
        print(f"{b['gpus']:,} GPUs, every cause Weibull: {b['s']:.1f} s for one replication "
              f"({b['events']:,} events), peak memory {b['peak_rss_mb']:,.0f} MB")
    record["load_at_end"] = os.getloadavg()[0]
    path = args.json or ROOT / "results" / (
        f"bench-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nload at the end {record['load_at_end']:.2f}; record in {path}")


if __name__ == "__main__":
    main()
