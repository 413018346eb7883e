"""Failure-trace replay (failures.trace): hand-computed timelines and bad traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from simulator.cli import app
from simulator.loader import load_scenario
from simulator.model import simulate

HOUR = 3600.0


def write_scenario(tmp_path: Path, trace_rows: str, **job: object) -> Path:
    (tmp_path / "events.csv").write_text(trace_rows)
    data = {
        "name": "traced",
        "cluster": {"gpus": 16, "gpus_per_node": 8, "spare_nodes": 0, "repair_time": "0 s"},
        "failures": {"causes": [{"name": "node_fault", "per": "node", "mtbf": "1 yr"}],
                     "trace": "events.csv"},
        "job": {"work": "10 h", "checkpoint": {"interval": "1 h", "write_time": 0},
                "restart": {"time": "10 min"}, **job},
        "run": {"horizon": "30 d"},
    }
    path = tmp_path / "traced.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_replayed_failures_give_the_hand_computed_timeline(tmp_path: Path) -> None:
    # failures at 1.5 h and 5.25 h (the second with a unit: "315 min")
    path = write_scenario(tmp_path, "time,cause,unit\n5400,node_fault,0\n315 min,node_fault,1\n")
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    # 0-1 h compute, checkpoint; fail at 1.5 h (0.5 h lost), restart to 1.667 h; checkpoints at
    # 2.667, 3.667, 4.667 h; fail at 5.25 h (0.583 h lost), restart to 5.417 h; 6 h more compute
    assert rec.interruptions == 2
    assert rec.interruptions_by_cause == {"node_fault": 2}
    assert rec.wall_clock_days * 24 == pytest.approx(11.0 + 25 / 60, abs=1e-9)
    assert rec.lost_work_hours == pytest.approx(0.5 + 35 / 60, abs=1e-9)
    assert rec.restart_hours == pytest.approx(20 / 60, abs=1e-9)
    assert rec.productive_hours == pytest.approx(10.0, abs=1e-9)


def test_replay_ignores_the_seed(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "7200,node_fault,1\n")
    scenario = load_scenario(path)
    a = simulate(scenario, np.random.SeedSequence(1))
    b = simulate(scenario, np.random.SeedSequence(2))
    assert a.wall_clock_days == b.wall_clock_days
    assert a.interruptions == b.interruptions == 1


def test_replayed_hardware_failure_waits_for_its_repair(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "5400,node_fault,0\n")
    data = yaml.safe_load(path.read_text())
    data["cluster"]["repair_time"] = "3 h"
    path.write_text(yaml.safe_dump(data))
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    # no spare node: the job waits 3 h for the repair, then restarts
    assert rec.waiting_hours == pytest.approx(3.0, abs=1e-9)
    assert rec.wall_clock_days * 24 == pytest.approx(10.0 + 0.5 + 3.0 + 10 / 60, abs=1e-9)


def test_bad_trace_lists_every_bad_line(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "time,cause,unit\n10,node_fault,0\nsoon,node_fault,0\n"
                                    "20,disk,0\n30,node_fault,7\n40,node_fault\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 4, lines
    assert any(":3: time:" in line for line in lines)
    assert any(":4: cause 'disk'" in line for line in lines)
    assert any(":5: unit '7'" in line and "0..1" in line for line in lines)
    assert any(":6: expected 3 fields" in line for line in lines)
    assert "Traceback" not in result.output
    run = CliRunner().invoke(app, ["run", str(path), "--no-plots", "-o", str(tmp_path / "out")])
    assert run.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_missing_trace_file_is_bad_input(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "")
    (tmp_path / "events.csv").unlink()
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "failures.trace: file not found" in result.stderr


def test_a_nan_time_is_refused_with_its_line(tmp_path: Path) -> None:
    """One NaN time once dropped every trace event silently (NaN breaks the sort)."""
    path = write_scenario(tmp_path, "time,cause,unit\n5400,node_fault,0\nnan,node_fault,1\n"
                                    "inf,node_fault,1\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "events.csv:3:" in result.output and "events.csv:4:" in result.output
    assert "finite" in result.output


def test_a_spreadsheet_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "")
    (tmp_path / "events.csv").write_bytes(b"\xef\xbb\xbftime,cause,unit\n5400,node_fault,0\n")
    rec = simulate(load_scenario(path), np.random.SeedSequence(0))
    assert rec.interruptions == 1


def test_a_folder_or_device_as_the_trace_is_refused(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "")
    (tmp_path / "events.csv").unlink()
    (tmp_path / "events.csv").mkdir()
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "not a regular file" in result.output
    data = yaml.safe_load(path.read_text())
    data["failures"]["trace"] = "/dev/zero"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_a_trace_that_is_not_utf8_names_its_file(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "")
    (tmp_path / "events.csv").write_bytes(b"time,cause,unit\n5400,n\xe9ud,0\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "events.csv: not UTF-8" in result.output
