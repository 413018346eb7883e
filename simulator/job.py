"""The training job's state machine as a SimPy process.

States: ``compute`` -> ``checkpoint`` -> ``compute`` ... until the work is done. A failure of
a node the job holds interrupts it (SimPy ``Interrupt``, as in the machine-shop example): work
since the last *recoverable* checkpoint is lost, the job ``waiting``\\s for healthy nodes if the
spare pool is empty, then ``restart``\\s. Planned interruptions are taken at checkpoint
boundaries and cost a restart only.

A failure whose cause has a detection time first leaves the job ``detect``\\ing: stalled (a
hang until a watchdog fires) before anything recovers. What recovery then does is the
strategy's (:class:`JobParams`): ``restart`` as above; ``hot_swap`` remaps a spare that took
the failed node's place in the swap time instead of a full restart; ``elastic`` drops the
failed node's data-parallel replica after a reconfiguration stall and goes on at a
proportionally lower rate without rolling back, until the replica is whole again.

The time ledger (seconds) always sums to the elapsed wall clock:
``productive + throttled + degraded + slow + checkpoint + lost_work + detect + restart +
ramp + waiting + outage``, where ``degraded`` is compute time an elastic job's missing
replicas cost and ``slow`` what stragglers cost (see :mod:`simulator.stragglers`).
With a soft start (``ramp_s`` > 0) the job ramps its power up before it computes, at the
start and after every restart, and down after its last checkpoint; ramping costs its time.
Compute runs at ``compute_rate`` work-seconds per second (below 1 when power smoothing costs
throughput); ``throttled`` is the compute time that slowdown costs, so productive time counts
work done.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import simpy

from simulator.checkpoints import Checkpoints
from simulator.failureconfig import (  # the job's own causes, which no failure cause may take
    PLANNED,
    POWER_TRIP,
    REPAIRS_AT_START,
    WIDTH,
)
from simulator.fleet import Fleet
from simulator.jobparams import JobParams, Ledger, PowerHook

if TYPE_CHECKING:
    from simulator.stragglers import Stragglers

__all__ = ["Job", "JobParams", "Ledger", "PowerHook"]

COMPUTE, CHECKPOINT, RESTART, WAITING, OUTAGE, DONE, RAMP, DETECT = (
    "compute", "checkpoint", "restart", "waiting", "outage", "done", "ramp", "detect")
#: states in which a failure of a job node interrupts the job
RUNNING = frozenset({COMPUTE, CHECKPOINT, RESTART, RAMP})


@dataclass
class Job:
    """One synchronous training job.

    Args:
        env: SimPy environment.
        params: timing.
        fleet: the hardware it runs on.
        planned_rng: random stream for planned interruptions.
        on_state: optional probe called as ``on_state(time_s, state, progress_s)`` on every
            change, where progress_s is the surviving compute done so far.
        power: optional power system, told of every segment (state and planned duration).
    """

    env: simpy.Environment
    params: JobParams
    fleet: Fleet
    planned_rng: np.random.Generator
    on_state: Callable[[float, str, float], None] | None = None
    power: PowerHook | None = None
    state: str = COMPUTE
    progress_s: float = 0.0  # compute done on the surviving line of work
    ledger: Ledger = field(default_factory=Ledger)
    interruptions: Counter = field(default_factory=Counter)
    #: what each cause cost (s): work lost, restarts (with their ramps), and time down after it
    #: (waiting for hardware, or a dark site); planned stops are the cause "planned"
    lost_by_cause: Counter = field(default_factory=Counter)
    restart_by_cause: Counter = field(default_factory=Counter)
    down_by_cause: Counter = field(default_factory=Counter)
    planned: int = 0
    _blame: str | None = None  # the cause of the restart under way
    done_at: float | None = None
    stopping: bool = False  # ramping down after the last checkpoint (the work is done)
    _phase_start: float = 0.0
    _next_planned: float = float("inf")
    _ready: simpy.Event | None = None
    _deferred: str | None = None  # a node lost during an immune restart, settled at its end
    _deferred_replicas: list[int] = field(default_factory=list)  # replicas it broke (elastic)
    _recover_s: float = 0.0  # length of the restart under way (full, swap or reconfigure)
    _after_detect: str = RESTART  # where a detection stall leads
    _restore_s: float = 0.0  # extra restart time to restore from the tier rolled back to
    _per: str = "node"  # the unit kind of the failure being handled
    _width: float = 1.0  # share of the replicas training (elastic), 1 otherwise
    _slow: float = 1.0  # step-time factor of the slowest straggler while computing
    #: the fail-slow episodes (their ``factor``), if the scenario has any
    stragglers: Stragglers | None = None
    _detect_s: float = 0.0  # length of the detection stall under way
    _took_node: bool = False  # whether the failure being handled took a node out

    def __post_init__(self) -> None:
        self.copies = Checkpoints(self.params.tiers, self.params.compute_rate)
        self._recover_s = self.params.restart_s
        self._elastic = self.params.strategy == "elastic"
        self._hot_swap = self.params.strategy == "hot_swap"
        if self._elastic:
            self.fleet.on_width = self._width_changed
        if self.params.planned_per_s > 0:
            self._next_planned = float(self.planned_rng.exponential(1.0 / self.params.planned_per_s))
        self.process = self.env.process(self._run())

    # -- interface for the failure side -----------------------------------------------------
    def interruptible(self) -> bool:
        """Whether a failure of a job node now interrupts the job (not while dark or done)."""
        if self.state == RESTART:
            return self.params.failures_during_restart
        return self.state in RUNNING and not self.stopping

    def interrupt(self, cause: str, took_node: bool = False, per: str = "node") -> None:
        """Stop the job for ``cause``; ``took_node``: the failure took a node out of service
        (a hot swap needs one to replace; a software fault restarts in place); ``per``: the
        failed unit's kind (a rack takes peer checkpoint copies with it)."""
        self._took_node, self._per = took_node, per
        self.process.interrupt(cause)

    def failure(self, cause: str, took_node: bool, replica_lost: bool, per: str) -> None:
        """A failure of a node the job holds, while it runs. An elastic job whose failed node
        sat in a replica already out carries on untouched."""
        if self._elastic and took_node and not replica_lost:
            return
        self.interrupt(cause, took_node, per)

    def pace_changed(self) -> None:
        """The slowest straggler changed: a computing job re-plans at the new pace."""
        if self.state is COMPUTE and not self.stopping:
            self.process.interrupt(WIDTH)

    def _width_changed(self, width: float) -> None:
        # an elastic job computing re-plans when a replica rejoins (a loss arrives as a failure)
        if self.state is COMPUTE and width > self._width and not self.stopping:
            self.process.interrupt(WIDTH)

    def lost_node_in_restart(self, cause: str, per: str = "node",
                             broke: Sequence[int] = ()) -> None:
        """A node the job holds went down during an immune restart (a replayed or aging
        failure, which cannot be dropped as a memoryless one can): the restart goes on, and if
        no spare took the node's place by its end, the job waits for it and restarts again,
        rolling back as for a failure of that unit's kind (``per``: a rack takes peer copies).
        An elastic job re-plans only if the node broke a replica it was restarting with
        (``broke``: their indices) and that replica is still out at the restart's end."""
        if self._elastic:
            if not broke:
                return
            self._deferred_replicas += broke
        if self._deferred is None:
            self._deferred = cause
            self._took_node, self._per = True, per

    def failed_while_waiting(self, cause: str) -> None:
        """A node the job holds failed while it waits for hardware."""
        if self.params.waiting_failures_interrupt:
            self.interruptions[cause] += 1

    # -- the state machine ------------------------------------------------------------------
    def _run(self):
        """One flat loop (no nested generators: this is the hot path of every replication)."""
        env, p = self.env, self.params
        timeout, interrupt_type, probe, power = env.timeout, simpy.Interrupt, self.on_state, self.power
        elastic, stragglers = self._elastic, self.stragglers
        paced = elastic or stragglers is not None
        # one checkpoint tier (the common case) is tracked inline: fewer calls per phase
        copies = self.copies
        single = copies.single
        tier = p.tiers[0]
        interval_s, write_s, persist_s = tier.interval_s, tier.write_s, tier.persist_s
        saved, pending = copies.saved, copies.pending[0]
        since = 0.0  # one tier: compute time since its last write (s)
        led = self.ledger
        base_rate = rate = p.compute_rate
        state = RAMP if p.ramp_s > 0 else COMPUTE
        launching = False
        done_s = p.work_s * (1.0 - 1e-12)  # progress at which the work counts as done
        if self.fleet.missing:  # repairs under way at the start left the job short of nodes
            self._ready, state, launching = self.fleet.nodes_ready(), WAITING, True
            self._blame = REPAIRS_AT_START
        while True:
            self.state = state
            self._phase_start = start = env.now
            if probe is not None:
                probe(start, state, self.progress_s)
            cause = None
            if state is COMPUTE:
                if paced:
                    if elastic:
                        self._width = self.fleet.width
                    if stragglers is not None:
                        self._slow = stragglers.factor
                    rate = p.compute_rate * self._width / self._slow
                duration = (p.work_s - self.progress_s) / rate
                due = interval_s - since if single else copies.until_due(self.progress_s, rate)
                if due < duration:
                    duration = due
                if duration < 0.0:
                    duration = 0.0
            elif state is CHECKPOINT:
                duration = write_s if single else copies.start_write(
                    self.progress_s, self.progress_s >= done_s)
            elif state is RESTART:
                duration = self._recover_s
            elif state is OUTAGE:
                duration = p.outage_s
            elif state is RAMP:
                duration = p.ramp_s
            elif state is DETECT:
                duration = self._detect_s
            else:
                duration = -1.0
            if power is not None:
                # a hung job draws what a waiting one does
                power.segment(start, WAITING if state is DETECT else state,
                              duration if duration >= 0 else math.inf)
            try:
                if duration > 0:
                    yield timeout(duration)
                elif state is WAITING:
                    yield self._ready  # failures while waiting only lengthen the wait
            except interrupt_type as intr:
                cause = intr.cause
            # an uninterrupted phase lasted exactly its duration: book that, not the difference
            # of float clock readings, so progress lands exactly on checkpoint boundaries
            elapsed = env.now - start if cause is not None or duration < 0 else duration
            if state is COMPUTE:  # booked here rather than in _book: the hot path
                led.compute += elapsed
                led.throttled += elapsed * (1.0 - base_rate)
                if paced:
                    self._book_paced(elapsed)
                else:
                    self.progress_s += elapsed * base_rate
                self._blame = None
                since += elapsed
            else:
                self._book(state, elapsed)
            if cause is not None:
                if cause is WIDTH:
                    continue  # same state, at the new width
                copies.since = since
                state = self._interrupted(cause)
                since = copies.since  # 0 after a roll-back; kept by an elastic job
            elif state == COMPUTE:
                state = CHECKPOINT
            elif state == CHECKPOINT:
                since = 0.0
                if not single:
                    copies.written(self.progress_s, env.now)
                elif persist_s > 0:
                    pending.append((self.progress_s, env.now + persist_s))
                else:
                    saved[0] = self.progress_s
                if self.progress_s >= done_s:
                    if p.ramp_s > 0:
                        self.stopping, state = True, RAMP
                        continue
                    self._finish()
                    return
                state = COMPUTE
                if env.now >= self._next_planned:
                    # planned stop at a checkpoint boundary: let the checkpoint persist, restart
                    self.planned += 1
                    copies.save_all(self.progress_s)
                    # requests form a Poisson process in wall-clock time, each served at
                    # the next boundary: the next one counts from this request, not from now
                    self._next_planned += float(
                        self.planned_rng.exponential(1.0 / p.planned_per_s))
                    self._blame = PLANNED
                    self._recover_s = p.restart_s
                    state = RESTART
            elif state == WAITING:
                if launching:  # the first launch is not a restart, nor any cause's cost
                    launching, state = False, (RAMP if p.ramp_s > 0 else COMPUTE)
                    self._blame = None
                else:
                    state = RESTART
            elif state == OUTAGE:
                state = self._after_outage()
                if launching and state is RESTART:  # dark before it launched: launch now
                    launching, state = False, (RAMP if p.ramp_s > 0 else COMPUTE)
                    self._blame = None
            elif state == DETECT:
                state = self._after_detect
                if state is RESTART and self.fleet.missing and not elastic:
                    state = self._after_outage()  # a node failed while the hang went unseen
            elif state == RAMP:
                if self.stopping:
                    self._finish()
                    return
                state = COMPUTE
            else:  # restart finished
                state = RAMP if p.ramp_s > 0 else COMPUTE
                if self._deferred is not None:
                    cause, self._deferred = self._deferred, None
                    if self._still_short():
                        copies.since = since
                        state = self._interrupted(cause)
                        since = copies.since

    def _still_short(self) -> bool:
        """At the end of a restart during which a node was lost: whether the job still misses
        it (an elastic job: whether a replica it broke is still out; a spare, or a node back
        from repair, may have filled its place meanwhile)."""
        if not self._elastic:
            return self.fleet.missing > 0
        broke, self._deferred_replicas = self._deferred_replicas, []
        return any(self.fleet.replica_out(r) for r in broke)

    def _finish(self) -> None:
        env = self.env
        self.done_at = env.now
        self.state = DONE
        if self.on_state is not None:
            self.on_state(env.now, DONE, self.progress_s)
        if self.power is not None:
            self.power.finish(env.now)

    def _book_paced(self, elapsed: float) -> None:
        """Progress over ``elapsed`` s of compute at the job's width and straggler pace, and
        what the missing width and the slowness cost."""
        led, rate, width, slow = self.ledger, self.params.compute_rate, self._width, self._slow
        self.progress_s += elapsed * rate * width / slow
        led.degraded += elapsed * rate * (1.0 - width)
        led.slow += elapsed * rate * width * (1.0 - 1.0 / slow)

    def _book(self, state: str, elapsed: float) -> None:
        """Add time spent in ``state`` to the ledger (each state has its field, by name), and
        a stall's or a wait's to the cause being recovered from."""
        led = self.ledger
        if state == COMPUTE:
            rate = self.params.compute_rate
            led.compute += elapsed
            led.throttled += elapsed * (1.0 - rate)
            self._book_paced(elapsed)
            self._blame = None
        elif state == CHECKPOINT:
            led.checkpoint += elapsed
            if not self.copies.single:
                self.copies.book_write(elapsed)
        else:  # detect, restart, ramp, waiting, outage
            setattr(led, state, getattr(led, state) + elapsed)
            if self._blame is not None:
                by_cause = self.down_by_cause if state in (WAITING, OUTAGE) \
                    else self.restart_by_cause
                by_cause[self._blame] += elapsed

    def _interrupted(self, cause: str) -> str:
        """The next state after an interruption: detection first if the cause has one, then
        the strategy's recovery."""
        self.interruptions[cause] += 1
        p = self.params
        self._blame = cause
        if self._elastic and cause != POWER_TRIP and cause != PLANNED \
                and self.fleet.replicas_up >= p.min_replicas:
            # drop the failed replica: the survivors hold the state, nothing rolls back
            self.copies.keep_schedule()
            self._recover_s = p.reconfigure_s
            nxt = RESTART
        else:
            # back to the freshest checkpoint copy that survived
            power_trip = cause == POWER_TRIP
            saved, tier = self.copies.recover(self.progress_s, self.env.now, power_trip,
                                              self._took_node and not power_trip, self._per)
            lost = self.progress_s - saved
            self.ledger.lost_work += lost
            self.lost_by_cause[cause] += lost
            self.progress_s = saved
            self._restore_s = p.tiers[tier].restore_s
            if power_trip:
                return OUTAGE
            nxt = self._after_outage()
            if nxt is RESTART and self._took_node and self._hot_swap:
                # a spare already took the node's place
                self._recover_s = p.swap_s + self._restore_s
        if p.detect_s:
            detect = p.detect_s.get(cause, 0.0)
            if detect > 0:
                self._detect_s, self._after_detect = detect, nxt
                return DETECT
        return nxt

    def _after_outage(self) -> str:
        """Restart at once if the job has its nodes (an elastic job: enough replicas), else
        wait for repairs."""
        self._recover_s = self.params.restart_s + self._restore_s
        if self._elastic and self.fleet.replicas_up >= self.params.min_replicas:
            return RESTART
        ready = self.fleet.nodes_ready()
        if ready is None:
            return RESTART
        self._ready = ready
        return WAITING

    def close(self) -> None:
        """At the horizon: book the unfinished phase (unsaved compute counts as productive)."""
        if self.state != DONE:
            self._book(self.state, self.env.now - self._phase_start)
            if self.power is not None:
                self.power.finish(self.env.now)
