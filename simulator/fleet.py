"""The installed hardware: which nodes are healthy, which the job holds, which are spares.

Nodes are numbered 0..n-1; the job starts on nodes 0..J-1 and the rest (idle nodes of
``cluster.gpus`` beyond ``job.gpus``, then hot spares) form the free pool. A failure takes the
nodes of its unit out of service until its repair ends; a job node so lost is replaced from the
free pool at once if one is healthy, otherwise the job waits for a repair.
State is kept in counts and small sets, so each event costs O(nodes of the failed unit).
"""

from __future__ import annotations

import numpy as np
import simpy

from simulator.distributions import Draws
from simulator.failures import CauseSpec, FailureSource


class Fleet:
    """Hardware state plus the bookkeeping of failures and repairs.

    Args:
        env: the SimPy environment.
        n_nodes: installed nodes including spares.
        job_nodes: nodes the job needs.
        gpus_per_node: GPUs per node.
        nodes_per_rack: nodes per rack.
        causes: resolved failure causes.
        source: the failure event source (told when Weibull units return to service).
        repair_rng: random stream for repair times.
    """

    def __init__(self, env: simpy.Environment, n_nodes: int, job_nodes: int, gpus_per_node: int,
                 nodes_per_rack: int, causes: list[CauseSpec], source: FailureSource,
                 repair_rng: np.random.Generator):
        self.env = env
        self.n_nodes = n_nodes
        self.job_nodes = job_nodes
        self.gpus_per_node = gpus_per_node
        self.nodes_per_rack = nodes_per_rack
        self.causes = causes
        self.source = source
        self.repair_rng = repair_rng
        self._repair_draws = [Draws(c.repair, repair_rng) for c in causes]
        self.down = [0] * n_nodes  # active repairs covering each node
        self.in_job = bytearray(b"\x01" * job_nodes + b"\x00" * (n_nodes - job_nodes))
        self.free: set[int] = set(range(job_nodes, n_nodes))
        self.deficit = 0  # nodes the job is missing
        self.failed_units: list[set[int]] = [set() for _ in causes]
        self._waiter: simpy.Event | None = None
        self.failures = 0  # failures applied (any unit, job or not)
        self.nodes_down = 0

    # -- queries ----------------------------------------------------------------------------
    def hits_job(self, cause: int, unit: int) -> bool:
        """Whether a failure of this unit would take out a node the job holds."""
        per = self.causes[cause].per
        if per == "gpu":
            return self.in_job[unit // self.gpus_per_node] == 1
        if per == "node":
            return self.in_job[unit] == 1
        start = unit * self.nodes_per_rack
        return any(self.in_job[start:start + self.nodes_per_rack])

    def is_failed(self, cause: int, unit: int) -> bool:
        return unit in self.failed_units[cause]

    def nodes_ready(self) -> simpy.Event | None:
        """None if the job has all its nodes, else an event fired when it has them again."""
        if self.deficit == 0:
            return None
        if self._waiter is None:
            self._waiter = self.env.event()
        return self._waiter

    # -- changes ----------------------------------------------------------------------------
    def fail(self, cause: int, unit: int) -> None:
        """Take the unit out of service for a repair time drawn now."""
        spec = self.causes[cause]
        now = self.env.now
        repair_s = self._repair_draws[cause]()
        self.source.returned_to_service(cause, unit, now + repair_s)
        self.failures += 1
        if repair_s <= 0.0:
            return  # e.g. a software fault: the job restarts on the same machines
        self.failed_units[cause].add(unit)
        nodes = spec.nodes_of(unit, self.gpus_per_node, self.nodes_per_rack, self.n_nodes)
        for n in nodes:
            if self.down[n] == 0:
                self.nodes_down += 1
                if self.in_job[n]:
                    self.in_job[n] = 0
                    self.deficit += 1
                else:
                    self.free.discard(n)
            self.down[n] += 1
        self._refill()
        self.env.timeout(repair_s).callbacks.append(
            lambda _e, c=cause, u=unit, ns=nodes: self._repaired(c, u, ns))

    def _repaired(self, cause: int, unit: int, nodes: range) -> None:
        self.failed_units[cause].discard(unit)
        for n in nodes:
            self.down[n] -= 1
            if self.down[n] == 0:
                self.nodes_down -= 1
                self.free.add(n)
        self._refill()

    def _refill(self) -> None:
        # Swap healthy free nodes into the job (set order of ints is deterministic).
        while self.deficit and self.free:
            n = self.free.pop()
            self.in_job[n] = 1
            self.deficit -= 1
        if self.deficit == 0 and self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.succeed()

