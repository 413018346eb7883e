"""Scenario factories shared by the closed-form and property tests.

:func:`make_scenario` builds the simplest scenario the closed forms speak about:
one exponential failure cause per node with a given *job* MTBF, repair time fixed at 0 s (so a
failed node is back at once and the job never waits for hardware), no power model. Everything
can be overridden with dotted keys, e.g. ``make_scenario(mtbf_h=6, **{"job.work": "10 d"})``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import Scenario
from simulator.model import simulate
from simulator.records import ReplicationRecord
from simulator.runner import seeds_for

HOUR = 3600.0
MINUTE = 60.0
DAY = 86400.0


def scenario_dict(*, mtbf_h: float | None = 24.0, nodes: int = 1, gpus_per_node: int = 8,
                  spare_nodes: int = 0, interval_min: float = 10.0, write_min: float = 1.0,
                  restart_min: float = 5.0, work: float | str = "10 d",
                  failures_during_restart: bool = True, repair: Any = 0.0,
                  horizon: float | str = "100 yr", name: str = "t",
                  per: str = "node") -> dict[str, Any]:
    """A plain scenario mapping (before validation).

    ``mtbf_h`` is the MTBF of the *job* (all ``nodes`` nodes together) in hours, from one
    exponential cause whose unit is ``per`` (``node`` or ``gpu``): each of the job's units fails
    at rate 1 / (units · mtbf). ``None`` means no failures at all.
    """
    causes = []
    if mtbf_h is not None:
        units = nodes * (gpus_per_node if per == "gpu" else 1)
        causes.append({"name": f"{per}_fault", "per": per, "mtbf": mtbf_h * units * HOUR,
                       "repair_time": repair})
    return {
        "name": name,
        "cluster": {"gpu": "h100", "gpus": nodes * gpus_per_node, "gpus_per_node": gpus_per_node,
                    "nodes_per_rack": 4, "spare_nodes": spare_nodes, "repair_time": repair},
        "failures": {"causes": causes},
        "job": {
            "work": work,
            "checkpoint": {"interval": interval_min * MINUTE, "write_time": write_min * MINUTE},
            "restart": {"time": restart_min * MINUTE,
                        "failures_during_restart": failures_during_restart},
        },
        "run": {"replications": 1, "seed": 1, "horizon": horizon},
    }


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested mapping (creating mappings on the way)."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def make_scenario(overrides: dict[str, Any] | None = None, **kwargs: Any) -> Scenario:
    """A validated :class:`Scenario` from :func:`scenario_dict` keywords plus dotted overrides.

    Keyword arguments that are parameters of :func:`scenario_dict` go there; any other keyword
    (or any key of ``overrides``) is a dotted path into the scenario mapping.
    """
    params = set(inspect.signature(scenario_dict).parameters)
    base_kw = {k: v for k, v in kwargs.items() if k in params}
    dotted = {k: v for k, v in kwargs.items() if k not in params}
    dotted.update(overrides or {})
    data = copy.deepcopy(scenario_dict(**base_kw))
    for key, value in dotted.items():
        set_dotted(data, key, value)
    return Scenario.model_validate(data)


def run(scenario: Scenario, replications: int, seed: int = 1) -> list[ReplicationRecord]:
    """Replications in this process, seeded exactly as ``run_replications`` seeds them."""
    return [simulate(scenario, s, i) for i, s in enumerate(seeds_for(seed, replications))]


def values(records: Sequence[ReplicationRecord], metric: str) -> np.ndarray:
    return np.array([float(getattr(r, metric)) for r in records])


LEDGER_FIELDS = ("productive_hours", "throttled_hours", "degraded_hours", "slow_hours",
                 "checkpoint_hours",
                 "lost_work_hours", "detect_hours", "restart_hours", "ramp_hours",
                 "waiting_hours", "outage_hours")


def ledger_hours(record: ReplicationRecord) -> float:
    return sum(float(getattr(record, f)) for f in LEDGER_FIELDS)


# -- the CLI ------------------------------------------------------------------------------------
runner = CliRunner()


def invoke(*args: Any) -> Any:
    """Run ``dcsim`` with these arguments in-process."""
    return runner.invoke(app, [str(a) for a in args])


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def assert_bad_input(result: Any) -> list[str]:
    """Exit 2, a clean message on stderr, no exception escaping; returns the message lines."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no message on stderr"
    return lines
