"""Executors: the same seed gives identical numbers in this process, in a local
process pool and on a Dask distributed cluster."""

from __future__ import annotations

import csv
import os
import signal
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sweep import assert_bad_input, invoke, ok, write_scenario

import simulator.executors as executors
from simulator.executors import (
    ExecutorError,
    InlineExecutor,
    LocalExecutor,
    Task,
    make_executor,
    run_tasks,
)
from simulator.loader import load_scenario
from simulator.report import progress_bar, progress_enabled
from simulator.runner import run_one, seeds_for

SWEEP = ["--param", "job.checkpoint.interval", "--values", "20 min,45 min,90 min",
         "--param", "job.restart.time", "--values", "2 min,10 min", "-r", 3, "--no-plots"]


def numbers(path: Path, drop: tuple[str, ...] = ("sim_seconds",)) -> list[dict[str, str]]:
    """CSV rows without the timing column (the only thing allowed to differ)."""
    with open(path, encoding="utf-8") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def same(a: Any, b: Any) -> bool:
    """Records equal in every field but the timing (NaN equal to NaN)."""
    return repr({**a.to_dict(), "sim_seconds": 0}) == repr({**b.to_dict(), "sim_seconds": 0})


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exec")
    return write_scenario(d / "expo.yaml", mtbf="3 h", work="4 d", replications=3)


