"""Warnings: each raised on a scenario that should raise it, with the numbers a planner needs,
and turned into exit 2 by --strict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import invoke, make_scenario, ok, run, scenario_dict

from simulator.analytic import spare_shortage_probability
from simulator.diagnostics import (
    SPARE_TARGET,
    analytic_caveats,
    input_warnings,
    result_warnings,
    suggested_spares,
)
from simulator.loader import load_with_warnings


def _file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _codes(warnings: list[dict[str, str]]) -> list[str]:
    return [w["code"] for w in warnings]


def _power(**power: Any) -> dict[str, Any]:
    data = scenario_dict(mtbf_h=None, nodes=4, work="1 d")
    data["power"] = power
    return data


@pytest.mark.parametrize("key,value,meant", [
    ("power.grid.capacity", 50, "'50 MW'"),
    ("job.work", 30, "'30 d'"),
    ("job.checkpoint.interval", 10, "'10 min'"),
    ("power.battery.unit_energy", 3.9, "'3.9 MWh'"),
])
def test_a_plain_number_that_reads_like_a_unit_slip_warns(tmp_path: Path, key: str,
                                                         value: float, meant: str) -> None:
    data = _power(grid={"capacity": "100 MW"}, battery={"count": 1})
    node = data
    *path, last = key.split(".")
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    path_ = _file(tmp_path, data)
    _, warnings = load_with_warnings(path_)
    slips = [w for w in warnings if w["code"] == "unit_slip"]
    assert len(slips) == 1 and key in slips[0]["message"] and meant in slips[0]["message"]
    res = ok(invoke("validate", path_))
    assert "warning: " + key in res.stderr
    strict = invoke("validate", "--strict", path_)
    assert strict.exit_code == 2 and "error: " + key in strict.stderr


def test_values_with_units_do_not_warn(tmp_path: Path) -> None:
    data = _power(grid={"capacity": "50 MW"}, battery={"count": 1})
    data["job"]["work"] = "30 d"
    assert "unit_slip" not in _codes(load_with_warnings(_file(tmp_path, data))[1])


def test_a_plant_smaller_than_its_peak_warns(tmp_path: Path) -> None:
    # 4 H100 nodes draw about 4 × (8 × 700 + 1500) × 1.2 = 34 kW at the compute peak
    data = _power(grid={"capacity": "10 kW"})
    warnings = load_with_warnings(_file(tmp_path, data))[1]
    assert "plant_too_small" in _codes(warnings)
    assert "34.1" in next(w["message"] for w in warnings if w["code"] == "plant_too_small") \
        or "0.0341 MW" in json.dumps(warnings)
    data = _power(grid={"capacity": "10 kW"}, battery={"count": 1, "unit_power": "50 kW",
                                                       "unit_energy": "100 kWh"})
    assert _codes(load_with_warnings(_file(tmp_path, data))[1]) == ["plant_relies_on_battery"]
    data = _power(grid={"capacity": "1 MW"})
    assert load_with_warnings(_file(tmp_path, data))[1] == []


def test_a_battery_unit_unlike_any_built_warns(tmp_path: Path) -> None:
    data = _power(grid={"capacity": "1 MW"},
                  battery={"count": 2, "unit_power": "1 MW", "unit_energy": "100 MWh"})
    warnings = load_with_warnings(_file(tmp_path, data))[1]
    assert _codes(warnings) == ["battery_unit"] and "100 h" in warnings[0]["message"]


def test_the_suggested_spares_meet_the_binomial_target() -> None:
    scenario = make_scenario(mtbf_h=2.0, nodes=64, repair={"distribution": "fixed",
                                                         "value": "1 d"})
    s = suggested_spares(scenario)
    assert s is not None and s > 0
    rate = 1.0 / (2.0 * 64 * 3600.0)  # per node, 1/s
    assert spare_shortage_probability(64, s, rate, 86400.0) < SPARE_TARGET
    assert spare_shortage_probability(64, s - 1, rate, 86400.0) >= SPARE_TARGET


def test_a_job_starved_for_hardware_warns_with_the_spares_it_needs() -> None:
    # 64 nodes, a job MTBF of 2 h and 1-day repairs with no spare: the job mostly waits
    scenario = make_scenario(mtbf_h=2.0, nodes=64, work="30 d", horizon="1 yr",
                             repair={"distribution": "fixed", "value": "1 d"})
    records = run(scenario, 2)
    warnings = result_warnings(scenario, records)
    starved = next(w["message"] for w in warnings if w["code"] == "starved_for_hardware")
    assert "0 spare nodes (cluster.spare_nodes defaults to 0)" in starved
    assert f"cluster.spare_nodes = {suggested_spares(scenario)}" in starved
    assert any("waited for hardware" in c for c in analytic_caveats(scenario, records))
    # with the suggested spares the job no longer starves
    fed = make_scenario(mtbf_h=2.0, nodes=64, work="30 d", horizon="1 yr",
                        spare_nodes=suggested_spares(scenario),
                        repair={"distribution": "fixed", "value": "1 d"})
    assert "starved_for_hardware" not in _codes(result_warnings(fed, run(fed, 4)))


def test_a_horizon_reached_and_weibull_causes_make_the_analytic_column_not_comparable(
        tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=24.0, work="30 d", horizon="3 d")
    data["failures"]["causes"][0]["distribution"] = {"weibull": {"shape": 0.7}}
    res = ok(invoke("run", _file(tmp_path, data), "-r", 2, "--no-plots", "-o", tmp_path / "o"))
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert _codes(summary["warnings"]) == ["horizon", "analytic_not_comparable"]
    assert any("Weibull" in c for c in summary["analytic_caveats"])
    assert "n/a" in res.output and "reached run.horizon" in res.output
    strict = invoke("run", _file(tmp_path, data), "-r", 2, "--no-plots", "-o", tmp_path / "o",
                    "--strict")
    assert strict.exit_code == 2 and (tmp_path / "o" / "summary.json").exists()


def test_a_clean_run_has_no_warning(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=24.0, work="2 d")
    ok(invoke("run", _file(tmp_path, data), "-r", 2, "--no-plots", "-o", tmp_path / "o",
              "--strict"))
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["warnings"] == [] and summary["analytic_caveats"] == []
    assert input_warnings(data, make_scenario(mtbf_h=24.0, work="2 d")) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cost_by_cause_adds_up_to_the_ledger(seed: int) -> None:
    # failures, planned stops, waiting for repairs (one spare) and a horizon cut mid-run
    scenario = make_scenario(mtbf_h=3.0, nodes=8, spare_nodes=1, work="20 d", horizon="12 d",
                             repair={"distribution": "exponential", "mean": "10 h"},
                             **{"job.planned_interruptions_per_day": 2.0})
    from simulator.model import simulate
    from simulator.runner import seeds_for

    r = simulate(scenario, seeds_for(seed, 1)[0])
    assert r.planned_interruptions > 0 and r.waiting_hours > 0
    assert sum(r.lost_hours_by_cause.values()) == pytest.approx(r.lost_work_hours, rel=1e-9)
    assert sum(r.restart_hours_by_cause.values()) == pytest.approx(r.restart_hours, rel=1e-9)
    assert sum(r.down_hours_by_cause.values()) == pytest.approx(
        r.waiting_hours + r.outage_hours, rel=1e-9)
    assert r.restart_hours_by_cause["planned"] > 0 and "planned" not in r.lost_hours_by_cause


def test_the_run_table_and_causes_png_rank_the_costliest_cause_first(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=None, nodes=4, work="10 d")
    data["failures"]["causes"] = [
        {"name": "often", "per": "node", "mtbf": "2 d", "repair_time": 0},
        {"name": "rare", "per": "node", "mtbf": "30 d", "repair_time": 0}]
    res = ok(invoke("run", _file(tmp_path, data), "-r", 2, "-o", tmp_path / "o"))
    table = res.stdout[res.stdout.index("cost by cause"):]
    assert table.index("often") < table.index("rare")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert next(iter(summary["cost_by_cause"])) == "often"
    assert (tmp_path / "o" / "causes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_run_table_shows_every_time_row_summing_to_the_wall_clock(tmp_path: Path) -> None:
    data = scenario_dict(mtbf_h=24.0, work="2 d")
    res = ok(invoke("run", _file(tmp_path, data), "-r", 2, "--no-plots", "-o", tmp_path / "o"))
    values = {}
    for line in res.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 2:
            values[cells[0]] = cells[1]
    assert "site dark after trips (h)" in values
    assert values["sum of the time rows (h)"] == values["wall clock (h)"]
    assert float(values["wall clock (h)"].replace(",", "")) == pytest.approx(
        float(values["wall clock (days)"]) * 24.0, rel=1e-3)


def test_a_long_run_draws_its_job_states_as_daily_shares(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    import simulator.plots as plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    day = 86400.0
    # 10 days: compute for 18 h then restart for 6 h, every day
    changes = []
    for d in range(10):
        changes += [(d * day, "compute", 0.0), (d * day + 18 * 3600.0, "restart", 0.0)]
    plots.draw_timeline(changes, 10 * day, tmp_path / "t.png", "t")
    strip = figures[0].axes[0]
    # one filled staircase per state, stacked: each day 0.75 compute, then 0.25 restart on top
    stairs = {p.get_label(): p.get_data() for p in strip.patches}
    assert sorted(stairs) == ["compute", "restart"]
    for state, share, below in (("compute", 0.75, 0.0), ("restart", 0.25, 0.75)):
        values, edges, baseline = stairs[state]
        assert list(edges) == list(range(11))  # day boundaries
        assert list(values - baseline) == pytest.approx([share] * 10)
        assert list(baseline) == pytest.approx([below] * 10)
