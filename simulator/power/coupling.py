"""Two-way coupling of the job and the power system.

The job tells the coupling of every segment (state, planned duration); the coupling turns the
state and the fleet's hardware counts into a facility load, advances the event-level solver,
and, when the solver predicts a trip, schedules it: at the trip time the job is interrupted
with cause ``power_trip`` (work since the last recoverable checkpoint is lost) and the site
stays dark for ``power.trip_outage_time``. The first segment after an outage resynchronises
the plant to the restart load (a black start is not a load step).
"""

from __future__ import annotations

import simpy

from simulator.config import Scenario
from simulator.fleet import Fleet
from simulator.job import OUTAGE, POWER_TRIP, Job
from simulator.power.load import LoadModel, Trapezoid
from simulator.power.plant import EventSolver, PlantParams, SegmentLog


class PowerCoupling:
    """Drives the event-level solver from job segments and delivers trips to the job."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, fleet: Fleet,
                 log: SegmentLog | None = None):
        cfg = scenario.power
        assert cfg is not None
        self.env = env
        self.fleet = fleet
        self.cfg = cfg
        self.loads = LoadModel(cfg, scenario.cluster.groups, scenario.job.iteration_time)
        self.solver = EventSolver(PlantParams.from_config(cfg))
        self.job: Job | None = None
        self.log = log
        self._segment = 0
        self._open = False
        self._after_outage = False
        self._loads: dict[tuple, tuple[Trapezoid, float]] = {}

    def attach(self, job: Job) -> None:
        self.job = job
        job.power = self

    def segment(self, t: float, state: str, planned_s: float) -> None:
        solver = self.solver
        if self._open:
            solver.end(t)
        self._segment += 1
        fleet = self.fleet
        held = [fleet.held(g) for g in range(len(fleet.groups))]
        free = [len(f) for f in fleet.free]
        key = (state, *held, *free)
        cached = self._loads.get(key)
        if cached is None:
            cached = self._loads[key] = (self.loads.facility(state, held, free),
                                         self.loads.floor_extra(state, held))
        load, floor_w = cached
        if self.log is not None:
            self.log.add(t, state, load, solver)
        resync = self._after_outage and state != OUTAGE
        if state == OUTAGE:
            self._after_outage = True
            solver.begin_dark(t)
            self._open = True
            return
        if resync:
            self._after_outage = False
        trip = solver.begin(t, load, floor_w, planned_s, resync=resync)
        self._open = True
        if trip is not None:
            delay, kind = trip
            token = self._segment
            self.env.timeout(delay).callbacks.append(lambda _e: self._trip(token, kind))

    def _trip(self, token: int, kind: str) -> None:
        job = self.job
        if token != self._segment or job is None or job.state in (OUTAGE, "done"):
            return  # the segment ended before the predicted trip
        self.solver.end(self.env.now)
        self._open = False
        self.solver.trip(self.env.now, kind, self.cfg.trip_outage_time)
        job.interrupt(POWER_TRIP)

    def finish(self, t: float) -> None:
        if self._open:
            self.solver.end(t)
            self._open = False