@pytest.fixture(scope="module")
def serial(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: a sweep computed in this process (-j 1)."""
    out = tmp_path_factory.mktemp("serial")
    ok(invoke("sweep", scenario, *SWEEP, "-j", 1, "-o", out))
    return out


def _tasks(scenario: Path) -> tuple[list[dict[str, Any]], list[Task]]:
    data = [load_scenario(scenario).model_dump(mode="json"),
            load_scenario(scenario, ["job.restart.time=1 min"]).model_dump(mode="json")]
    seeds = seeds_for(4, 3)
    return data, [Task(k, seeds[i], i) for k in (1, 0) for i in range(3)]


def test_inline_and_pool_give_identical_records(scenario: Path) -> None:
    data, tasks = _tasks(scenario)
    with InlineExecutor() as ex:
        inline = run_tasks(ex, data, tasks)
    done: list[int] = []
    with LocalExecutor(2) as ex:
        pooled = run_tasks(ex, data, tasks, done.append)
        again = run_tasks(ex, data, tasks[:2])  # the pool is reused across batches
    assert len(done) == len(tasks)
    for a, b in zip(inline, pooled, strict=True):
        assert a.replication == b.replication
        assert same(a, b)
    assert [r.wall_clock_days for r in again] == [r.wall_clock_days for r in inline[:2]]
    # and both are the pure function run_one
    direct = run_one(data[1], tasks[0].seed, 0)
    assert direct.wall_clock_days == inline[0].wall_clock_days


def test_local_pool_sweep_identical_to_serial(scenario: Path, serial: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "pool"
    ok(invoke("sweep", scenario, *SWEEP, "-j", 3, "-o", out))
    assert (out / "sweep.csv").read_text() == (serial / "sweep.csv").read_text()


def test_local_pool_compare_and_run_identical_to_serial(scenario: Path, tmp_path: Path) -> None:
    for jobs in (1, 2):
        ok(invoke("compare", scenario, scenario, "--set", "job.restart.time=3 min", "-r", 4,
                  "--no-plots", "-j", jobs, "-o", tmp_path / f"cmp{jobs}"))
        ok(invoke("run", scenario, "-r", 4, "--no-plots", "-j", jobs, "-o", tmp_path / f"run{jobs}"))
    assert (tmp_path / "cmp1" / "compare.csv").read_text() == \
        (tmp_path / "cmp2" / "compare.csv").read_text()
    assert numbers(tmp_path / "run1" / "replications.csv") == \
        numbers(tmp_path / "run2" / "replications.csv")


def test_j_n_runs_every_replication_in_the_n_workers(scenario: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """-j 2 uses two processes in all: replication 0 (with its probes) runs in a worker,
    not in this process beside them; its timeline and power log come back unchanged."""
    import os

    import simulator.runner as runner
    from simulator.model import Timeline

    pids = tmp_path / "pids"
    real = runner.simulate

    def logged(*args: Any, **kw: Any) -> Any:
        with open(pids, "a") as fh:  # forked workers inherit the patch
            fh.write(f"{os.getpid()}\n")
        return real(*args, **kw)

    s = load_scenario(scenario)
    inline = runner.run_replications(s, 3, 5, jobs=1)
    monkeypatch.setattr(runner, "simulate", logged)
    pooled = runner.run_replications(s, 3, 5, jobs=2)
    seen = pids.read_text().split() if pids.exists() else []
    assert str(os.getpid()) not in seen
    assert len(set(seen)) <= 2
    for a, b in zip(inline.records, pooled.records, strict=True):
        assert same(a, b)
    assert isinstance(pooled.timeline, Timeline)
    assert pooled.timeline.changes == inline.timeline.changes
    assert pooled.segments.rows == inline.segments.rows


# ---- Dask --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       **executors.NO_DASHBOARD)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_sweep_identical_to_serial(scenario: Path, serial: Path, dask_cluster: str,
                                        tmp_path: Path) -> None:
    out = tmp_path / "dask_sweep"
    ok(invoke("sweep", scenario, *SWEEP, "--executor", "dask", "--scheduler", dask_cluster,
              "-o", out))
    assert (out / "sweep.csv").read_text() == (serial / "sweep.csv").read_text()
    import json

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["executor"] == f"dask at {dask_cluster}"


def test_dask_compare_and_run_identical(scenario: Path, dask_cluster: str, tmp_path: Path) -> None:
    common = ["-r", 4, "--no-plots"]
    ok(invoke("compare", scenario, scenario, "--set", "job.restart.time=3 min", *common,
              "-j", 1, "-o", tmp_path / "cmp_serial"))
    ok(invoke("compare", scenario, scenario, "--set", "job.restart.time=3 min", *common,
              "--executor", "dask", "--scheduler", dask_cluster, "-o", tmp_path / "cmp_dask"))
    assert (tmp_path / "cmp_serial" / "compare.csv").read_text() == \
        (tmp_path / "cmp_dask" / "compare.csv").read_text()
    ok(invoke("run", scenario, *common, "-j", 1, "-o", tmp_path / "run_serial"))
    ok(invoke("run", scenario, *common, "--executor", "dask", "--scheduler", dask_cluster,
              "-o", tmp_path / "run_dask"))
    assert numbers(tmp_path / "run_serial" / "replications.csv") == \
        numbers(tmp_path / "run_dask" / "replications.csv")


def test_dask_optimize_identical_to_serial(scenario: Path, dask_cluster: str,
                                           tmp_path: Path) -> None:
    args = ["sweep", scenario, "--param", "job.checkpoint.interval", "--range", "20 min:90 min:4",
            "--optimize", "-r", 3, "--no-plots"]
    ok(invoke(*args, "-j", 1, "-o", tmp_path / "serial"))
    ok(invoke(*args, "--executor", "dask", "--scheduler", dask_cluster, "-o", tmp_path / "dask"))
    import json

    a = json.loads((tmp_path / "serial" / "sweep.json").read_text())["optimize"]
    b = json.loads((tmp_path / "dask" / "sweep.json").read_text())["optimize"]
    assert a == b


def test_dask_missing_gives_clear_error(scenario: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    for cmd in (["sweep", scenario, *SWEEP], ["run", scenario, "-r", 2, "--no-plots"],
                ["compare", scenario, scenario, "-r", 2, "--no-plots"]):
        out = tmp_path / "never"
        lines = assert_bad_input(invoke(*cmd, "--executor", "dask", "-o", out))
        assert "dask extra" in lines[0] and "pip install" in lines[0]
        assert not out.exists()


def test_unreachable_scheduler_exits_2(scenario: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    lines = assert_bad_input(invoke("run", scenario, "-r", 2, "--no-plots", "--executor", "dask",
                                    "--scheduler", "tcp://127.0.0.1:9", "-o", tmp_path / "x"))
    assert "cannot reach a Dask scheduler" in lines[0]


def test_a_server_that_is_not_dask_is_refused_within_the_timeout(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a server that accepts connections and never answers: the Dask client alone waited minutes
    pytest.importorskip("distributed")
    import socket
    import time

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        t0 = time.monotonic()
        lines = assert_bad_input(invoke("run", scenario, "-r", 2, "--no-plots", "--executor",
                                        "dask", "--scheduler", f"tcp://127.0.0.1:{port}",
                                        "-o", tmp_path / "x"))
        assert time.monotonic() - t0 < 20
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach a Dask scheduler" in lines[0]


def test_make_executor_options() -> None:
    assert isinstance(make_executor("local", 1), InlineExecutor)
    with make_executor("local", 3) as ex:
        assert isinstance(ex, LocalExecutor) and ex.description == "local, 3 processes"
    with pytest.raises(ExecutorError, match="--scheduler needs --executor dask"):
        make_executor("local", 2, "tcp://127.0.0.1:8786")
    with pytest.raises(ExecutorError, match="use one of"):
        make_executor("ray", 2)


def test_progress_bars_off_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()
    monkeypatch.delenv("CI")
    assert progress_enabled()
    assert not progress_enabled(enabled=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress_enabled()
    with progress_bar("x", None) as advance:
        advance(1)  # a no-op off a terminal, also without a total


def _killed_at_1(scenario: dict[str, Any], seed: Any, replication: int, probes: bool) -> Any:
    """Replication 1's worker is killed from outside (as the out-of-memory killer does)."""
    if replication == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_one(scenario, seed, replication, probes)


def test_a_killed_worker_ends_the_run_with_a_message_and_no_folder(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken pool used to escape as a traceback; now exit 1, one line saying which
    signal killed the worker, and no output folder."""
    monkeypatch.setattr(executors, "run_one", _killed_at_1)
    out = tmp_path / "out"
    result = invoke("run", scenario, "-r", 3, "-j", 2, "--no-plots", "-o", out)
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "a worker process was killed by SIGKILL before returning its replication" \
        in result.stderr
    assert "out-of-memory" in result.stderr
    assert not out.exists()


def _killed(scenario: Any, seed: Any, replication: int, probes: bool) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_dask_worker_killed_ends_the_run_with_a_message(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker that takes the task dies: Dask gives up (its input is lost, or the task
    killed too many workers). That ended in a traceback; now exit 1 and one line."""
    pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import it
    try:
        monkeypatch.setattr(executors, "run_one", _killed)
        out = tmp_path / "out"
        result = invoke("run", scenario, "-r", 2, "-j", 2, "--no-plots", "--executor", "dask",
                        "-o", out)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "dcsim: a Dask worker process died before returning a replication" in result.stderr
    assert not out.exists()


def test_a_local_dask_cluster_takes_no_fixed_port() -> None:
    """Two runs at once each start a local Dask cluster: neither may claim port 8787 (the
    second one warned that it was taken)."""
    pytest.importorskip("distributed")
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8787))
        except OSError:
            pytest.skip("port 8787 is in use here")
        taken.listen()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with executors.DaskExecutor(None, 1) as ex:
                port = ex._cluster.scheduler.http_server.port
    assert port != 8787
    assert not [w for w in seen if "8787" in str(w.message)], [str(w.message) for w in seen]


def _killed_once(scenario: Any, seed: Any, replication: int, probes: bool) -> Any:
    """The first attempt at replication 1 kills its worker (a marker file says it happened)."""
    marker = Path(os.environ["DCSIM_TEST_MARKER"])
    if replication == 1 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return run_one(scenario, seed, replication, probes)


def test_a_dask_run_survives_a_worker_that_dies_once(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask retries the task of a worker that died on another worker, which has the scenario
    too (sent to one worker only, it died with it and the run failed): same numbers as -j 1."""
    pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    ok(invoke("run", scenario, "-r", 3, "-j", 1, "--no-plots", "-o", tmp_path / "serial"))
    monkeypatch.setenv("DCSIM_TEST_MARKER", str(tmp_path / "died"))
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        monkeypatch.setattr(executors, "run_one", _killed_once)
        result = invoke("run", scenario, "-r", 3, "-j", 2, "--no-plots", "--executor", "dask",
                        "-o", tmp_path / "dask")
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    ok(result)
    assert (tmp_path / "died").exists()
    assert numbers(tmp_path / "dask" / "replications.csv") == \
        numbers(tmp_path / "serial" / "replications.csv")
