"""`dcsim init`: a starter scenario that validates without a warning and runs sensibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import assert_bad_input, invoke, ok

from simulator.analytic import daly_interval
from simulator.diagnostics import suggested_spares
from simulator.failures import job_failure_rate
from simulator.loader import load_scenario, load_with_warnings


def test_the_starter_validates_strictly_and_runs_without_starving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ok(invoke("init", "first"))
    path = tmp_path / "first.yaml"
    assert path.read_text().startswith("# first: a starter scenario")
    ok(invoke("validate", "--strict", path))
    scenario, warnings = load_with_warnings(path)
    assert warnings == [] and scenario.power is None and scenario.cluster.gpus == 32_768
    # the spares and the interval are the ones the closed forms give for this scenario
    no_spares = load_scenario(path, ["cluster.spare_nodes=0"])
    assert scenario.cluster.spare_nodes == suggested_spares(no_spares) > 0
    daly_min = daly_interval(60.0, 1.0 / job_failure_rate(scenario)) / 60.0
    assert scenario.job.checkpoint.interval == round(daly_min) * 60.0
    res = ok(invoke("run", path, "-r", 2, "--no-plots", "-o", tmp_path / "o", "--set",
                    "job.work=5 d"))
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert "starved_for_hardware" not in [w["code"] for w in summary["warnings"]], res.output
    assert summary["ettr"]["mean"] > 0.5


def test_a_power_starter_has_a_grid_above_its_peak(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ok(invoke("init", "site", "--gpus", 100_000, "--power"))
    scenario, warnings = load_with_warnings(tmp_path / "site.yaml")
    assert warnings == []
    from simulator.power.coupling import plant_params

    peak = plant_params(scenario).site_peak_w
    assert scenario.power is not None and peak < scenario.power.grid.capacity <= 1.2 * peak + 1e6


def test_init_refuses_bad_options_and_an_existing_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "must be a whole number" in assert_bad_input(invoke("init", "x", "--gpus", 12))[0]
    assert "unknown GPU type" in assert_bad_input(invoke("init", "x", "--gpu", "h1000"))[0]
    assert "a name is" in assert_bad_input(invoke("init", "../x"))[0]
    ok(invoke("init", "x"))
    before = (tmp_path / "x.yaml").read_text()
    assert "exists already" in assert_bad_input(invoke("init", "x", "--gpus", 64))[0]
    assert (tmp_path / "x.yaml").read_text() == before
    ok(invoke("init", "x", "--gpus", 64, "--force"))
    assert yaml.safe_load((tmp_path / "x.yaml").read_text())["cluster"]["gpus"] == 64
