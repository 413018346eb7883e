"""Where replications run: this process, a local process pool, or a Dask distributed cluster.

Every task is one replication, the pure function
``runner.run_one(scenario_dict, seed_sequence, replication)``, so a task gives the same record
whatever runs it. Runs, sweeps and comparisons put *all* their (scenario, replication) tasks in
one batch, so ``-j N`` keeps N workers busy across sweep points and compared scenarios.

Usage::

    with make_executor("local", jobs=4) as ex:
        for k, record in ex.run([scenario_dict], tasks):   # in completion order
            ...
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.config import Scenario
from simulator.errors import WorkerDied
from simulator.model import simulate
from simulator.records import ReplicationRecord
from simulator.runner import run_one, simulate_one

EXECUTORS = ("local", "dask")
#: how long aborted workers get to exit after SIGTERM before SIGKILL (s)
ABORT_GRACE_S = 1.0
_PR_SET_PDEATHSIG = 1  # Linux prctl option: signal this process when its parent dies
#: how often a local run checks that its workers are alive (s)
WATCH_S = 1.0
#: a local Dask cluster without its web dashboard. (``dashboard_address=None`` only drops the
#: dashboard's pages: the scheduler still serves HTTP on port 8787, and warns when that port
#: is taken, by a second run for one.) Any free loopback port, then.
NO_DASHBOARD: dict[str, Any] = {"dashboard_address": "127.0.0.1:0",
                                "scheduler_kwargs": {"dashboard": False}}
#: how long to wait for a Dask scheduler before giving up (s)
CONNECT_TIMEOUT_S = 10.0


class ExecutorError(Exception):
    """Bad executor options or an unusable executor (the CLI exits 2 with the message)."""


@dataclass(frozen=True)
class Task:
    """One replication: ``scenario`` indexes the scenario list passed to :meth:`Executor.run`."""

    scenario: int
    seed: np.random.SeedSequence
    replication: int
    #: return a :class:`simulator.runner.Probed` (record, timeline, power segments)
    probes: bool = False


class Executor:
    """Runs batches of tasks; a context manager that owns its workers."""

    #: short description for metadata.json and messages
    description = "executor"

    def run(self, scenarios: Sequence[dict[str, Any]],
            tasks: Sequence[Task]) -> Iterator[tuple[int, ReplicationRecord]]:
        """Submit every task now; return an iterator of ``(task index, record)`` as they finish.

        Submission is eager, so the caller may do other work before it starts iterating.
        """
        raise NotImplementedError

    def close(self, abort: bool = False) -> None:
        """Release workers (idempotent); ``abort``: stop them now, dropping work in progress."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        # leaving on an error or an interrupt (Ctrl-C, SIGTERM): do not wait for running tasks
        self.close(abort=kind is not None)


class InlineExecutor(Executor):
    """Runs tasks one after the other in this process (``-j 1``): lazily, in submission order."""

    description = "local, 1 process"

    def run(self, scenarios: Sequence[dict[str, Any]],
            tasks: Sequence[Task]) -> Iterator[tuple[int, ReplicationRecord]]:
        validated: dict[int, Scenario] = {}

        def iterate() -> Iterator[tuple[int, ReplicationRecord]]:
            for k, task in enumerate(tasks):
                scenario = validated.get(task.scenario)
                if scenario is None:  # same as run_one, validated once per scenario
                    scenario = validated[task.scenario] = Scenario.model_validate(
                        scenarios[task.scenario])
                yield k, (simulate_one(scenario, task.seed, task.replication, True)
                          if task.probes else simulate(scenario, task.seed, task.replication))

        return iterate()


