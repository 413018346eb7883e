"""Failure events applied to the fleet and the job: the sampled or replayed stream, evicted
stragglers, and bad nodes' extra failures all go through :meth:`FailureDriver.apply`."""

from __future__ import annotations

import math

import simpy

from simulator.failures import FailureSource
from simulator.fleet import Fleet
from simulator.job import Job


class FailureDriver:
    """Applies each failure event at its time; interrupts the job when it loses a node it holds.

    Driven by timeout callbacks rather than a process: one scheduled event per failure, no
    generator to resume.
    """

    def __init__(self, env: simpy.Environment, source: FailureSource, fleet: Fleet, job: Job):
        self.env, self.source, self.fleet, self.job = env, source, fleet, job
        self._names = [c.name for c in fleet.causes]
        self._per = [c.per for c in fleet.causes]
        # a sampled exponential failure during an immune restart can be dropped (pausing a
        # memoryless clock); a replayed one happened, and a Weibull unit's age must not reset
        self._memoryless = [c.weibull_shape is None and not source.replayed for c in fleet.causes]
        self._pending: tuple[float, int, int] = (math.inf, -1, -1)
        self._schedule()

    def _schedule(self) -> None:
        event = self.source.next()
        if math.isinf(event[0]):
            return
        self._pending = event
        self.env.timeout(max(event[0] - self.env.now, 0.0)).callbacks.append(self._fire)

    def evict(self, cause: int, job_unit: int) -> None:
        """A straggler detected and evicted: a failure of its unit, now (a decision, not a
        sample: never dropped)."""
        unit = _evict_unit(self.fleet, cause, job_unit)
        if unit is not None:
            self.apply(cause, unit, False)

    def _fire(self, _event: simpy.Event) -> None:
        _, cause, unit = self._pending
        self.apply(cause, unit, self._memoryless[cause])
        self._schedule()

    def apply(self, cause: int, unit: int, memoryless: bool) -> None:
        """A failure of ``unit`` of ``cause`` now; ``memoryless``: a sampled exponential
        failure, which an immune restart may drop."""
        fleet, job = self.fleet, self.job
        if fleet.is_failed(cause, unit):
            return  # thinning: the unit is already out for repair
        hit = fleet.hits_job(cause, unit)
        if hit and job.state == "restart" and not job.params.failures_during_restart:
            # Restarts are immune (Daly's variant): by memorylessness, dropping the event
            # is the same as pausing the job's failure clock during the restart.
            if memoryless:
                self.source.returned_to_service(cause, unit, self.env.now)
            else:
                fleet.fail(cause, unit)
                job.lost_node_in_restart(self._names[cause], self._per[cause], fleet.broken)
        elif hit and job.state in ("waiting", "detect"):  # already stopped: no new stop
            fleet.fail(cause, unit)
            job.failed_while_waiting(self._names[cause])
        elif hit and job.interruptible():
            took = fleet.fail(cause, unit)
            job.failure(self._names[cause], took, bool(fleet.broken), self._per[cause])
        else:
            fleet.fail(cause, unit)


def _evict_unit(fleet: Fleet, cause: int, job_unit: int) -> int | None:
    """The unit of ``cause`` to evict for the straggler at the job's ``job_unit``: that unit
    if the job still holds its node, else the next unit whose node it holds (None: the job
    holds no node of that group)."""
    spec = fleet.causes[cause]
    per_node = {"gpu": spec.gpus_per_node, "node": 1}.get(spec.per)
    n = spec.group_nodes
    node = job_unit // per_node if per_node else job_unit * spec.nodes_per_rack
    for step in range(n):
        k = (node + step) % n
        if fleet.in_job[spec.node_offset + k]:
            if per_node is None:
                return k // spec.nodes_per_rack
            return k * per_node + (job_unit % per_node)
    return None
