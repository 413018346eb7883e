"""Reading scenario files: duplicate keys, booleans for numbers, byte-order marks, deep nesting,
oversized files and non-regular files are refused (or read) with a clear line, never a
traceback or a hang."""

from __future__ import annotations

import os
import threading

import pytest
import yaml
from helpers import assert_bad_input, invoke, ok, scenario_dict

from simulator.loader import ScenarioError, load_scenario
from simulator.yamlload import MAX_BYTES


def _write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _scenario_text(**over) -> str:
    data = scenario_dict(mtbf_h=None)
    data.update(over)
    return yaml.safe_dump(data, sort_keys=False)


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path) -> None:
    text = _scenario_text().replace("  checkpoint:\n", "  checkpoint:\n    interval: 1 h\n", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert "duplicate key 'interval'" in msg and "first given on line" in msg
    lines = assert_bad_input(invoke("validate", path))
    assert any("duplicate key 'interval'" in line for line in lines)


def test_every_duplicate_is_listed_at_once(tmp_path) -> None:
    text = "name: a\nname: b\nrun: {seed: 1, seed: 2}\n"
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, text))
    assert str(err.value).count("duplicate key") == 2


def test_booleans_are_not_numbers(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None)
    data["cluster"]["spare_nodes"] = True
    data["run"]["replications"] = False
    path = _write(tmp_path, yaml.safe_dump(data))
    lines = assert_bad_input(invoke("validate", path))
    text = "\n".join(lines)
    assert "cluster.spare_nodes: expected a number, got the boolean true" in text
    assert "run.replications: expected a number, got the boolean false" in text
    # a boolean where a boolean belongs is fine
    data = scenario_dict(mtbf_h=None)
    data["job"]["restart"]["failures_during_restart"] = False
    ok(invoke("validate", _write(tmp_path, yaml.safe_dump(data), "b.yaml")))


def test_a_byte_order_mark_is_read(tmp_path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + _scenario_text().encode("utf-8"))
    assert load_scenario(path).name == "t"


def test_deep_nesting_is_refused_without_a_traceback(tmp_path) -> None:
    path = _write(tmp_path, "name: " + "[" * 20000 + "]" * 20000 + "\n")
    lines = assert_bad_input(invoke("validate", path))
    assert any("nested" in line for line in lines)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    lines = assert_bad_input(invoke("validate", path))
    assert any("at most" in line for line in lines)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once(tmp_path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(invoke("validate", fifo)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "validate blocked on a FIFO"
    lines = assert_bad_input(result[0])
    assert any("not a regular file" in line for line in lines)


def test_text_that_is_not_utf8_names_the_file(tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"description: caf\xe9\n" + _scenario_text().encode("ascii"))
    lines = assert_bad_input(invoke("validate", path))
    assert any(str(path) in line and "UTF-8" in line for line in lines)