class LocalExecutor(Executor):
    """A pool of ``jobs`` worker processes on this machine, kept for the executor's lifetime."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.description = f"local, {jobs} processes"
        self._pool: ProcessPoolExecutor | None = None

    def run(self, scenarios: Sequence[dict[str, Any]],
            tasks: Sequence[Task]) -> Iterator[tuple[int, ReplicationRecord]]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_worker_start,
                                             initargs=(os.getpid(),))
        pool = self._pool
        futures = {pool.submit(run_one, scenarios[t.scenario], t.seed, t.replication,
                               t.probes): k for k, t in enumerate(tasks)}
        # the pool forgets its workers when it breaks; this dict stays, to say how they ended
        workers = getattr(pool, "_processes", None)
        return _drain(futures, {} if workers is None else workers)

    def close(self, abort: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not abort:
            pool.shutdown(wait=True, cancel_futures=True)
            return
        workers = list((getattr(pool, "_processes", None) or {}).values())
        results = getattr(pool, "_result_queue", None)  # shutdown() forgets it
        for proc in workers:
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + ABORT_GRACE_S
        for proc in workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
        # A worker stopped while sending its result (a replication's probes weigh megabytes)
        # leaves half a message in the result pipe, and the pool's manager thread waits for
        # the rest for ever; Python joins that thread on exit, so the process would never end.
        # This process holds the pipe's other write end: closing it ends that wait.
        writer = getattr(results, "_writer", None)
        if writer is not None:
            writer.close()


def _worker_start(parent_pid: int) -> None:
    """In each worker process: leave Ctrl-C to the parent (which stops the workers itself,
    without a traceback from each), and die with the parent even if it is SIGKILLed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _drain(futures: dict[Future, int],
           workers: dict[int, Any]) -> Iterator[tuple[int, ReplicationRecord]]:
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=WATCH_S, return_when=FIRST_COMPLETED)
            if not done and any(p.exitcode is not None for p in list(workers.values())):
                # A pool's workers never end by themselves. The pool fails the tasks of one
                # that died within moments, except if it died sending its result: the pool
                # then waits for the rest of that message for ever (leaving, the executor
                # unblocks it).
                raise WorkerDied(_death(list(workers.values())))
            for fut in done:
                try:
                    record = fut.result()
                except BrokenProcessPool:
                    raise WorkerDied(_death(list(workers.values()))) from None
                yield futures[fut], record
    finally:  # an error or an abandoned iterator: drop what has not started
        for fut in pending:
            fut.cancel()


