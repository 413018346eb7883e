"""Loads beside the job: a constant and a CSV time series add their energy exactly, split
segments when they change, count in the peak, and bad files are refused line by line."""

from __future__ import annotations

import json

import pytest
from helpers import assert_bad_input, invoke, run, scenario_dict

from simulator.config import Scenario
from simulator.loader import load_scenario


def _data(other=None) -> dict:
    data = scenario_dict(mtbf_h=None, nodes=100, work="1 d", interval_min=60, write_min=1)
    data["power"] = {"grid": {"capacity": "50 MW"}, "pue": 1.0, "node_overhead": 0}
    if other is not None:
        data["power"]["other_loads"] = other
    return data


def test_a_constant_other_load_adds_its_energy_and_its_peak() -> None:
    base = run(Scenario.model_validate(_data()), 1)[0]
    more = run(Scenario.model_validate(_data("20 MW")), 1)[0]
    hours = base.wall_clock_days * 24
    assert more.wall_clock_days == base.wall_clock_days
    assert more.energy_mwh - base.energy_mwh == pytest.approx(20 * hours, rel=1e-9)
    assert more.peak_facility_mw - base.peak_facility_mw == pytest.approx(20, rel=1e-9)
    assert more.power_trips == 0


def test_a_trace_of_other_loads_adds_its_steps_exactly(tmp_path) -> None:
    csv = tmp_path / "inference.csv"
    csv.write_text("time,power\n2 h,10 MW\n18000,5000000\n# a comment\n")
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(_data({"constant": "1 MW", "trace": "inference.csv"})))
    sc = load_scenario(path)  # the trace resolves against the scenario's folder
    assert sc.power.other_loads.trace == csv.resolve()
    base = run(Scenario.model_validate(_data()), 1)[0]
    more = run(sc, 1)[0]
    hours = base.wall_clock_days * 24
    expect = 1 * hours + 10 * 3 + 5 * (hours - 5)
    assert more.energy_mwh - base.energy_mwh == pytest.approx(expect, rel=1e-9)
    assert more.peak_facility_mw - base.peak_facility_mw == pytest.approx(11, rel=1e-9)


def test_bad_other_load_traces_are_refused_with_every_line(tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("time,power\n1 h,5 MW\nsoon,5 MW\n2 h,-3 MW\n3 h\n")
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(_data({"trace": "bad.csv"})))
    lines = assert_bad_input(invoke("validate", path))
    text = "\n".join(lines)
    assert "bad.csv:3:" in text and "bad.csv:4:" in text and "bad.csv:5:" in text
    path.write_text(json.dumps(_data({"trace": "missing.csv"})))
    lines = assert_bad_input(invoke("validate", path))
    assert "power.other_loads.trace: file not found" in "\n".join(lines)
