"""The failure model: when which unit fails, sampled without a process (or a loop) per GPU.

Three kinds of stream produce failure events ``(time_s, cause_index, unit_index)``:

* :class:`ExponentialStream` - all exponential causes at once. Each unit of cause c fails at
  rate r_c while in service. The superposition over *all installed* units is a Poisson process
  of rate Σ r_c·n_c; picking the unit uniformly and discarding the event when that unit is
  already under repair (thinning) gives exactly the per-unit processes that pause during repair.
  Cost per event is O(1), whatever the number of GPUs.
* :class:`WeibullStream` - one Weibull cause with exact per-unit renewal: the first failures
  inside the run's horizon are drawn once (vectorised) and sorted; a failed unit's next
  failure (after its repair) goes to a small heap. Below a million units every unit's first
  failure is drawn and those past the horizon dropped: O(n), about 2 ms per 100k units.
  From a million units on, only those inside are drawn, which is the same law: their count
  is Binomial(n, F(h)) with F the first failure's CDF at the horizon h, the units a uniform
  subset of that size, and their times F⁻¹(U·F(h)), U uniform on (0, 1). Set-up then costs
  what the failures inside the horizon cost, whatever n. Then O(log k) per event.
* :class:`TraceStream` - events replayed from a CSV file.

:class:`FailureSource` merges them in time order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.config import Scenario
from simulator.csvload import data_rows, read_csv
from simulator.distributions import Distribution, Draws, Weibull
from simulator.layout import layout
from simulator.shares import RateShares
from simulator.units import UnitError, to_seconds

if TYPE_CHECKING:  # numpy is imported where streams are built: reading a scenario skips it
    import numpy as np

INF = math.inf
_BATCH = 512  # random draws fetched per numpy call (numpy's per-call cost dominates single draws)


@dataclass(frozen=True)
class CauseSpec:
    """A failure cause resolved against one node group of the cluster.

    A scenario's cause becomes one spec per GPU type (group) of the fleet, each with the
    group's unit count and rate (× the group's ``failure_scale``).

    Attributes:
        name: cause name as in the scenario file.
        per: failure unit kind: ``gpu``, ``node``, ``rack`` or ``domain``.
        units: installed units of this kind in the group (spare nodes included).
        rate_per_s: per-unit failure rate in 1/s.
        weibull_shape: None for exponential.
        repair: repair-time distribution (s).
        group: index of the node group.
        node_offset: global index of the group's first node.
        group_nodes: nodes in the group.
        gpus_per_node, nodes_per_rack: the group's packaging (for a domain cause,
            nodes_per_rack holds the domain's nodes).
    """

    name: str
    per: str
    units: int
    rate_per_s: float
    weibull_shape: float | None
    repair: Distribution
    group: int = 0
    node_offset: int = 0
    group_nodes: int = 1
    gpus_per_node: int = 8
    nodes_per_rack: int = 4

    def nodes_of(self, unit: int) -> range:
        """Global node indices a failure of ``unit`` takes out of service."""
        if self.per == "gpu":
            node = self.node_offset + unit // self.gpus_per_node
            return range(node, node + 1)
        if self.per == "node":
            return range(self.node_offset + unit, self.node_offset + unit + 1)
        start = unit * self.nodes_per_rack
        end = min(start + self.nodes_per_rack, self.group_nodes)
        return range(self.node_offset + start, self.node_offset + end)


def resolve_causes(scenario: Scenario) -> list[CauseSpec]:
    """One spec per (cause, node group), with unit counts and repair distributions."""
    default_repair = scenario.cluster.repair_time.build()
    specs = []
    for cause in scenario.failures.causes:
        repair = cause.repair_time.build() if cause.repair_time is not None else default_repair
        for g in layout(scenario):
            specs.append(CauseSpec(
                name=cause.name, per=cause.per, units=g.units(cause.per, cause.domain_nodes),
                rate_per_s=cause.rate_per_s * g.config.failure_scale,
                weibull_shape=cause.weibull_shape, repair=repair, group=g.index,
                node_offset=g.offset, group_nodes=g.nodes, gpus_per_node=g.gpus_per_node,
                nodes_per_rack=cause.domain_nodes or g.nodes_per_rack))
    return specs


def job_failure_rate(scenario: Scenario) -> float:
    """Λ = Σ_types Σ_causes (units in the job × per-unit rate), in 1/s (mean rates)."""
    return sum(g.job_units(c.per, c.domain_nodes) * c.rate_per_s * g.config.failure_scale
               for g in layout(scenario) for c in scenario.failures.causes)


class ExponentialStream:
    """Superposed Poisson failures of all exponential causes (thinned by the caller)."""

    def __init__(self, causes: Sequence[tuple[int, CauseSpec]], rng: np.random.Generator):
        self._rng = rng
        self._index = [i for i, _ in causes]
        self._units = [c.units for _, c in causes]
        self._shares = RateShares([c.rate_per_s * c.units for _, c in causes])
        self._total = self._shares.total
        self._t = 0.0
        self._buf_gap: list[float] = []
        self._buf_u: list[float] = []
        self._k = 0

    def _refill(self) -> None:
        self._buf_gap = self._rng.exponential(1.0 / self._total, _BATCH).tolist()
        self._buf_u = self._rng.random(_BATCH).tolist()
        self._k = 0

    def next(self) -> tuple[float, int, int]:
        if self._total <= 0:
            return INF, -1, -1
        if self._k >= len(self._buf_gap):
            self._refill()
        self._t += self._buf_gap[self._k]
        u = self._buf_u[self._k]
        self._k += 1
        # one uniform picks the cause (by its share of the rate), then the unit within it
        j, frac = self._shares.pick_within(u)
        unit = min(int(frac * self._units[j]), self._units[j] - 1)
        return self._t, self._index[j], unit


#: from this many units of a Weibull cause on, only first failures inside the horizon are
#: drawn (:func:`_first_inside`). Both draws are exact; below it the per-unit draw is kept,
#: which costs milliseconds and leaves the random streams of smaller clusters as they were.
THINNED_FROM_UNITS = 1_000_000


def _first_inside(dist: Weibull, rng: np.random.Generator, units: int, horizon_s: float,
                  stationary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(unit indices, first failure times in s) of the units whose first failure falls
    inside [0, horizon_s], in no particular order, drawn in O(their number): a binomial
    count, a uniform subset of the units, and times by inversion of the CDF truncated at the
    horizon. Each unit's first failure is independent of the others', so this is the law of
    drawing all of them and keeping those inside."""
    import numpy as np

    cdf, ppf = (dist.residual_cdf, dist.residual_ppf) if stationary else (dist.cdf, dist.ppf)
    inside_p = cdf(horizon_s)
    count = int(rng.binomial(units, inside_p))
    chosen = rng.choice(units, count, replace=False)
    times = np.minimum(ppf(rng.random(count) * inside_p), horizon_s)  # rounding at q = F(h)
    return chosen, times


