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
from typing import TYPE_CHECKING

import numpy as np
import simpy

from simulator.distributions import Draws
from simulator.failures import CauseSpec, FailureSource
from simulator.layout import Group

if TYPE_CHECKING:
    from simulator.badnodes import BadNodes


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
        rack_swap: the job holds whole racks (an NVLink domain such as an NVL72): a node
            failure takes its rack out of the job, and a spare rack whose nodes are all
            healthy takes its place (the rack's healthy nodes idle until it is whole).
    """

    def __init__(self, env: simpy.Environment, groups: list[Group], causes: list[CauseSpec],
                 source: FailureSource, repair_rng: np.random.Generator,
                 replicas: int | None = None, rack_swap: bool = False):
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
        #: replicas the latest failure broke (a spare may have mended them at once)
        self.broken: list[int] = []
        #: called with the share of replicas up when it changes (an elastic job listens)
        self.on_width: Callable[[float], None] | None = None
        # imperfect repair and retirement (see :mod:`simulator.badnodes`)
        self.bad: BadNodes | None = None
        self.repair_success = 1.0
        self.retire_after: int | None = None
        self.retired: set[int] = set()
        self._failed_times: dict[int, int] = {}
        self._health_rng: np.random.Generator | None = None
        # GPUs out of service (in repair or retired), integrated over time
        self._gpn = [g.gpus_per_node for g in groups]
        self.gpus_down = 0
        self.gpu_seconds_down = 0.0
        self._since = 0.0
        self.rack_swap = rack_swap
        self.free_racks: list[set[int]] = []  # racks wholly healthy and outside the job
        for g in groups:
            npr = g.nodes_per_rack
            self.free_racks.append({r for r in range(g.job_nodes // npr, g.nodes // npr)}
                                   if rack_swap else set())
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
        """Whether the unit is out of service (under repair, or its node retired)."""
        if unit in self.failed_units[cause]:
            return True
        if self.retired:
            nodes = self.causes[cause].nodes_of(unit)
            return all(n in self.retired for n in nodes)
        return False

    def imperfect(self, bad: BadNodes | None, repair_success: float, retire_after: int | None,
                  rng: np.random.Generator) -> None:
        """Repairs that fail with probability 1 − ``repair_success`` return their nodes bad;
        a node that has failed ``retire_after`` times is retired instead of repaired."""
        self.bad, self.repair_success, self.retire_after = bad, repair_success, retire_after
        self._health_rng = rng

    def held(self, group: int) -> int:
        """Healthy nodes of the group the job holds."""
        return self.groups[group].job_nodes - self.deficit[group]

    def counts(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(healthy nodes the job holds, healthy idle nodes), per group."""
        held = tuple([g.job_nodes - d for g, d in zip(self.groups, self.deficit, strict=True)])
        return held, tuple([len(f) for f in self.free])

    def replica_out(self, replica: int) -> bool:
        """Whether the replica (an index of the elastic job's) misses a node."""
        return self._gaps[replica] > 0

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
        if self.broken:
            self.broken = []
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
        group = spec.group
        free = self.free[group]
        now = self.env.now  # the out-of-service integral, inline: this runs per failure
        self.gpu_seconds_down += self.gpus_down * (now - self._since)
        self._since = now
        for n in nodes:
            if self.down[n] == 0:
                self.nodes_down += 1
                self.gpus_down += self._gpn[group]
                if self.rack_swap:
                    self._rack_out(n, group)
                if self.in_job[n]:
                    self.in_job[n] = 0
                    self.deficit[group] += 1
                    self.missing += 1
                    if self.replicas:
                        self._vacate(n, group)
                else:
                    free.discard(n)
            self.down[n] += 1
            if self.retire_after is not None:
                self._failed_times[n] = self._failed_times.get(n, 0) + 1
        self._refill(spec.group)
        if self.on_change is not None:
            self.on_change()
        self.env.timeout(repair_s).callbacks.append(
            lambda _e, c=cause, u=unit, ns=nodes: self._repaired(c, u, ns))

    def _repaired(self, cause: int, unit: int, nodes: range) -> None:
        self.failed_units[cause].discard(unit)
        group = self.causes[cause].group
        if self._health_rng is not None:
            nodes = self._after_repair(nodes, group)
        now = self.env.now  # the out-of-service integral, inline: this runs per failure
        self.gpu_seconds_down += self.gpus_down * (now - self._since)
        self._since = now
        for n in nodes:
            self.down[n] -= 1
            if self.down[n] == 0:
                self.nodes_down -= 1
                self.gpus_down -= self._gpn[group]
                self.free[group].add(n)
                if self.rack_swap:
                    self._rack_back(n, group)
        self._refill(group)
        if self.on_change is not None:
            self.on_change()

    def _after_repair(self, nodes: range, group: int) -> list[int]:
        """The nodes a repair returns to service: a node failed ``retire_after`` times is
        retired instead (it stays down); a repair that did not fix the node returns it bad."""
        back = []
        for n in nodes:
            if self.retire_after is not None and self._failed_times.get(n, 0) >= self.retire_after:
                if n not in self.retired:
                    self.retired.add(n)
                    if self.bad is not None:
                        self.bad.retired.add(n)
                continue
            back.append(n)
        if back and self.repair_success < 1.0 and self.bad is not None \
                and float(self._health_rng.random()) >= self.repair_success:  # type: ignore[union-attr]
            for n in back:
                self.bad.make_bad(n, group)
        return back

    def _refill(self, group: int) -> None:
        # Swap healthy free nodes of the same type into the job (set order of ints is
        # deterministic, so runs stay reproducible).
        free = self.free[group]
        if self.rack_swap:
            racks, npr = self.free_racks[group], self.groups[group].nodes_per_rack
            first = self.groups[group].offset
            while self.deficit[group] and racks:
                r = racks.pop()
                for n in range(first + r * npr, first + (r + 1) * npr):
                    free.discard(n)
                    self._join(n, group)
        else:
            in_job, deficit = self.in_job, self.deficit
            while deficit[group] and free:
                n = free.pop()
                in_job[n] = 1
                deficit[group] -= 1
                self.missing -= 1
                if self.replicas:
                    self._fill(n, group)
        if self.missing == 0 and self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.succeed()

    def _join(self, n: int, group: int) -> None:
        self.in_job[n] = 1
        self.deficit[group] -= 1
        self.missing -= 1
        if self.replicas:
            self._fill(n, group)

    def _leave(self, n: int, group: int) -> None:
        self.in_job[n] = 0
        self.deficit[group] += 1
        self.missing += 1
        if self.replicas:
            self._vacate(n, group)

    def _integrate(self) -> None:
        now = self.env.now
        self.gpu_seconds_down += self.gpus_down * (now - self._since)
        self._since = now

    def finish(self) -> None:
        """Bring the out-of-service integral up to now."""
        self._integrate()

    # -- whole racks (rack_swap) ------------------------------------------------------------
    def _rack_nodes(self, n: int, group: int) -> tuple[int, range]:
        g = self.groups[group]
        r = (n - g.offset) // g.nodes_per_rack
        first = g.offset + r * g.nodes_per_rack
        return r, range(first, first + g.nodes_per_rack)

    def _rack_out(self, n: int, group: int) -> None:
        """Node n goes down: its rack is no spare, and if the job held it, it leaves whole
        (its healthy nodes become idle)."""
        r, nodes = self._rack_nodes(n, group)
        self.free_racks[group].discard(r)
        if not self.in_job[n]:
            return
        for m in nodes:
            if m != n and self.in_job[m]:
                self._leave(m, group)
                if self.down[m] == 0:
                    self.free[group].add(m)

    def _rack_back(self, n: int, group: int) -> None:
        r, nodes = self._rack_nodes(n, group)
        if all(self.down[m] == 0 and not self.in_job[m] for m in nodes):
            self.free_racks[group].add(r)

    # -- replicas (elastic jobs) ------------------------------------------------------------
    def _vacate(self, node: int, group: int) -> None:
        slot = self._slot.pop(node)
        self._vacant[group].append(slot)
        r = slot // self._per_replica
        self._gaps[r] += 1
        if self._gaps[r] == 1:
            self.broken.append(r)
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
