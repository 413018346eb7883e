"""Two-way coupling of the job, the hardware and the power system.

The job tells the coupling of every segment (state, planned duration); the fleet tells it of
every failure and repair. The coupling turns the job state and the fleet's counts into a
facility load and advances the event-level solver: a new job state starts a new segment (the
iteration waveform restarts), a hardware change mid-segment splits it (same state, new load,
the waveform's phase carries on), so the load follows the hardware when it changes. Loads
beside the job (``power.other_loads``) add to the facility load and split segments the same
way when their level changes.

When the solver predicts a trip, the coupling schedules it: at the trip time the job is
interrupted with cause ``power_trip`` (work since the last recoverable checkpoint is lost)
and the site stays dark for ``power.trip_outage_time``. After the outage the plant is restored
to rest (all healthy nodes idle) and the step to the job's restart load is checked like any
other; the plant starts at rest at t = 0 too, so the job's start is a checked step.
"""

from __future__ import annotations

import math

import simpy

from simulator.config import Scenario
from simulator.fleet import Fleet
from simulator.job import CHECKPOINT, COMPUTE, DONE, OUTAGE, POWER_TRIP, RAMP, Job
from simulator.power.load import MECHANISMS, LoadModel, Trapezoid, site_peak_w
from simulator.power.otherloads import OtherLoads, other_loads
from simulator.power.plant import EventSolver, PlantParams, SegmentLog

BATTERY_LIMIT = "battery_limit"
RAMP_STEPS = 10  # a soft start or stop is taken as this many equal steps of its duration