def _death(workers: list[Any]) -> str:
    """What to tell of a broken pool: how its first worker to die ended. (The pool then
    stops the others with SIGTERM, so a SIGTERM is named only if nothing else is seen.)"""
    deadline = time.monotonic() + 1.0  # the pool is stopping (and reaping) them meanwhile
    while any(p.exitcode is None for p in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    codes = [p.exitcode for p in workers if p.exitcode not in (None, 0)]
    code = next((c for c in codes if c != -signal.SIGTERM), codes[0] if codes else None)
    if code is None:
        how = "ended"
    elif code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
    else:
        how = f"exited with status {code}"
    hint = (" (on Linux, the out-of-memory killer sends SIGKILL: try fewer workers with -j)"
            if code == -signal.SIGKILL else "")
    return f"a worker process {how} before returning its replication{hint}"


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster: the scheduler at ``address``, or (without one) a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes started here.

    Workers need ``dcsim`` installed (the same version) and, for trace-driven scenarios, the
    trace file at the same path.
    """

    def __init__(self, address: str | None, jobs: int):
        try:
            import distributed
        except ImportError:
            raise ExecutorError(
                "--executor dask needs the dask extra: pip install 'dcsim[dask]' "
                "(dask and distributed)") from None
        self._cluster = None
        if address is not None:
            _probe_scheduler(address)
        try:
            if address is None:
                # workers inherit an ignored SIGINT: Ctrl-C reaches the whole process group,
                # and stopping the workers is this process's job (as for the local pool)
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    self._cluster = distributed.LocalCluster(
                        n_workers=jobs, threads_per_worker=1, processes=True, **NO_DASHBOARD)
                finally:
                    signal.signal(signal.SIGINT, previous)
                address = self._cluster.scheduler_address
            self._client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S,
                                              set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise ExecutorError(f"--scheduler {address}: cannot connect to the Dask scheduler "
                                f"({type(exc).__name__}: {exc})") from None
        self._as_completed = distributed.as_completed
        from distributed.scheduler import KilledWorker

        # a task whose workers kept dying, or one cancelled by the scheduler (its input lost)
        self._died = (KilledWorker, CancelledError)
        where = "a local Dask cluster" if self._cluster is not None else address
        self.description = f"dask at {where}"
        self.address = address

    def run(self, scenarios: Sequence[dict[str, Any]],
            tasks: Sequence[Task]) -> Iterator[tuple[int, ReplicationRecord]]:
        client = self._client
        used = sorted({t.scenario for t in tasks})
        # each scenario travels to the cluster once, not once per replication, to every
        # worker: a worker that dies then loses no input, and its tasks are retried elsewhere
        shipped = dict(zip(used, client.scatter([scenarios[k] for k in used], broadcast=True),
                           strict=True))
        futures = {client.submit(run_one, shipped[t.scenario], t.seed, t.replication,
                                 t.probes, pure=False): k for k, t in enumerate(tasks)}

        def iterate() -> Iterator[tuple[int, ReplicationRecord]]:
            try:
                for fut in self._as_completed(list(futures), loop=client.loop):
                    try:
                        record = fut.result()
                    except self._died as exc:
                        raise WorkerDied(f"a Dask worker process died before returning a "
                                         f"replication ({type(exc).__name__}: {exc})") from None
                    yield futures[fut], record
            finally:
                client.cancel(list(futures))

        return iterate()

    def close(self, abort: bool = False) -> None:
        if abort:  # cancelled tasks are expected now: not worth a screen of Dask warnings
            import logging

            for name in ("distributed", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _probe_scheduler(address: str, timeout_s: float | None = None) -> None:
    """Ask ``address`` who it is, within ``timeout_s``; ExecutorError unless a Dask scheduler
    answers. (The Dask client itself can wait minutes on an address that accepts connections
    but never speaks Dask.)"""
    import asyncio

    from distributed import comm

    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s

    async def identity() -> Any:
        conn = await asyncio.wait_for(comm.connect(address, timeout=timeout_s), timeout_s)
        try:
            await asyncio.wait_for(conn.write({"op": "identity"}), timeout_s)
            return await asyncio.wait_for(conn.read(), timeout_s)
        finally:
            conn.abort()

    try:
        reply = asyncio.run(identity())
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else f"no answer in {timeout_s:g} s"
        raise ExecutorError(f"--scheduler {address}: cannot reach a Dask scheduler ({why})"
                            ) from None
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        raise ExecutorError(f"--scheduler {address}: the server there is not a Dask scheduler")


def make_executor(kind: str, jobs: int, scheduler: str | None = None) -> Executor:
    """The executor the CLI options ask for; :class:`ExecutorError` for bad options."""
    if kind not in EXECUTORS:
        raise ExecutorError(f"--executor {kind}: use one of {', '.join(EXECUTORS)}")
    if kind == "dask":
        return DaskExecutor(scheduler, jobs)
    if scheduler is not None:
        raise ExecutorError("--scheduler needs --executor dask")
    return InlineExecutor() if jobs <= 1 else LocalExecutor(jobs)


def executor_or_local(executor: Executor | None, jobs: int) -> Any:
    """A context manager for ``executor`` as given (left open for its owner), or ``jobs``
    local processes owned by the block (this process for 1): closed at its end, stopped at
    once if it fails or is interrupted."""
    if executor is not None:
        return contextlib.nullcontext(executor)
    return make_executor("local", jobs)


def run_tasks(executor: Executor, scenarios: Sequence[dict[str, Any]], tasks: Sequence[Task],
              progress: Any = None) -> list[ReplicationRecord]:
    """Every task's record, in task order (advancing ``progress(1)`` per finished task)."""
    out: list[ReplicationRecord | None] = [None] * len(tasks)
    for k, record in executor.run(scenarios, tasks):
        out[k] = record
        if progress is not None:
            progress(1)
    return out  # type: ignore[return-value]
