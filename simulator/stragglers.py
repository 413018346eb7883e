"""Fail-slow stragglers: units that keep working, only slower.

Each unit of a slowdown's kind in the job turns slow as a Poisson process at its rate; an
episode lasts a drawn wall-clock duration D, during which the unit's steps take ``factor`` f
times as long. A synchronous job steps at its slowest member's pace, so while episodes
overlap the job's progress rate is 1 / max f. An episode over the job's compute time thus
costs D·(1 − 1/f) of progress (``slow_hours``): with rare episodes at rate r per unit on U
units, ``slow_hours`` ≈ r·U·T·E[D]·(1 − 1/f) over T of compute, i.e. the job needs
r·U·T·E[D'](f − 1) more time, where D' = D/f is the work the episode spans.

With ``evict_after`` = E, an episode still going E after it began is detected and its unit
evicted: a failure of its node, recovered by the job's strategy (restart, hot swap, elastic).
The episode then ends. Cost per episode: O(log episodes active); no process per unit.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

import numpy as np
import simpy

from simulator.config import Scenario
from simulator.distributions import Distribution, Draws
from simulator.failures import CauseSpec
from simulator.shares import RateShares


class Stragglers:
    """The fail-slow episodes of one replication.

    Args:
        env: the SimPy environment.
        specs: one per slowdown and node group: a cause spec (its repair is the evicted
            unit's; its rate is 0, so the failure streams ignore it) with the job's unit count
            of that kind, the episode rate per unit (1/s), duration, factor and eviction time.
        rng: the random stream of slowdowns.
        evict: called with (spec index, unit) to evict a unit.
    """

    def __init__(self, env: simpy.Environment,
                 specs: Sequence[tuple[CauseSpec, int, float, Distribution, float, float | None]],
                 rng: np.random.Generator, evict: Callable[[int, int], None]):
        self.env = env
        self._specs = list(specs)
        self._evict = evict
        self._rng = rng
        self._shares = RateShares([n * r for _, n, r, _, _, _ in specs])
        self._total = self._shares.total
        self._durations = [Draws(d, rng) for _, _, _, d, _, _ in specs]
        self._active: list[float] = []  # -factor of each active episode (a max-heap)
        self._id = 0
        self.factor = 1.0  # the slowest active episode's factor (1: full pace)
        #: called when ``factor`` changes (the job re-plans its compute)
        self.on_change: Callable[[], None] | None = None
        self.episodes = 0
        self.evictions = 0
        if self._total > 0:
            self._next()

    def _next(self) -> None:
        gap = float(self._rng.exponential(1.0 / self._total))
        self.env.timeout(gap).callbacks.append(self._start)

    def _start(self, _event: simpy.Event) -> None:
        u = float(self._rng.random())
        k = self._shares.pick(u)
        _, units, _, _, factor, evict_after = self._specs[k]
        duration = self._durations[k]()
        unit = int(self._rng.integers(units))
        self.episodes += 1
        heapq.heappush(self._active, -factor)
        self._changed()
        if evict_after is not None and duration > evict_after:
            self.env.timeout(evict_after).callbacks.append(
                lambda _e, k=k, f=factor, u=unit: self._end(f, (k, u)))
        else:
            self.env.timeout(duration).callbacks.append(lambda _e, f=factor: self._end(f, None))
        self._next()

    def _end(self, factor: float, evicted: tuple[int, int] | None) -> None:
        self._active.remove(-factor)
        heapq.heapify(self._active)
        self._changed()
        if evicted is not None:
            self.evictions += 1
            self._evict(*evicted)

    def _changed(self) -> None:
        factor = -self._active[0] if self._active else 1.0
        if not math.isclose(factor, self.factor, rel_tol=0.0, abs_tol=0.0):
            self.factor = factor
            if self.on_change is not None:
                self.on_change()


def slowdown_specs(scenario: Scenario
                   ) -> list[tuple[CauseSpec, int, float, Distribution, float, float | None]]:
    """One entry per (slowdown, node group): a cause spec for evictions (rate 0: the failure
    streams ignore it; the fleet appends it to its causes), the job's units of its kind, the
    per-unit episode rate (1/s), the duration, the factor and the eviction time."""
    from simulator.layout import layout

    default_repair = scenario.cluster.repair_time.build()
    out = []
    for s in scenario.failures.slowdowns:
        repair = s.repair_time.build() if s.repair_time is not None else default_repair
        for g in layout(scenario):
            spec = CauseSpec(name=s.name, per=s.per, units=g.units(s.per), rate_per_s=0.0,
                             weibull_shape=None, repair=repair, group=g.index,
                             node_offset=g.offset, group_nodes=g.nodes,
                             gpus_per_node=g.gpus_per_node, nodes_per_rack=g.nodes_per_rack)
            out.append((spec, g.job_units(s.per), s.rate_per_s * g.config.failure_scale,
                        s.duration.build(), s.factor, s.evict_after))
    return out
