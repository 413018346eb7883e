"""Running replications: seeding, the local process pool, and collecting records.

Replication i of a run with seed S uses ``SeedSequence(S).spawn(n)[i]``; components draw from
child streams of it (:func:`simulator.model.component_rngs`). Every replication is the pure
function :func:`run_one`, so results do not depend on ``-j`` or on the executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.config import Scenario
from simulator.model import Timeline, simulate
from simulator.records import ReplicationRecord

Progress = Callable[[int], None]


def seeds_for(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """The per-replication seed sequences of a run."""
    return np.random.SeedSequence(seed).spawn(replications)


def run_one(scenario_data: dict[str, Any], seed: np.random.SeedSequence,
            replication: int) -> ReplicationRecord:
    """One replication from plain data (picklable; what worker processes execute)."""
    scenario = Scenario.model_validate(scenario_data)
    return simulate(scenario, seed, replication)


@dataclass
class RunResult:
    """Records of all replications plus the probe of replication 0."""

    records: list[ReplicationRecord]
    timeline: Timeline


def run_replications(scenario: Scenario, replications: int, seed: int, jobs: int = 1,
                     progress: Progress | None = None) -> RunResult:
    """Run ``replications`` replications on ``jobs`` local processes (1 = in this process)."""
    seqs = seeds_for(seed, replications)
    timeline = Timeline()
    # replication 0 always runs here, with the probe attached; probes do not change numbers
    first = simulate(scenario, seqs[0], 0, timeline)
    if progress:
        progress(1)
    records = [first, *_map(scenario, seqs[1:], range(1, replications), jobs, progress)]
    return RunResult(records, timeline)


def _map(scenario: Scenario, seqs: Sequence[np.random.SeedSequence], indices: range, jobs: int,
         progress: Progress | None) -> list[ReplicationRecord]:
    if not seqs:
        return []
    if jobs <= 1:
        out = []
        for s, i in zip(seqs, indices, strict=True):
            out.append(simulate(scenario, s, i))
            if progress:
                progress(1)
        return out
    data = scenario.model_dump(mode="json")
    results: list[ReplicationRecord | None] = [None] * len(seqs)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_one, data, s, i): k
                   for k, (s, i) in enumerate(zip(seqs, indices, strict=True))}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if progress:
                progress(1)
    return [r for r in results if r is not None]
