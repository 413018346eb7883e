"""Kill tests: Ctrl-C (SIGINT to the process group, as a terminal sends it), SIGTERM and SIGKILL
to the parent at several moments of a run with worker processes. Each must leave the output
folder as the previous complete run or the new complete run, never a mix, and no worker may
outlive its parent by more than 2 s."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator import executors
from simulator.errors import WorkerDied

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "100k_h100.yaml"
FILES = {"summary.json", "replications.csv", "resolved.yaml", "metadata.json", "timeline.csv",
         "power_segments.csv"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _command(out: Path, seed: int) -> list[str]:
    return [sys.executable, "-c", "from simulator.entry import main; main()", "run",
            str(SCENARIO), "-r", "3", "-j", "2", "--seed", str(seed), "-o", str(out),
            "--no-plots", "--set", "job.work=15 d"]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _seed_of(out: Path) -> int:
    """The run a complete folder holds (all its files agree), or AssertionError."""
    names = {p.name for p in out.iterdir()}
    assert names == FILES, names
    seeds = {json.loads((out / "summary.json").read_text())["seed"],
             json.loads((out / "metadata.json").read_text())["seed"]}
    assert len(seeds) == 1, seeds
    rows = (out / "replications.csv").read_text().splitlines()
    assert len(rows) == 1 + 3
    return seeds.pop()


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kill") / "out"
    subprocess.run(_command(out, 1), check=True, capture_output=True, timeout=300)
    assert _seed_of(out) == 1
    return out


def _wait_for_writing(stage: Path, proc: subprocess.Popen, limit_s: float = 60.0) -> None:
    """Return as soon as the run has begun writing its result files into the stage."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end and proc.poll() is None:
        if (stage / "summary.json").exists():
            return
        time.sleep(0.001)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("moment", ["start-up", "simulating", "writing"])
def test_a_killed_run_leaves_a_whole_folder_and_no_worker(previous: Path, sig: int,
                                                          moment: str) -> None:
    proc = subprocess.Popen(_command(previous, 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    if moment == "writing":
        _wait_for_writing(previous.parent / f".{previous.name}.partial", proc)
    else:
        time.sleep(0.2 if moment == "start-up" else 2.0)
    workers = _children(proc.pid)
    sent = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # what Ctrl-C does: the whole foreground group
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    exited = time.monotonic() - sent
    while any(_alive(w) for w in workers) and time.monotonic() - sent < 10:
        time.sleep(0.05)
    outlived = time.monotonic() - sent
    print(f"signal {sig} at {moment}: exit {proc.returncode} after {exited:.2f} s, "
          f"workers gone after {outlived:.2f} s")
    assert not [w for w in workers if _alive(w)], "workers outlived the parent"
    assert outlived < 2.0 + exited, (exited, outlived)
    assert "Traceback" not in err, err
    if proc.returncode == 0:  # finished before the signal: the new folder
        assert _seed_of(previous) == 2
    else:
        expected = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}[sig]
        assert proc.returncode == expected, (proc.returncode, err)
        assert exited < 5.0, exited
        assert _seed_of(previous) in (1, 2)
        if sig != signal.SIGKILL:
            assert err.strip().splitlines()[-1] in ("dcsim: interrupted", "dcsim: terminated")
    # put the previous run back for the next trial
    if _seed_of(previous) == 2:
        subprocess.run(_command(previous, 1), check=True, capture_output=True, timeout=300)


def _sweep(out: Path) -> list[str]:
    return [sys.executable, "-c", "from simulator.entry import main; main()", "sweep",
            str(SCENARIO), "--param", "job.restart.time", "--values", "2 min,5 min,10 min,20 min",
            "-r", "2", "-j", "2", "-o", str(out), "--no-plots", "--set", "job.work=5 d"]


def test_an_interrupted_sweep_resumes_to_the_same_numbers(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    subprocess.run(_sweep(whole), check=True, capture_output=True, timeout=300)
    out = tmp_path / "cut"
    proc = subprocess.Popen(_sweep(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    partial = tmp_path / ".cut.partial" / "points"
    end = time.monotonic() + 120
    while time.monotonic() < end and proc.poll() is None and len(list(partial.glob("*.json"))) < 2:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "finished sweep points are kept" in err
    assert not out.exists()  # nothing complete yet: no folder, rather than half a one
    res = subprocess.run(_sweep(out), check=True, capture_output=True, timeout=300, text=True)
    assert "resuming: " in res.stderr
    assert "computed 4 of 4" not in res.stdout
    assert (out / "sweep.csv").read_text() == (whole / "sweep.csv").read_text()


def _half_sent(scenario: dict, seed: object, replication: int, probes: bool) -> None:
    """A task that begins sending a 1 MiB result and stops half-way, as a worker killed in the
    middle of sending a large record does (replication 0's probes weigh about 1.5 MB)."""
    frame = sys._getframe()
    while frame.f_code.co_name != "_process_worker":
        frame = frame.f_back
    writer = frame.f_locals["result_queue"]._writer
    writer._send(struct.pack("!i", 1 << 20) + bytes(4096))  # a message's header, then a part
    Path(scenario["sent"]).touch()
    if scenario.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(600)


def test_an_abort_while_a_result_is_half_sent_does_not_hang(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's manager thread, waiting for the rest of a message from a worker now stopped,
    must end with the abort: leaving, Python joins it, so a wait there hangs the exit of an
    interrupted run (seen as a Ctrl-C that printed its message and never exited)."""
    monkeypatch.setattr(executors, "run_one", _half_sent)
    sent = tmp_path / "sent"
    ex = executors.LocalExecutor(1)
    ex.run([{"sent": str(sent)}], [executors.Task(0, np.random.SeedSequence(0), 0)])
    pool = ex._pool
    end = time.monotonic() + 30
    while not sent.exists() and time.monotonic() < end:
        time.sleep(0.01)
    assert sent.exists()
    time.sleep(0.2)  # the manager thread is now inside recv, for the rest of the message
    manager, results = pool._executor_manager_thread, pool._result_queue
    ex.close(abort=True)
    manager.join(5.0)
    stuck = manager.is_alive()
    if stuck:  # let this test process end all the same
        results._writer.close()
    assert not stuck, "the pool's manager thread still waits for the half-sent result"


def test_a_worker_killed_while_sending_its_result_ends_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed half-way through sending its result (by the out-of-memory killer, say)
    left the pool waiting for the rest, and the run waiting for the pool, for ever. Now the
    run ends with WorkerDied naming the signal, and the pool's manager thread ends too."""
    monkeypatch.setattr(executors, "run_one", _half_sent)
    ex = executors.LocalExecutor(1)
    outcome: list[BaseException] = []
    internals: list[Any] = []  # the pool's manager thread and result queue, once submitted

    def go() -> None:
        try:
            with ex:
                records = ex.run([{"sent": str(tmp_path / "sent"), "die": True}],
                                 [executors.Task(0, np.random.SeedSequence(0), 0)])
                internals.extend([ex._pool._executor_manager_thread, ex._pool._result_queue])
                for _ in records:
                    pass
        except BaseException as exc:  # whatever ended it is the result
            outcome.append(exc)

    driver = threading.Thread(target=go, daemon=True)
    driver.start()
    driver.join(30.0)
    manager, results = internals
    manager.join(5.0)
    if manager.is_alive():  # let this test process end all the same
        results._writer.close()
    assert outcome and isinstance(outcome[0], WorkerDied), outcome
    assert "killed by SIGKILL" in str(outcome[0])
    assert not manager.is_alive()
