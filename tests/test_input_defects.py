"""Small input defects from a new user's first hour, each with the behaviour that fixes it."""

from __future__ import annotations

import yaml
from helpers import assert_bad_input, invoke, ok, scenario_dict

from simulator import __version__
from simulator.config import Scenario


def _file(tmp_path, data, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_gpu_names_are_read_in_any_case(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["cluster"]["gpu"] = "H100"
    assert Scenario.model_validate(data).cluster.gpu == "h100"


def test_an_unknown_gpu_is_listed_with_the_other_problems(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["cluster"]["gpu"] = "h1000"
    data["run"]["replications"] = 0
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    text = "\n".join(lines)
    assert "cluster.gpu: unknown gpu 'h1000'" in text and "run.replications" in text


def test_a_name_of_dots_is_refused(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["name"] = ".."
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    assert any("name: must name a folder" in line for line in lines)


def test_an_energy_price_without_per_energy_says_what_it_needs(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["power"] = {"electricity_price": "80 USD"}
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    text = "\n".join(lines)
    assert "80 USD/MWh" in text and "(use one of: )" not in text


def test_a_mixed_fleet_is_titled_by_its_types(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None, work="1 h")
    del data["cluster"]["gpus"]
    data["cluster"]["fleet"] = [{"gpu": "h100", "gpus": 16}, {"gpu": "GB200", "gpus": 8,
                                                               "gpus_per_node": 4}]
    res = ok(invoke("run", _file(tmp_path, data), "-r", 1, "--no-plots", "-o", tmp_path / "o"))
    assert "16 H100 + 8 GB200" in res.output


def test_version() -> None:
    res = ok(invoke("--version"))
    assert res.output.strip() == f"dcsim {__version__}"


def test_a_misspelt_key_gets_a_suggestion(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["job"]["checkpoint"]["intervl"] = data["job"]["checkpoint"].pop("interval")
    data["power"] = {"baterry": {"count": 1}}
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    text = "\n".join(lines)
    assert "job.checkpoint.intervl: unknown key (did you mean 'interval'?)" in text
    assert "power.baterry: unknown key (did you mean 'battery'?)" in text
    data = scenario_dict(mtbf_h=None)
    data["job"]["zzzz"] = 1  # nothing close: no suggestion
    lines = assert_bad_input(invoke("validate", _file(tmp_path, data)))
    assert any(line.endswith("job.zzzz: unknown key") for line in lines)


def test_piped_tables_fit_100_columns(tmp_path) -> None:
    data = scenario_dict(mtbf_h=24.0, work="2 d")
    res = ok(invoke("run", _file(tmp_path, data), "-r", 2, "--no-plots", "-o", tmp_path / "o"))
    assert max(len(line) for line in res.stdout.splitlines()) <= 100
