"""Plan a 100k-H100 site from Python: the fewest Megapacks that keep the site from tripping,
then the checkpoint interval that gets the most of the machine.

Run: ``.venv/bin/python examples/plan_site.py`` (20 replications per value, a few minutes on
2 cores). ``DCSIM_EXAMPLE_REPLICATIONS=2 DCSIM_EXAMPLE_WORK="3 d"`` makes it a quick smoke run
(CI runs it so). Only the public API is used: ``simulator.load``, ``simulator.optimize`` and
``simulator.run``.
"""

from __future__ import annotations

import os
from pathlib import Path

import simulator

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "100k_h100.yaml"
REPLICATIONS = int(os.environ.get("DCSIM_EXAMPLE_REPLICATIONS", "20"))
WORK = os.environ.get("DCSIM_EXAMPLE_WORK", "30 d")
JOBS = min(2, os.cpu_count() or 1)
# a plant too small trips at every start until the horizon: a horizon of twice the work keeps
# those tries short (the job of a feasible plant ends long before it)
HORIZON = 2 * simulator.load(SCENARIO, **{"job.work": WORK}).job.work  # s
SITE = {"job.work": WORK, "run.horizon": HORIZON}

# 1. Battery: the fewest Megapack units with no trip in any replication. The objective is the
#    key itself, so the search looks for the smallest feasible count (bisection on integers).
battery = simulator.optimize(
    SCENARIO, "power.battery.count", (0, 200), objective="power.battery.count",
    constraints=["power_trips == 0"], integer=True, replications=REPLICATIONS, jobs=JOBS,
    **SITE)
if battery.answer is None:
    raise SystemExit("no battery size up to 200 units keeps the site from tripping")
units = int(battery.answer.x)
print(f"fewest Megapacks with no trip: {units} ({len(battery.path)} sizes tried)")

# 2. Checkpoint interval: maximise ETTR on that plant, on the same seeds at every interval.
interval = simulator.optimize(
    SCENARIO, "job.checkpoint.interval", ("2 min", "60 min"), objective="ettr", maximize=True,
    replications=REPLICATIONS, jobs=JOBS,
    **{**SITE, "power.battery.count": units})
assert interval.answer is not None
best = interval.answer
print(f"best checkpoint interval: {best.x / 60:.1f} min, ETTR {best.objective.mean:.4f} "
      f"[{best.objective.ci95_low:.4f}, {best.objective.ci95_high:.4f}]")

# 3. The plan, run once more with its numbers and the usual warnings.
plan = simulator.load(SCENARIO, **{**SITE, "power.battery.count": units,
                                   "job.checkpoint.interval": best.x})
result = simulator.run(plan, replications=REPLICATIONS, jobs=JOBS)
days = result.summary["wall_clock_days"]
print(f"the plan: {days['mean']:.2f} days of wall clock [{days['ci95_low']:.2f}, "
      f"{days['ci95_high']:.2f}], {result.summary['power_trips']['mean']:.0f} trips")
for cause, cost in list(result.by_cause.items())[:3]:
    print(f"  {cause}: {cost['total_hours']:.1f} h per replication")
for w in result.warnings:
    print(f"  warning ({w['code']}): {w['message']}")