class WeibullStream:
    """Exact per-unit Weibull renewal for one cause."""

    def __init__(self, index: int, cause: CauseSpec, rng: np.random.Generator, stationary: bool,
                 horizon_s: float = INF):
        import numpy as np

        self.index = index
        dist = Weibull(cause.weibull_shape or 1.0, 1.0 / cause.rate_per_s)
        if cause.units >= THINNED_FROM_UNITS:
            inside, kept = _first_inside(dist, rng, cause.units, horizon_s, stationary)
        else:
            first = (dist.sample_residual(rng, cause.units) if stationary
                     else np.asarray(dist.sample(rng, cause.units)))
            # only first failures inside the horizon are kept (and sorted): Python lists of
            # every unit would cost memory for nothing
            inside = np.flatnonzero(first <= horizon_s)
            kept = first[inside]
            del first
        self._draw = Draws(dist, rng)
        order = np.argsort(kept, kind="stable")
        self._times = kept[order].tolist()
        self._units = inside[order].tolist()
        self._pos = 0
        self._heap: list[tuple[float, int]] = []
        self._forgotten: set[int] = set()  # units whose first sampled failure is void

    def forget_first(self, unit: int) -> None:
        """Void the unit's first sampled failure (it starts in repair; its renewal counts)."""
        self._forgotten.add(unit)

    def _skip_forgotten(self) -> None:
        times, units, gone = self._times, self._units, self._forgotten
        while self._pos < len(times) and units[self._pos] in gone:
            gone.discard(units[self._pos])
            self._pos += 1

    def peek(self) -> float:
        if self._forgotten:
            self._skip_forgotten()
        a = self._times[self._pos] if self._pos < len(self._times) else INF
        b = self._heap[0][0] if self._heap else INF
        return min(a, b)

    def pop(self) -> tuple[float, int, int]:
        a = self._times[self._pos] if self._pos < len(self._times) else INF
        b = self._heap[0][0] if self._heap else INF
        if a <= b:
            self._pos += 1
            return a, self.index, self._units[self._pos - 1]
        t, unit = heapq.heappop(self._heap)
        return t, self.index, unit

    def renew(self, unit: int, back_in_service_s: float) -> None:
        """Schedule the unit's next failure after it returns to service."""
        heapq.heappush(self._heap, (back_in_service_s + self._draw(), unit))


