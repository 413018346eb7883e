"""The installed hardware: which nodes are healthy, which the job holds, which are spares.

Nodes are numbered as in :mod:`simulator.layout`; the job starts on each group's first nodes
and the rest (idle nodes of ``cluster.gpus`` beyond ``job.gpus``, then hot spares) form the
group's free pool. A failure takes the
nodes of its unit out of service until its repair ends; a job node so lost is replaced from the
free pool at once if one is healthy, otherwise the job waits for a repair.
State is kept in counts and small sets, so each event costs O(nodes of the failed unit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from simulator.distributions import Draws
from simulator.failures import CauseSpec, FailureSource
from simulator.layout import Group


class Fleet:
    """Hardware state plus the bookkeeping of failures and repairs.

    Each node group (GPU type) has its own free pool: a failed node is replaced by a healthy
    node of the same type, since a synchronous job's shards are laid out per type.

    Args:
        env: the SimPy environment.
        groups: the cluster's node groups.
        causes: resolved failure causes (one per cause and group).
        source: the failure event source (told when Weibull units return to service).
        repair_rng: random stream for repair times.
        replicas: data-parallel replicas the job's nodes form (an elastic job), each of
            job nodes / replicas consecutive slots; None: not tracked.
    """

    def __init__(self, env: simpy.Environment, groups: list[Group], causes: list[CauseSpec],
                 source: FailureSource, repair_rng: np.random.Generator,
                 replicas: int | None = None):
        self.env = env
        self.groups = groups
        self.causes = causes
        self.source = source
        self.n_nodes = sum(g.nodes for g in groups)
        self.job_nodes = sum(g.job_nodes for g in groups)
        self._repair_draws = [Draws(c.repair, repair_rng) for c in causes]
        self.down = [0] * self.n_nodes  # active repairs covering each node
        self.in_job = bytearray(self.n_nodes)
        self.group_of: list[int] = []
        self.free: list[set[int]] = []  # healthy nodes the job does not hold, per group
        for g in groups:
            self.in_job[g.offset:g.offset + g.job_nodes] = b"\x01" * g.job_nodes
            self.group_of += [g.index] * g.nodes
            self.free.append(set(range(g.offset + g.job_nodes, g.offset + g.nodes)))
        self.deficit = [0] * len(groups)  # nodes the job is missing, per group
        self.missing = 0  # sum of deficits
        self.failed_units: list[set[int]] = [set() for _ in causes]
        self._waiter: simpy.Event | None = None
        self.failures = 0  # failures applied (any unit, job or not)
        self.nodes_down = 0
        #: called after every change of the healthy node counts (the power model listens)
        self.on_change: Callable[[], None] | None = None
        # replicas: each job node fills a slot; a replica is out while any slot is vacant
        self.replicas = replicas or 0
        self.replicas_down = 0
        self.replica_losses = 0  # replicas broken so far (even if a spare mended them at once)
        #: called with the share of replicas up when it changes (an elastic job listens)
        self.on_width: Callable[[float], None] | None = None
        if self.replicas:
            self._per_replica = self.job_nodes // self.replicas
            self._slot: dict[int, int] = {}
            self._vacant: list[list[int]] = []
            base = 0
            for g in groups:
                for i in range(g.job_nodes):
                    self._slot[g.offset + i] = base + i
                self._vacant.append([])
                base += g.job_nodes
            self._gaps = [0] * self.replicas

    # -- queries ----------------------------------------------------------------------------
    def hits_job(self, cause: int, unit: int) -> bool:
        """Whether a failure of this unit would take out a node the job holds."""
        spec = self.causes[cause]
        if spec.per == "gpu":
            return self.in_job[spec.node_offset + unit // spec.gpus_per_node] == 1
        if spec.per == "node":
            return self.in_job[spec.node_offset + unit] == 1
        nodes = spec.nodes_of(unit)
        return any(self.in_job[nodes.start:nodes.stop])

    def is_failed(self, cause: int, unit: int) -> bool:
        return unit in self.failed_units[cause]

    def held(self, group: int) -> int:
        """Healthy nodes of the group the job holds."""
        return self.groups[group].job_nodes - self.deficit[group]

    def counts(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(healthy nodes the job holds, healthy idle nodes), per group."""
        held = tuple([g.job_nodes - d for g, d in zip(self.groups, self.deficit, strict=True)])
        return held, tuple([len(f) for f in self.free])

    @property
    def replicas_up(self) -> int:
        """Replicas with every node (all of the job's nodes form one when not tracked)."""
        if self.replicas:
            return self.replicas - self.replicas_down
        return 0 if self.missing else 1

    @property
    def width(self) -> float:
        """Share of the replicas up (1 when not tracked)."""
        return 1.0 - self.replicas_down / self.replicas if self.replicas else 1.0

    def nodes_ready(self) -> simpy.Event | None:
        """None if the job has all its nodes, else an event fired when it has them again."""
        if self.missing == 0:
            return None
        if self._waiter is None:
            self._waiter = self.env.event()
        return self._waiter

    # -- changes ----------------------------------------------------------------------------
    def fail(self, cause: int, unit: int) -> bool:
        """Take the unit out of service for a repair time drawn now; whether it went out (a
        repair time of 0, e.g. a software fault, leaves the machines in place)."""
        repair_s = self._repair_draws[cause]()
        self.source.returned_to_service(cause, unit, self.env.now + repair_s)
        self.failures += 1
        if repair_s <= 0.0:
            return False  # e.g. a software fault: the job restarts on the same machines
        self._take_down(cause, unit, repair_s)
        return True

    def start_in_repair(self, rng: np.random.Generator) -> int:
        """Repairs already under way at t = 0, as in a cluster that has been running: each
        unit of a cause is down with its long-run probability p = rE[R] / (1 + rE[R])
        (alternating renewal: up for 1/r on average, then a repair), for the rest of a
        length-biased repair. Units are drawn without replacement, so the cost grows with the
        units down, not with the units installed. Returns the units put down."""
        down = 0
        for i, spec in enumerate(self.causes):
            x = spec.rate_per_s * spec.repair.mean
            if x <= 0 or spec.units == 0:
                continue
            k = int(rng.binomial(spec.units, x / (1.0 + x)))
            if k == 0:
                continue
            units = rng.choice(spec.units, size=k, replace=False)
            left = spec.repair.sample_residual(rng, k)
            for unit, repair_s in zip(units.tolist(), left.tolist(), strict=True):
                if repair_s <= 0.0 or unit in self.failed_units[i]:
                    continue
                self.source.forget_first(i, unit)  # its next failure counts from the repair
                self.source.returned_to_service(i, unit, repair_s)
                self._take_down(i, unit, repair_s)
                down += 1
        return down

    def _take_down(self, cause: int, unit: int, repair_s: float) -> None:
        spec = self.causes[cause]
        self.failed_units[cause].add(unit)
        nodes = spec.nodes_of(unit)
        free = self.free[spec.group]
        for n in nodes:
            if self.down[n] == 0:
                self.nodes_down += 1
                if self.in_job[n]:
                    self.in_job[n] = 0
                    self.deficit[spec.group] += 1
                    self.missing += 1
                    if self.replicas:
                        self._vacate(n, spec.group)
                else:
                    free.discard(n)
            self.down[n] += 1
        self._refill(spec.group)
        if self.on_change is not None:
            self.on_change()
        self.env.timeout(repair_s).callbacks.append(
            lambda _e, c=cause, u=unit, ns=nodes: self._repaired(c, u, ns))

    def _repaired(self, cause: int, unit: int, nodes: range) -> None:
        self.failed_units[cause].discard(unit)
        group = self.causes[cause].group
        for n in nodes:
            self.down[n] -= 1
            if self.down[n] == 0:
                self.nodes_down -= 1
                self.free[group].add(n)
        self._refill(group)
        if self.on_change is not None:
            self.on_change()

    def _refill(self, group: int) -> None:
        # Swap healthy free nodes of the same type into the job (set order of ints is
        # deterministic, so runs stay reproducible).
        free = self.free[group]
        while self.deficit[group] and free:
            n = free.pop()
            self.in_job[n] = 1
            self.deficit[group] -= 1
            self.missing -= 1
            if self.replicas:
                self._fill(n, group)
        if self.missing == 0 and self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.succeed()

    # -- replicas (elastic jobs) ------------------------------------------------------------
    def _vacate(self, node: int, group: int) -> None:
        slot = self._slot.pop(node)
        self._vacant[group].append(slot)
        r = slot // self._per_replica
        self._gaps[r] += 1
        if self._gaps[r] == 1:
            self.replica_losses += 1
            self.replicas_down += 1
            if self.on_width is not None:
                self.on_width(self.width)

    def _fill(self, node: int, group: int) -> None:
        slot = self._vacant[group].pop()
        self._slot[node] = slot
        r = slot // self._per_replica
        self._gaps[r] -= 1
        if self._gaps[r] == 0:
            self.replicas_down -= 1
            if self.on_width is not None:
                self.on_width(self.width)
