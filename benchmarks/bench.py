"""Speed figures: seconds per replication, events per second, and the ratio of
bare SimPy's event rate to ours, measured in the same process on the same machine.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench.py [--reps N]``.
Prints figures only; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

from simulator.loader import load_scenario
from simulator.model import simulate

ROOT = Path(__file__).resolve().parent.parent


def bare_simpy_rate(n: int = 300_000) -> float:
    """Events per second of a SimPy process that only waits on timeouts."""
    env = simpy.Environment()

    def proc(env: simpy.Environment):
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc(env))
    t0 = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t0)


def bench_scenario(path: Path, reps: int, overrides: tuple[str, ...] = ()) -> tuple[float, float, int]:
    """(seconds per replication, events per second, events per replication)."""
    scenario = load_scenario(path, overrides)
    seqs = np.random.SeedSequence(scenario.run.seed).spawn(reps)
    events = 0
    t0 = time.perf_counter()
    for i, s in enumerate(seqs):
        events += simulate(scenario, s, i).events
    dt = time.perf_counter() - t0
    return dt / reps, events / dt, events // reps


def _rates(path: Path) -> list[float]:
    return [c.rate_per_year for c in load_scenario(path).failures.causes]


def cli_wall(path: Path, *args: str) -> float:
    """Wall seconds of a whole ``dcsim run`` (imports, 20 replications, files, plots)."""
    dcsim = Path(sys.executable).parent / "dcsim"
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([str(dcsim), "run", str(path), "-o", out, *args], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "CI": "true"})
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=10, help="replications per scenario")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, SimPy {simpy.__version__}")
    bare = bare_simpy_rate()
    print(f"bare SimPy: {bare:,.0f} events/s\n")
    print(f"{'scenario':<34}{'s/replication':>15}{'events/rep':>12}{'events/s':>12}"
          f"{'bare/ours':>11}")
    cases: list[tuple[str, Path, tuple[str, ...]]] = [
        (p.stem, p, ()) for p in sorted((ROOT / "scenarios").glob("*.yaml"))
    ]
    headline = ROOT / "scenarios" / "100k_h100.yaml"
    # the reliability model alone: its event overhead against bare SimPy
    cases.append(("100k_h100 without power", headline, ("power=null",)))
    # the 100k case at 1M GPUs with every rate / 10: the same number of events, 10x the GPUs
    scaled = tuple(f"failures.causes.{i}.rate_per_year={r / 10}"
                   for i, r in enumerate(_rates(headline)))
    cases.append(("100k_h100 at 1M GPUs, rates/10", headline,
                  ("cluster.gpus=1000000", "job.gpus=1000000", "cluster.spare_nodes=3200",
                   "power.battery.count=1560", "power.grid.capacity=150 MW",
                   "power.generators.capacity=1300 MW", "power.generators.ramp_rate=5 MW/s",
                   *scaled)))
    per_rep: dict[str, float] = {}
    events: dict[str, int] = {}
    for name, path, overrides in cases:
        spr, eps, epr = bench_scenario(path, args.reps, overrides)
        per_rep[name] = spr
        events[name] = epr
        print(f"{name:<34}{spr:>15.4f}{epr:>12,}{eps:>12,.0f}{bare / eps:>11.2f}")
    if "100k_h100" in per_rep:
        base = per_rep["100k_h100"]
        print(f"\n1m_rubin replication / 100k_h100 replication: {per_rep['1m_rubin'] / base:.1f}x "
              f"(target < 10x; 1m_rubin has {events['1m_rubin'] / events['100k_h100']:.1f}x the events)")
        print(f"same events at 10x the GPUs: "
              f"{per_rep['100k_h100 at 1M GPUs, rates/10'] / base:.2f}x the time")
        for jobs in ("1", "2"):
            wall = cli_wall(headline, "-j", jobs)
            print(f"dcsim run scenarios/100k_h100.yaml (20 replications, plots on, -j {jobs}): "
                  f"{wall:.2f} s wall (target < 10 s)")


if __name__ == "__main__":
    main()