class TraceStream:
    """Failure events replayed from a trace."""

    def __init__(self, events: list[tuple[float, int, int]]):
        self._events = events
        self._pos = 0

    def peek(self) -> float:
        return self._events[self._pos][0] if self._pos < len(self._events) else INF

    def pop(self) -> tuple[float, int, int]:
        self._pos += 1
        return self._events[self._pos - 1]


def read_trace(path: Path, causes: Sequence[CauseSpec]) -> list[tuple[float, int, int]]:
    """Read a ``time,cause,unit`` CSV (header optional; time in s or with a unit).

    ``unit`` numbers the cause's units across the whole cluster (group after group for a
    mixed fleet).

    Raises:
        ValueError: listing every bad line as ``file:line: message``.
    """
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(causes):
        by_name.setdefault(c.name, []).append(i)
    events: list[tuple[float, int, int]] = []
    problems: list[str] = []
    for lineno, row in data_rows(read_csv(path)):  # a spreadsheet's BOM is fine
        if len(row) != 3:
            problems.append(f"{path}:{lineno}: expected 3 fields time,cause,unit")
            continue
        t_raw, cause, unit_raw = (x.strip() for x in row)
        try:
            t = to_seconds(t_raw if not _is_number(t_raw) else float(t_raw))
        except UnitError as exc:
            problems.append(f"{path}:{lineno}: time: {exc}")
            continue
        if cause not in by_name:
            problems.append(f"{path}:{lineno}: cause {cause!r} is not in failures.causes")
            continue
        total = sum(causes[i].units for i in by_name[cause])
        if not unit_raw.isdigit() or int(unit_raw) >= total:
            problems.append(f"{path}:{lineno}: unit {unit_raw!r} is not a "
                            f"{causes[by_name[cause][0]].per} index in 0..{total - 1}")
            continue
        if not math.isfinite(t) or t < 0:
            problems.append(f"{path}:{lineno}: time must be a finite, non-negative number")
            continue
        unit = int(unit_raw)
        for i in by_name[cause]:
            if unit < causes[i].units:
                events.append((t, i, unit))
                break
            unit -= causes[i].units
    if problems:
        raise ValueError("\n".join(problems))
    events.sort(key=lambda e: e[0])
    return events


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class FailureSource:
    """All failure events of one replication, in time order."""

    def __init__(self, scenario: Scenario, causes: list[CauseSpec], rng: np.random.Generator,
                 trace: list[tuple[float, int, int]] | None = None):
        self.causes = causes
        self.weibull: dict[int, WeibullStream] = {}
        self._streams: list[WeibullStream | TraceStream] = []
        self._exp: ExponentialStream | None = None
        self._exp_next: tuple[float, int, int] = (INF, -1, -1)
        #: whether events are replayed from a trace (facts, not samples)
        self.replayed = trace is not None
        if trace is not None:
            self._streams.append(TraceStream(trace))
            return
        stationary = scenario.failures.weibull_start == "stationary"
        exp_causes = [(i, c) for i, c in enumerate(causes)
                      if c.weibull_shape is None and c.rate_per_s > 0]
        if exp_causes:
            self._exp = ExponentialStream(exp_causes, rng)
            self._exp_next = self._exp.next()
        for i, c in enumerate(causes):
            if c.weibull_shape is not None and c.rate_per_s > 0:
                self.weibull[i] = WeibullStream(i, c, rng, stationary, scenario.run.horizon)
                self._streams.append(self.weibull[i])

    def next(self) -> tuple[float, int, int]:
        """The next candidate failure ``(time_s, cause_index, unit)``; time inf when none."""
        best_t = self._exp_next[0]
        best: WeibullStream | TraceStream | None = None
        for s in self._streams:
            t = s.peek()
            if t < best_t:
                best_t, best = t, s
        if best is not None:
            return best.pop()
        event = self._exp_next
        if self._exp is not None and event[0] < INF:
            self._exp_next = self._exp.next()
        return event

    def forget_first(self, cause: int, unit: int) -> None:
        """A unit that starts in repair: its first sampled Weibull failure does not happen."""
        stream = self.weibull.get(cause)
        if stream is not None:
            stream.forget_first(unit)

    def returned_to_service(self, cause: int, unit: int, at_s: float) -> None:
        """Tell per-unit renewal streams when a failed unit is back (or was never out)."""
        stream = self.weibull.get(cause)
        if stream is not None:
            stream.renew(unit, at_s)
