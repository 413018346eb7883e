"""`dcsim optimize`: goal seeking on common random numbers, checked against brute force and
against Daly's optimum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import assert_bad_input, invoke, make_scenario, ok, run, scenario_dict

from simulator.analytic import daly_interval

#: a grid-tied site with batteries of 0.5 kW: 4 nodes swinging 20.6–34.1 kW under a 31 kW cap
SITE = {"grid": {"capacity": "31 kW"},
        "battery": {"count": 0, "unit_power": "0.5 kW", "unit_energy": "2 kWh"}}


def _site(tmp_path: Path) -> Path:
    data = scenario_dict(mtbf_h=None, nodes=4, work="1 d", horizon="3 d")
    data["power"] = SITE
    data["run"]["replications"] = 2
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _fewest_units_by_brute_force() -> int:
    for count in range(0, 21):
        scenario = make_scenario(mtbf_h=None, nodes=4, work="1 d", horizon="3 d",
                                 **{"power.grid.capacity": "31 kW",
                                    "power.battery.count": count,
                                    "power.battery.unit_power": "0.5 kW",
                                    "power.battery.unit_energy": "2 kWh"})
        if all(r.power_trips == 0 for r in run(scenario, 2)):
            return count
    raise AssertionError("no count up to 20 keeps the site up")


def test_the_fewest_battery_units_with_zero_trips_is_found_exactly(tmp_path: Path) -> None:
    res = ok(invoke("optimize", _site(tmp_path), "--param", "power.battery.count", "--bounds",
                    "0:20", "--objective", "power.battery.count", "--constraint",
                    "power_trips == 0", "--integer", "-o", tmp_path / "o"))
    fewest = _fewest_units_by_brute_force()
    assert fewest > 0
    meta = json.loads((tmp_path / "o" / "optimize.json").read_text())
    assert meta["answer"]["power.battery.count"] == fewest
    assert f"answer: power.battery.count = {fewest}:" in res.output
    # the value just below the answer was tried and found short
    rows = (tmp_path / "o" / "optimize.csv").read_text().splitlines()
    assert any(r.split(",")[2] == f"{fewest - 1}.0" and r.endswith("False") for r in rows)


def test_the_interval_that_maximises_ettr_is_near_dalys(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=6.0, write_min=5.0, restart_min=10.0, work="20 d")
    data["run"]["replications"] = 8
    path = tmp_path / "daly.yaml"
    path.write_text(yaml.safe_dump(data))
    ok(invoke("optimize", path, "--param", "job.checkpoint.interval", "--bounds", "5 min:5 h",
              "--objective", "ettr", "--maximize", "-o", tmp_path / "o"))
    answer = json.loads((tmp_path / "o" / "optimize.json").read_text())["answer"]
    tau = daly_interval(300.0, 6 * 3600.0)  # 56.7 min
    # ETTR is flat near the optimum: within 35% of Daly's interval it is within 1% of the best
    assert 0.65 * tau < answer["job.checkpoint.interval"] < 1.35 * tau
    assert answer["ci95_low"] <= answer["mean"] <= answer["ci95_high"]


def test_an_impossible_constraint_has_no_answer(tmp_path: Path) -> None:
    res = ok(invoke("optimize", _site(tmp_path), "--param", "power.battery.count", "--bounds",
                    "0:3", "--objective", "power.battery.count", "--constraint",
                    "power_trips == 0", "--integer", "-o", tmp_path / "o"))
    assert "meets the constraints" in res.output
    assert json.loads((tmp_path / "o" / "optimize.json").read_text())["answer"] is None


@pytest.mark.parametrize("args,fragment", [
    (("--bounds", "5:1"), "--bounds '5:1': LO must be below HI"),
    (("--bounds", "0"), "expected LO:HI"),
    (("--objective", "speed"), "--objective speed: unknown metric"),
    (("--constraint", "power_trips = 0"), "expected METRIC OP NUMBER"),
    (("--constraint", "trips == 0"), "unknown metric 'trips'"),
])
def test_bad_options_are_named(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    base = {"--param": "power.battery.count", "--bounds": "0:20",
            "--objective": "power.battery.count"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [a for kv in base.items() for a in kv]
    extra = [a for k, v in zip(args[::2], args[1::2], strict=True) if k == "--constraint"
             for a in (k, v)]
    lines = assert_bad_input(invoke("optimize", _site(tmp_path), *flat, *extra, "--integer",
                                    "-o", tmp_path / "o"))
    assert any(fragment in line for line in lines), lines


def test_a_search_runs_the_file_as_planned_even_if_it_changes_meanwhile(tmp_path: Path) -> None:
    """The plan validates the file once; every evaluation applies the searched value to that
    reading. Re-reading the file at each evaluation let an edit made during a long search
    change the scenario under it (here: the grid cap, which decides the answer)."""
    from simulator.studies import plan_search

    path = _site(tmp_path)
    args = ("power.battery.count", "0:20", "power.battery.count")
    plan = plan_search(path, *args, constraints=["power_trips == 0"], integer=True)
    edited = yaml.safe_load(path.read_text())
    edited["power"]["grid"]["capacity"] = "40 kW"  # above the swing's peak: no battery needed
    path.write_text(yaml.safe_dump(edited))
    assert plan.run().answer.x == _fewest_units_by_brute_force() > 0
    again = plan_search(path, *args, constraints=["power_trips == 0"], integer=True)
    assert again.run().answer.x == 0
