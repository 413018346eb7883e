"""The job's checkpoint copies, tier by tier: when each is due, and what a failure leaves.

Tier 0 is the persistent checkpoint (to storage: it survives everything). Faster tiers
(e.g. into host memory every few minutes, with a copy on a peer node, as in GEMINI and
ByteRobust) write on their own intervals. As in training frameworks that save every N steps,
tier i writes whenever progress reaches a multiple of Δ_i = interval_i × compute rate (work-s),
so a roll-back to one tier's copy does not shift another tier's schedule. A tier's copy
becomes recoverable ``persist_s`` after its write ends. A failure rolls the job back to the
freshest recoverable copy of a tier that survived it:

* ``storage``: every failure;
* ``peer``: a failure of a GPU or a node (its peer holds the copy), not of a rack, a domain
  or a dark site;
* ``local``: only a failure that takes no node out (a crashed process), not a dark site.

Work lost to a failure is the progress since the last multiple of Δ_k, for the freshest tier
k that survives. After a roll-back to a multiple of Δ_k, with exponential failures at rate λ,
no write stalls and no restart time, that is T mod Δ_k with T ~ Exp(λ):
E[T mod Δ] = 1/λ − Δ/(e^{λΔ} − 1) → Δ/2 when λΔ ≪ 1 (the 1/(2f) of GEMINI's wasted-time
form t_ckpt + 1/(2f) + t_rtvl). Times in s; progress in work-seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

#: a tier is due when its interval is this close (relative) to elapsed
_DUE_REL = 1e-9


class Tier(NamedTuple):
    """One tier's schedule and reach (seconds)."""

    name: str
    interval_s: float
    write_s: float
    persist_s: float = 0.0
    location: str = "storage"  # storage | peer | local
    restore_s: float = 0.0  # added to the restart when recovering from this tier


def survives(tier: Tier, power_trip: bool, took_node: bool, per: str) -> bool:
    """Whether the tier's copy outlives a failure (see the module docstring)."""
    if tier.location == "storage":
        return True
    if power_trip:
        return False
    if tier.location == "peer":
        return per not in ("rack", "domain")
    return not took_node


class Checkpoints:
    """Schedules and recoverable copies of every tier.

    One tier counts compute time since its last write (reset by a roll-back, which always
    lands on one of its boundaries); several tiers follow progress multiples. The job keeps
    one tier's schedule and writes inline (the hot path of every replication): the schedule
    methods here serve several tiers, roll-backs and planned stops serve both."""

    def __init__(self, tiers: Sequence[Tier], compute_rate: float = 1.0):
        self.tiers = tuple(tiers)
        n = len(self.tiers)
        self.single = n == 1  # callers track one tier's compute time in ``since`` themselves
        self.since = 0.0  # one tier: compute time since its last write (s)
        self.step = [t.interval_s * compute_rate for t in self.tiers]  # Δ_i (work-s)
        self.next = list(self.step)  # several tiers: progress at each tier's next write
        self.saved = [0.0] * n  # progress of each tier's newest recoverable copy
        self.pending: list[list[tuple[float, float]]] = [[] for _ in range(n)]
        self.writing: list[int] = []  # tiers written at the boundary under way
        self.checkpoint_s = [0.0] * n  # write stalls booked per tier
        self.lost_s = [0.0] * n  # work lost per tier rolled back to

    def until_due(self, progress: float, rate: float) -> float:
        """Compute time until the next tier is due (s), at ``rate`` work-s per s (several
        tiers: the job tracks one tier's schedule itself)."""
        return (min(self.next) - progress) / rate

    def start_write(self, progress: float, finished: bool) -> float:
        """The tiers due now (and the persistent one when the work is done): their total
        write stall (s). Several tiers: the job writes one tier at every boundary itself."""
        due = [i for i, (nxt, step) in enumerate(zip(self.next, self.step, strict=True))
               if progress >= nxt - _DUE_REL * step]
        if not due:
            due = [min(range(len(self.next)), key=self.next.__getitem__)]
        if finished and 0 not in due:
            due.append(0)
        due.sort(key=lambda i: (i == 0, i))  # fast tiers first, the persistent one last
        self.writing = due
        return sum(self.tiers[i].write_s for i in due)

    def book_write(self, elapsed: float) -> None:
        """Stall time spent writing (cut short if interrupted), in writing order."""
        for i in self.writing:
            part = min(elapsed, self.tiers[i].write_s)
            self.checkpoint_s[i] += part
            elapsed -= part
            if elapsed <= 0:
                break

    def written(self, progress: float, now: float) -> None:
        """The boundary's writes ended at ``now``: each tier's copy holds ``progress`` (several
        tiers: the job books one tier's writes into :attr:`saved` and :attr:`pending` itself)."""
        self.since = 0.0
        for i in self.writing:
            t = self.tiers[i]
            self.next[i] = self._after(progress, i)
            if t.persist_s > 0:
                self.pending[i].append((progress, now + t.persist_s))
            else:
                self.saved[i] = progress
        self.writing = []

    def _after(self, progress: float, i: int) -> float:
        """The first multiple of Δ_i beyond ``progress``."""
        step = self.step[i]
        return (math.floor(progress / step + _DUE_REL) + 1) * step

    def save_all(self, progress: float) -> None:
        """A planned stop at a boundary (progress ``progress``) waits for the copies still
        persisting: they become recoverable. A tier not written since keeps its last copy
        (the stop writes nothing more; the job restarts from the boundary's copies)."""
        for i in range(len(self.tiers)):
            self._promote(i, math.inf)
            if self.single:  # the one tier was written at this boundary
                self.saved[i] = progress

    def _promote(self, i: int, now: float) -> None:
        """Tier i's copies that finished persisting by ``now`` become recoverable; the others
        are gone (the list is cleared in place: the job holds it)."""
        saved = self.saved
        for p, ready_at in self.pending[i]:
            if ready_at <= now and p > saved[i]:
                saved[i] = p
        self.pending[i].clear()

    def recover(self, progress: float, now: float, power_trip: bool, took_node: bool,
                per: str) -> tuple[float, int]:
        """Roll back: (progress of the freshest surviving copy, its tier). Copies that did
        not survive are gone."""
        if self.single:  # the persistent copy survives everything
            saved = self.saved
            if self.pending[0]:
                self._promote(0, now)
            self.since = 0.0
            self.lost_s[0] += progress - saved[0]
            return saved[0], 0
        best, k = -1.0, 0
        for i, t in enumerate(self.tiers):
            self._promote(i, now)
            # ties go to the later (faster) tier: the copy one restores from
            if self.saved[i] >= best and survives(t, power_trip, took_node, per):
                best, k = self.saved[i], i
        for i in range(len(self.tiers)):
            self.saved[i] = min(self.saved[i], best)
            self.next[i] = self._after(best, i)
        self.since = 0.0
        self.writing = []
        self.lost_s[k] += progress - best
        return best, k

    def keep_schedule(self) -> None:
        """An interruption that rolls nothing back (elastic): a write under way is dropped."""
        self.writing = []
