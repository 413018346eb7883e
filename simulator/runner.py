"""Running replications: seeding, the local process pool, and collecting records.

Replication i of a run with seed S uses ``SeedSequence(S).spawn(n)[i]``; components draw from
child streams of it (:func:`simulator.model.component_rngs`). Every replication is the pure
function :func:`run_one`, so results do not depend on ``-j`` or on the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.config import Scenario
from simulator.model import Timeline, simulate
from simulator.power.plant import SegmentLog
from simulator.records import ReplicationRecord

if TYPE_CHECKING:
    from simulator.executors import Executor

Progress = Callable[[int], None]


def seeds_for(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """The per-replication seed sequences of a run."""
    return np.random.SeedSequence(seed).spawn(replications)


@dataclass
class Probed:
    """A replication's record with its probes (job state changes, power segments)."""

    record: ReplicationRecord
    timeline: Timeline
    segments: SegmentLog


def run_one(scenario_data: dict[str, Any], seed: np.random.SeedSequence, replication: int,
            probes: bool = False) -> ReplicationRecord | Probed:
    """One replication from plain data (picklable; what worker processes execute); with
    ``probes``, its record with the probes attached (probes do not change numbers)."""
    scenario = Scenario.model_validate(scenario_data)
    return simulate_one(scenario, seed, replication, probes)


def simulate_one(scenario: Scenario, seed: np.random.SeedSequence, replication: int,
                 probes: bool = False) -> ReplicationRecord | Probed:
    if not probes:
        return simulate(scenario, seed, replication)
    timeline, segments = Timeline(), SegmentLog()
    return Probed(simulate(scenario, seed, replication, timeline, segments), timeline, segments)


@dataclass
class RunResult:
    """Records of all replications plus the probes of replication 0."""

    records: list[ReplicationRecord]
    timeline: Timeline
    segments: SegmentLog


def run_replications(scenario: Scenario, replications: int, seed: int, jobs: int = 1,
                     progress: Progress | None = None,
                     executor: Executor | None = None) -> RunResult:
    """Run ``replications`` replications on ``executor`` (default: ``jobs`` local processes,
    1 = in this process).

    Replication 0 runs with the probes attached (probes do not change numbers): in this
    process with ``jobs`` = 1, else as the executor's first task, so that ``-j N`` uses N
    processes in all.
    """
    from simulator.executors import Task, executor_or_local, run_tasks

    seqs = seeds_for(seed, replications)
    if executor is None and (jobs <= 1 or replications <= 1):
        timeline, segments = Timeline(), SegmentLog()
        first = simulate(scenario, seqs[0], 0, timeline, segments)
        if progress:
            progress(1)
        others = run_range(scenario, seed, 1, replications, 1, progress)
        return RunResult([first, *others], timeline, segments)
    with executor_or_local(executor, jobs) as ex:
        results: list = run_tasks(ex, [scenario.model_dump(mode="json")],
                                  [Task(0, seqs[i], i, probes=i == 0)
                                   for i in range(replications)], progress)
    probed = results[0]
    if not isinstance(probed, Probed):  # an executor that ignores Task.probes: probe here
        probed = simulate_one(scenario, seqs[0], 0, True)  # type: ignore[assignment]
        assert isinstance(probed, Probed)
    records = [probed.record, *results[1:]]
    return RunResult(records, probed.timeline, probed.segments)  # type: ignore[arg-type]


def run_range(scenario: Scenario, seed: int, start: int, stop: int, jobs: int = 1,
              progress: Progress | None = None,
              executor: Executor | None = None) -> list[ReplicationRecord]:
    """Replications ``start`` .. ``stop - 1`` of a run with ``seed`` (no probes): the same
    records those replications have in a run of ``stop`` or more."""
    from simulator.executors import Task, executor_or_local, run_tasks

    seqs = seeds_for(seed, stop)
    indices = list(range(start, stop))
    if executor is None and jobs <= 1:
        out = []
        for i in indices:
            out.append(simulate(scenario, seqs[i], i))
            if progress:
                progress(1)
        return out
    with executor_or_local(executor, jobs) as ex:
        return run_tasks(ex, [scenario.model_dump(mode="json")],
                         [Task(0, seqs[i], i) for i in indices], progress)
