"""The training job's state machine (DESIGN §2.3) as a SimPy process.

States: ``compute`` -> ``checkpoint`` -> ``compute`` ... until the work is done. A failure of
a node the job holds interrupts it (SimPy ``Interrupt``, as in the machine-shop example): work
since the last *recoverable* checkpoint is lost, the job ``waiting``\\s for healthy nodes if the
spare pool is empty, then ``restart``\\s. Planned interruptions are taken at checkpoint
boundaries and cost a restart only.

The time ledger (seconds) always sums to the elapsed wall clock:
``productive + checkpoint + lost_work + restart + waiting + outage``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from simulator.fleet import Fleet

COMPUTE, CHECKPOINT, RESTART, WAITING, OUTAGE, DONE = (
    "compute", "checkpoint", "restart", "waiting", "outage", "done")
#: states in which a failure of a job node interrupts the job
RUNNING = frozenset({COMPUTE, CHECKPOINT, RESTART})


@dataclass(frozen=True)
class JobParams:
    """Job timing, all in seconds.

    Attributes:
        work_s: failure-free compute time to finish.
        interval_s: compute time between checkpoints (τ).
        write_s: checkpoint write stall (δ).
        persist_s: delay after the write until the checkpoint is recoverable.
        restart_s: restart time (R).
        failures_during_restart: whether failures can interrupt a restart.
        planned_per_s: planned interruptions per second of wall clock.
    """

    work_s: float
    interval_s: float
    write_s: float
    persist_s: float
    restart_s: float
    failures_during_restart: bool
    planned_per_s: float


@dataclass
class Ledger:
    """Where the wall-clock time went (seconds)."""

    compute: float = 0.0  # all compute, later split into productive and lost
    checkpoint: float = 0.0
    lost_work: float = 0.0
    restart: float = 0.0
    waiting: float = 0.0
    outage: float = 0.0

    @property
    def productive(self) -> float:
        return self.compute - self.lost_work


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
    """

    env: simpy.Environment
    params: JobParams
    fleet: Fleet
    planned_rng: np.random.Generator
    on_state: Callable[[float, str, float], None] | None = None
    state: str = COMPUTE
    progress_s: float = 0.0  # compute done on the surviving line of work
    saved_s: float = 0.0  # progress covered by a recoverable checkpoint
    ledger: Ledger = field(default_factory=Ledger)
    interruptions: Counter = field(default_factory=Counter)
    planned: int = 0
    done_at: float | None = None
    _phase_start: float = 0.0
    _pending: list[tuple[float, float]] = field(default_factory=list)  # (progress, recoverable at)
    _next_planned: float = float("inf")

    def __post_init__(self) -> None:
        if self.params.planned_per_s > 0:
            self._next_planned = float(self.planned_rng.exponential(1.0 / self.params.planned_per_s))
        self.process = self.env.process(self._run())

    # -- interface for the failure side -----------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state in RUNNING

    def interruptible(self) -> bool:
        """Whether a failure of a job node now interrupts the job."""
        if self.state == RESTART:
            return self.params.failures_during_restart
        return self.state in RUNNING

    def interrupt(self, cause: str) -> None:
        self.process.interrupt(cause)

    # -- the state machine ------------------------------------------------------------------
    def _enter(self, state: str) -> None:
        self.state = state
        self._phase_start = self.env.now
        if self.on_state is not None:
            self.on_state(self.env.now, state, self.progress_s)

    def _phase(self, state: str, duration_s: float):
        """Spend ``duration_s`` in ``state``; returns the interrupting cause or None."""
        self._enter(state)
        if duration_s <= 0:
            return None
        try:
            yield self.env.timeout(duration_s)
        except simpy.Interrupt as intr:
            self._close_phase()
            return intr.cause
        self._close_phase()
        return None

    def _close_phase(self) -> None:
        """Book the time since the phase began into the ledger."""
        elapsed = self.env.now - self._phase_start
        self._phase_start = self.env.now
        if self.state == COMPUTE:
            self.ledger.compute += elapsed
            self.progress_s += elapsed
        elif self.state == CHECKPOINT:
            self.ledger.checkpoint += elapsed
        elif self.state == RESTART:
            self.ledger.restart += elapsed
        elif self.state == WAITING:
            self.ledger.waiting += elapsed
        elif self.state == OUTAGE:
            self.ledger.outage += elapsed

    def _run(self):
        p = self.params
        since_ckpt = 0.0
        while True:
            seg = min(p.interval_s - since_ckpt, p.work_s - self.progress_s)
            before = self.progress_s
            cause = yield from self._phase(COMPUTE, seg)
            since_ckpt += self.progress_s - before
            if cause is None:
                cause = yield from self._phase(CHECKPOINT, p.write_s)
            if cause is not None:
                yield from self._recover(cause)
                since_ckpt = 0.0
                continue
            since_ckpt = 0.0
            if p.persist_s > 0:
                self._pending.append((self.progress_s, self.env.now + p.persist_s))
            else:
                self.saved_s = self.progress_s
            if self.progress_s >= p.work_s:
                self.done_at = self.env.now
                self._enter(DONE)
                return
            if self.env.now >= self._next_planned:
                yield from self._planned()

    def _settle_pending(self) -> None:
        now = self.env.now
        for progress, ready_at in self._pending:
            if ready_at <= now:
                self.saved_s = max(self.saved_s, progress)
        self._pending = [x for x in self._pending if x[1] > now]

    def _recover(self, cause: str):
        """After an interruption: roll back, wait for hardware, restart (until one succeeds)."""
        self.interruptions[cause] += 1
        self._settle_pending()
        self._pending.clear()
        self.ledger.lost_work += self.progress_s - self.saved_s
        self.progress_s = self.saved_s
        while True:
            ready = self.fleet.nodes_ready()
            if ready is not None:
                self._enter(WAITING)
                yield ready
                self._close_phase()
            cause = yield from self._phase(RESTART, self.params.restart_s)
            if cause is None:
                return
            self.interruptions[cause] += 1

    def _planned(self):
        """A planned interruption at a checkpoint boundary: restart cost, no lost work."""
        self.planned += 1
        self._settle_pending()
        # the planned stop lets the last checkpoint finish persisting
        self.saved_s = self.progress_s
        self._pending.clear()
        cause = yield from self._phase(RESTART, self.params.restart_s)
        if cause is not None:
            yield from self._recover(cause)
        self._next_planned = self.env.now + float(
            self.planned_rng.exponential(1.0 / self.params.planned_per_s))

    def close(self) -> None:
        """At the horizon: book the unfinished phase (unsaved compute counts as productive)."""
        if self.state != DONE:
            self._close_phase()