class PowerCoupling:
    """Drives the event-level solver from job segments and hardware changes, and delivers
    trips to the job."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, fleet: Fleet,
                 log: SegmentLog | None = None):
        cfg = scenario.power
        assert cfg is not None
        self.env = env
        self.fleet = fleet
        self.cfg = cfg
        self.period = scenario.job.iteration_time
        self.loads = LoadModel(cfg, scenario.cluster.groups, self.period)
        self.other = other_loads(cfg)
        self._other_w = self.other.at(0.0)
        self.solver = EventSolver(plant_params(scenario, self.loads, self.other))
        self.job: Job | None = None
        self.log = log
        self._token = 0
        self._open = False
        self._dark = False
        self._pending_check = False
        self._loads: dict[tuple, tuple[Trapezoid, float]] = {}
        # the open segment: state, start time, waveform phase at start, planned end, load key
        self._state = COMPUTE
        self._t_start = 0.0
        self._phase = 0.0
        self._end = math.inf
        self._key: tuple = ()
        # a soft start or stop: (from state, to state, step) and which ramp it is
        self._ramp: tuple[str, str, int] = ("idle", COMPUTE, 0)
        self._ramp_id = 0

    def attach(self, job: Job) -> None:
        self.job = job
        job.power = self
        self.fleet.on_change = self._hardware_changed
        self.solver.start(self.env.now, self._load("idle")[0])
        for t in self.other.times:
            if t > self.env.now:
                self.env.timeout(t - self.env.now).callbacks.append(self._other_changed)

    # -- loads ---------------------------------------------------------------------------------
    def _counts(self, state: str) -> tuple:
        if state == RAMP:
            return (state, *self.fleet.counts(), self._other_w, *self._ramp)
        return (state, *self.fleet.counts(), self._other_w)

    def _load(self, state: str, key: tuple | None = None
              ) -> tuple[Trapezoid, tuple[float, ...]]:
        key = self._counts(state) if key is None else key
        cached = self._loads.get(key)
        if cached is None:
            held, free, other_w = key[1:4]
            if state == RAMP:
                return self._ramp_load(key)
            facility = self.loads.facility(state, list(held), list(free))
            cached = self._loads[key] = (facility.shift(other_w) if other_w else facility,
                                         self.loads.extras(state, list(held), list(free)))
        return cached

    def _ramp_load(self, key: tuple) -> tuple[Trapezoid, tuple[float, ...]]:
        """A soft start or stop: step k of :data:`RAMP_STEPS` between the mean loads of two
        states (W), with the current hardware."""
        held, free, other_w, src, dst, k = key[1:]
        a = self.loads.facility(src, list(held), list(free)).mean
        b = self.loads.facility(dst, list(held), list(free)).mean
        level = a + (b - a) * (k + 1) / RAMP_STEPS + other_w
        got = self._loads[key] = (Trapezoid.constant(level), (0.0,) * len(MECHANISMS))
        return got

    # -- job segments --------------------------------------------------------------------------
    def segment(self, t: float, state: str, planned_s: float) -> None:
        if self._open:
            self.solver.end(t)
            self._open = False
        if state == RAMP:
            self._start_ramp(t, planned_s)
        self._state, self._t_start, self._phase = state, t, 0.0
        self._end = t + planned_s
        if state == OUTAGE:
            self._dark = True
            self._token += 1
            self.solver.begin_dark(t)
            if self.log is not None:
                self.log.add(t, state, Trapezoid.constant(0.0), 0.0, self.solver)
            self._open = True
            return
        self._begin(t, planned_s)

    def _begin(self, t: float, planned_s: float) -> None:
        self._key = self._counts(self._state)
        load, extras_w = self._load(self._state, self._key)
        rest = self._load("idle")[0] if self._dark else None
        self._dark = False
        event = self.solver.begin(t, load, extras_w, planned_s, phase=self._phase, rest=rest)
        if self.log is not None:
            self.log.add(t, self._state, load, self._phase, self.solver)
        self._open = True
        self._token += 1
        if event is not None:
            delay, kind = event
            token = self._token
            self.env.timeout(delay).callbacks.append(lambda _e: self._event(token, kind))

    def _start_ramp(self, t: float, duration: float) -> None:
        """Up from idle (the job's start) or the restart level to compute; or down from the
        last checkpoint to idle. The steps come at equal intervals."""
        prev = self._state
        if prev == CHECKPOINT:
            self._ramp = (CHECKPOINT, "idle", 0)
        else:
            self._ramp = (prev if prev != COMPUTE else "idle", COMPUTE, 0)  # COMPUTE: the start
        self._ramp_id += 1
        ramp_id = self._ramp_id
        for k in range(1, RAMP_STEPS):
            self.env.timeout(duration * k / RAMP_STEPS).callbacks.append(
                lambda _e, k=k: self._ramp_step(ramp_id, k))

    def _ramp_step(self, ramp_id: int, k: int) -> None:
        job = self.job
        if ramp_id != self._ramp_id or job is None or job.state != RAMP or not self._open \
                or self._dark:
            return  # the ramp ended (interrupted) first
        src, dst, _ = self._ramp
        self._ramp = (src, dst, k)
        self._split(self.env.now)

    def _split(self, t: float) -> None:
        """End the open segment at t and begin it again with the current load."""
        self.solver.end(t)
        if self.period > 0:
            self._phase = (self._phase + (t - self._t_start)) % self.period
        self._t_start = t
        self._begin(t, max(self._end - t, 0.0))

    # -- events --------------------------------------------------------------------------------
    def _event(self, token: int, kind: str) -> None:
        job = self.job
        if token != self._token or job is None or job.state in (OUTAGE, DONE):
            return  # the segment ended first
        now = self.env.now
        if kind == BATTERY_LIMIT:
            self._split(now)
            return
        self.solver.end(now)
        self._open = False
        self.solver.trip(now, kind, self.cfg.trip_outage_time)
        job.interrupt(POWER_TRIP)

    def _hardware_changed(self) -> None:
        # Defer to the end of this instant: a failure that stops the job changes its state
        # (a new segment) in the same instant, and one split is enough.
        if not self._pending_check:
            self._pending_check = True
            self.env.timeout(0).callbacks.append(self._check)

    def _other_changed(self, _event: simpy.Event) -> None:
        self._other_w = self.other.at(self.env.now)
        self._hardware_changed()  # the same check: a new load splits the open segment

    def _check(self, _event: simpy.Event) -> None:
        self._pending_check = False
        job = self.job
        if job is None or not self._open or self._dark or job.state in (OUTAGE, DONE):
            return
        if self._counts(self._state) != self._key:
            self._split(self.env.now)

    def finish(self, t: float) -> None:
        if self._open:
            self.solver.end(t)
            self._open = False
        if self.log is not None:
            self.log.close(self.solver)


def plant_params(scenario: Scenario, loads: LoadModel | None = None,
                 other: OtherLoads | None = None) -> PlantParams:
    """The plant of a scenario, with its site's peak load (every node up, the job computing)."""
    cfg = scenario.power
    assert cfg is not None
    period = scenario.job.iteration_time
    loads = loads if loads is not None else LoadModel(cfg, scenario.cluster.groups, period)
    other = other if other is not None else other_loads(cfg)
    return PlantParams.from_config(cfg, period, site_peak_w(scenario, loads, other))


