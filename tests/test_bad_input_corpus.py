"""A corpus of bad input: every case must exit 2, without a traceback, with one line per
problem that names where it came from (the scenario file, the trace file, ``--set key=value``
or the CLI option), the key and the problem.

The cases are built at import time (``CASES``), in seven groups:

1. non-finite numbers (``.inf``, ``-.inf``, ``.nan``) on every numeric key of the shipped
   scenarios, the same through ``--set``, and unit overflow such as ``"1e308 d"``;
2. absurd finite values, derived from each key's own bounds (zero, negative, below the
   minimum, above the maximum), booleans, strings and quantities of the wrong kind;
3. runs too big to start, which must be refused up front naming ``run.max_events``;
4. bad CLI options of ``run``, ``validate``, ``sweep`` and ``compare``;
5. bad failure traces (and other-loads traces);
6. files YAML cannot (or must not) read: duplicate keys, deep nesting, alias bombs, FIFOs...;
7. inconsistent structure (unknown GPUs, bad names, inverted bands...).

A case marked ``xfail(strict=True)`` is a defect of dcsim found by this corpus (accepted bad
input, a crash or a hang); the reason says which. Each command runs in-process under a
``CASE_TIMEOUT_S`` alarm, so a hang fails its case instead of the suite.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.testing
import yaml
from annotated_types import Ge, Gt, Le, Lt
from helpers import invoke
from pydantic import BaseModel
from typer.main import get_command as _get_command

from simulator import units
from simulator.cli import app
from simulator.config import MAX_GPUS, Scenario
from simulator.loader import load_scenario, resolved_dict, validate_data
from simulator.sweepparams import MAX_POINTS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
SHIPPED = sorted([*(ROOT / "scenarios").glob("*.yaml"), *(ROOT / "docs" / "mitigations").glob("*.yaml")])
#: a case's command is stopped (and fails) after this long; a normal case takes ~20 ms
CASE_TIMEOUT_S = 3.0
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# -- defect reasons (xfail) -----------------------------------------------------------------
ACCEPTED = "ACCEPTED: dcsim takes this bad input (exit 0); "
CRASH = "CRASH: traceback and exit 1 instead of exit 2; "
HANG = "HANG: dcsim does not answer within the case's time limit; "
MESSAGE = "MESSAGE: exit 2, but a line does not name the source, key or problem; "


# -- bases ----------------------------------------------------------------------------------
def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def _shipped(name: str) -> dict[str, Any]:
    """A shipped scenario as the plain mapping it resolves to (SI numbers)."""
    return resolved_dict(load_scenario(ROOT / "scenarios" / name))


def _rich() -> dict[str, Any]:
    """gb300_site with every optional numeric key of a single-type cluster set (a few causes
    of each kind instead of 21)."""
    d = _shipped("gb300_site.yaml")
    causes = d["failures"]["causes"]
    d["failures"]["causes"] = [
        causes[0],  # per GPU, rate_per_year, default repair
        causes[2],  # per node, repair 0 s (fixed)
        next(c for c in causes if c["per"] == "rack"),  # lognormal repair
        {"name": "aging_node", "per": "node", "mtbf": 50 * units.to_seconds("1 yr"),
         "distribution": {"weibull": {"shape": 0.8}},
         "repair_time": {"distribution": "exponential", "mean": 7200.0}},
    ]
    d["job"]["gpus"] = d["cluster"]["gpus"]
    d["job"]["planned_interruptions_per_day"] = 0.5
    d["job"]["checkpoint"]["persist_time"] = 30.0
    p = d["power"]
    p["battery"]["soc_target"] = 0.6
    p["generators"]["governor_ramp_rate"] = 12e6
    p["protection"]["frequency_band"] = [57.0, 61.5]
    p["protection"]["normal_band"] = [59.5, 60.5]
    p["smoothing"]["damper"] = 0.5
    p["smoothing"]["damper_throughput_cost"] = 0.01
    p["other_loads"] = {"constant": 5e6, "trace": None}
    p["screening"]["bands"].append({"low": 20.0, "high": 100.0, "limit": {"watts": 5e6}})
    d["economics"]["gpu_capex"] = 50000.0
    return d


def _fleet() -> dict[str, Any]:
    """colossus_mixed (a fleet of three types) with one type's own smoothing."""
    d = _shipped("colossus_mixed.yaml")
    d["failures"]["causes"] = d["failures"]["causes"][:3]
    d["cluster"]["fleet"][2]["smoothing"] = {"ramp_up": 2000.0, "ramp_down": 1000.0, "damper": 0.4,
                                             "rack_storage_power": 30e3, "rack_storage_energy": 65e3}
    return d


#: small and fast: 16 H100, a day of work; what run/sweep/compare cases start from
TINY: dict[str, Any] = {
    "name": "tiny",
    "cluster": {"gpu": "h100", "gpus": 16, "gpus_per_node": 8, "nodes_per_rack": 4,
                "repair_time": "1 h"},
    "failures": {"causes": [{"name": "node_fault", "per": "node", "mtbf": "30 d"},
                            {"name": "gpu_fault", "per": "gpu", "rate_per_year": 0.5}]},
    "job": {"work": "1 d", "checkpoint": {"interval": "1 h", "write_time": "30 s"},
            "restart": {"time": "5 min"}},
    "run": {"replications": 1, "seed": 1, "horizon": "10 d"},
}
#: TINY with a small power plant (grid, turbines, a battery)
TINY_POWER: dict[str, Any] = {**copy.deepcopy(TINY), "name": "tiny_power", "power": {
    "grid": {"capacity": "20 kW"}, "generators": {"capacity": "200 kW", "ramp_rate": "1 kW/s"},
    "battery": {"count": 1, "unit_power": "100 kW", "unit_energy": "100 kWh"}}}

RICH = _rich()
FLEET = _fleet()
BASES: dict[str, dict[str, Any]] = {"rich": RICH, "fleet": FLEET,
                                    **{p.stem: resolved_dict(load_scenario(p)) for p in SHIPPED}}


# -- paths into mappings --------------------------------------------------------------------
def _walk(x: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _walk(v, (*path, str(k)))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _walk(v, (*path, str(i)))
    else:
        yield path, x


def _generic(path: tuple[str, ...]) -> str:
    return ".".join("*" if p.isdigit() else p for p in path)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def with_value(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with ``dotted`` set (list items by index; mappings made on the way)."""
    data = copy.deepcopy(base)
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = {}
            node = node[part]
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return data


def without(base: dict[str, Any], dotted: str) -> dict[str, Any]:
    data = copy.deepcopy(base)
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[parts[-1]]
    return data


def _numeric_keys() -> dict[str, tuple[str, str]]:
    """Every numeric key of the shipped scenarios and the rich bases, as generic path ->
    (base, concrete path): the first base holding a number there."""
    found: dict[str, tuple[str, str]] = {}
    for label, data in BASES.items():
        for path, value in _walk(data):
            if _is_number(value):
                found.setdefault(_generic(path), (label, ".".join(path)))
    return found


NUMERIC = _numeric_keys()


# -- what the model says about a key ---------------------------------------------------------
_CONVERTERS: dict[Callable[[Any], float], str] = {
    units.to_seconds: "duration", units.to_watts: "power", units.to_joules: "energy",
    units.to_usd: "money", units.to_watts_per_second: "ramp", units.to_hertz: "frequency",
    units.to_hertz_per_second: "rocof", units.to_usd_per_joule: "price",
}
#: a quantity of another kind, for each kind
WRONG_UNIT = {"duration": "10 kW", "power": "10 min", "energy": "10 MW", "money": "10 MWh",
              "ramp": "10 MW", "frequency": "10 s", "rocof": "10 Hz", "price": "80 USD"}
#: a quantity whose number overflows a double once converted to SI
OVERFLOW = {"duration": "1e308 d", "power": "1e400 MW", "energy": "1e308 MWh",
            "money": "1e308 MUSD", "ramp": "1e308 GW/ms", "frequency": "1e400 Hz",
            "rocof": "1e308 Hz/ms", "price": "1e308 MUSD/Wh"}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _kind(annotation: Any) -> str | None:
    for meta in getattr(annotation, "__metadata__", ()):
        kind = _CONVERTERS.get(getattr(meta, "func", None))  # type: ignore[arg-type]
        if kind:
            return kind
    for arg in typing.get_args(annotation):
        kind = _kind(arg)
        if kind:
            return kind
    return None


def _admits(annotation: Any, t: type) -> bool:
    if annotation is t:
        return True
    return any(_admits(a, t) for a in typing.get_args(annotation))


@dataclass(frozen=True)
class KeyInfo:
    kind: str | None  #: unit kind, or None for a plain number
    integer: bool
    optional: bool
    element: bool  #: an item of a list or tuple (the field's bounds do not apply)
    lower: tuple[float, bool] | None  #: (bound, exclusive)
    upper: tuple[float, bool] | None


def key_info(dotted: str) -> KeyInfo:
    model: Any = Scenario
    info = None
    parts = dotted.split(".")
    for part in parts:
        if part.isdigit():
            continue
        assert model is not None, dotted
        info = model.model_fields[part]
        model = _inner_model(info.annotation)
    assert info is not None
    lower = upper = None
    for m in info.metadata:
        if isinstance(m, Gt):
            lower = (m.gt, True)
        elif isinstance(m, Ge):
            lower = (m.ge, False)
        elif isinstance(m, Lt):
            upper = (m.lt, True)
        elif isinstance(m, Le):
            upper = (m.le, False)
    ann = info.annotation
    kind = next((k for k in (_CONVERTERS.get(getattr(m, "func", None)) for m in info.metadata) if k),
                None) or _kind(ann)
    element = parts[-1].isdigit()
    return KeyInfo(kind, _admits(ann, int) and not _admits(ann, float),
                   _admits(ann, type(None)) and not element, element, lower, upper)


# -- cases ----------------------------------------------------------------------------------
class Fifo:
    """A named pipe (nothing ever writes to it)."""


class Folder:
    """A directory."""


@dataclass(frozen=True)
class Sparse:
    """A sparse file of ``size`` bytes (zeros), made at once."""

    size: int


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``args`` is the dcsim command line; ``{s}`` is the case's scenario file ``{tmp}/s.yaml``
    and ``{tmp}`` its own folder. ``files`` are written into ``{tmp}`` first (a mapping as
    YAML, str or bytes as they are, or a :class:`Fifo`, :class:`Folder`, :class:`Sparse`).
    Every stderr line must start with one of ``sources`` and go on with ``: <problem>``;
    every fragment of ``expect`` must appear. ``click``: a usage error of the option parser
    (a ``Usage:`` header and a boxed message that must hold ``expect``). ``defect``: the
    reason of a strict xfail.
    """

    id: str
    args: tuple[str, ...]
    files: tuple[tuple[str, Any], ...] = ()
    expect: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("{s}",)
    click: bool = False
    defect: str | None = None


CASES: list[Case] = []
RUN = ("-r", "1", "--no-plots", "-o", "{tmp}/out")


def add(case: Case) -> None:
    CASES.append(case)


def validate(id_: str, data: dict[str, Any] | str | bytes, *expect: str, sets: tuple[str, ...] = (),
             defect: str | None = None, cmd: str = "validate",
             extra_files: tuple[tuple[str, Any], ...] = (),
             sources: tuple[str, ...] | None = None) -> None:
    """A scenario file (with ``--set`` options) given to ``validate`` or ``run``."""
    args: tuple[str, ...] = (cmd, "{s}", *(a for s in sets for a in ("--set", s)))
    if cmd == "run":
        args += RUN
    if sources is None:
        sources = ("{s}", *(f"--set {s}" for s in sets))
    add(Case(id_, args, (("s.yaml", data), *extra_files), tuple(expect), sources, defect=defect))


# 1. non-finite numbers -----------------------------------------------------------------------
NONFINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}
for _generic_key, (_base, _path) in NUMERIC.items():
    for _tag, _value in NONFINITE.items():
        validate(f"nonfinite-{_tag}:{_base}:{_path}", with_value(BASES[_base], _path, _value), _path)
    _info = key_info(_path)
    if _info.kind:
        validate(f"overflow:{_base}:{_path}={OVERFLOW[_info.kind]}",
                 with_value(BASES[_base], _path, OVERFLOW[_info.kind]), _path)

# a YAML float literal beyond a double
validate("nonfinite-literal:job.checkpoint.interval=1.0e+400",
         _yaml(RICH).replace("interval: 300.0", "interval: 1.0e+400"), "job.checkpoint.interval")
validate("nonfinite-string:job.work='inf s'", with_value(RICH, "job.work", "inf s"), "job.work")
validate("nonfinite-string:power.grid.capacity='nan MW'",
         with_value(RICH, "power.grid.capacity", "nan MW"), "power.grid.capacity")
validate("nonfinite-string:failures.causes.0.mtbf='Infinity'",
         with_value(TINY, "failures.causes.0.mtbf", "Infinity"), "failures.causes.0.mtbf")

# through --set, on the rich base (validate) and on the tiny one (run, sweep, compare)
SET_KEYS = ("job.checkpoint.interval", "job.checkpoint.write_time", "job.work", "job.restart.time",
            "job.iteration_time", "cluster.gpus", "cluster.spare_nodes",
            "failures.causes.0.rate_per_year", "failures.causes.3.mtbf",
            "failures.causes.3.distribution.weibull.shape", "power.pue", "power.battery.soc_min",
            "power.battery.unit_energy", "power.grid.capacity", "power.grid.ramp_limit",
            "power.protection.rocof_limit", "power.protection.frequency_band.0",
            "power.electricity_price", "run.horizon", "run.seed", "run.max_events",
            "economics.amortization")
for _key in SET_KEYS:
    for _text in ("inf", "-inf", "nan", "1e400"):
        validate(f"set-{_text}:{_key}", RICH, _key, sets=(f"{_key}={_text}",),
                 sources=(f"--set {_key}={_text}",))
for _key in ("job.checkpoint.interval", "failures.causes.0.mtbf", "run.horizon"):
    for _text in ("inf", "nan", ".inf", "1e308 d"):
        validate(f"run-set-{_text}:{_key}", TINY, _key, sets=(f"{_key}={_text}",), cmd="run",
                 sources=(f"--set {_key}={_text}",))

# 2. absurd finite values, from each key's bounds ----------------------------------------------
def _bound_cases(info: KeyInfo) -> Iterator[tuple[str, Any]]:
    def num(x: float) -> Any:
        return int(x) if info.integer else x

    if info.lower is not None and not info.element:
        lo, exclusive = info.lower
        if exclusive:
            yield ("zero" if lo == 0 else "at-exclusive-min"), num(lo)
        yield ("negative", num(-1)) if lo == 0 else ("below-min", num(lo - 1) if info.integer
                                                        else lo / 50)
    if info.upper is not None and not info.element:
        hi, exclusive = info.upper
        if exclusive:
            yield "at-exclusive-max", num(hi)
        yield "above-max", num(hi * 2) if not info.integer else int(hi) * 2
    elif info.kind is not None:
        yield "beyond-ceiling", 1e300
    yield "boolean", True
    yield "string", "a lot"
    if info.kind is not None:
        yield "wrong-unit", WRONG_UNIT[info.kind]
    if not info.optional:
        yield "null", None


for _generic_key, (_base, _path) in NUMERIC.items():
    for _tag, _value in _bound_cases(key_info(_path)):
        validate(f"{_tag}:{_base}:{_path}={_value!r}", with_value(BASES[_base], _path, _value), _path)

# the absurd values named in the brief, and a few more
for _path, _value in [
        ("job.checkpoint.interval", 1e308), ("failures.causes.3.distribution.weibull.shape", 0.001),
        ("cluster.gpus", 1e12), ("failures.causes.0.rate_per_year", 1e9),
        ("run.replications", 10**9), ("job.checkpoint.interval", "1e308 s"),
        ("job.checkpoint.interval", -60), ("job.checkpoint.interval", "-1 min"),
        ("cluster.gpus", 8.5), ("cluster.gpus", "1e12"), ("cluster.gpus", -8),
        ("run.seed", 2**128), ("run.seed", -1), ("power.pue", 0.5),
        ("job.mfu", 1.5), ("power.battery.count", 10**8), ("power.gpu_power_floor", 1.01),
        ("job.checkpoint.interval", "10 kW"), ("job.restart.time", "10 MWh"),
        ("power.grid.capacity", "5 min"), ("power.battery.unit_energy", "1 MW"),
        ("power.grid.ramp_limit", "20 MW"), ("power.grid.ramp_limit", "20 MWh/min"),
        ("power.nominal_frequency", "60 Hz/s"), ("economics.gpu_capex", "30000 EUR"),
("job.checkpoint.interval", "10 minutes later"),
        ("job.checkpoint.interval", "10 mins"), ("job.checkpoint.interval", [1, 2]),
        ("job.checkpoint.interval", {"value": 10}), ("job.checkpoint.interval", "ten min"),
        ("power.protection.frequency_band", [57.0]), ("power.protection.frequency_band", 57.0),
        ("power.protection.frequency_band", [57.0, 60.0, 61.0]),
        ("power.screening.bands.0.limit", "abc %"), ("power.screening.bands.0.limit", "-1 %"),
        ("power.screening.bands.0.limit", "1e5 %"), ("power.screening.bands.0.limit", "1 kWh"),
        ("power.other_loads", "20 MW/min"), ("power.other_loads", True),
        ("job.restart.failures_during_restart", 5), ("job.restart.failures_during_restart", "maybe"),
        ("power.battery.count", 2.5), ("cluster.nodes_per_rack", 0),
]:
    _key = "power.screening.bands.0.limit" if _path.startswith("power.screening") else _path
    validate(f"absurd:{_path}={_value!r}", with_value(RICH, _path, _value), _key)

validate("absurd:job.flops=1e40,mfu=1e-300(infinite work)",
         with_value(with_value(without(TINY, "job.work"), "job.flops", 1e40), "job.mfu", 1e-300),
         "job.mfu")
validate("absurd:name=300-chars", with_value(TINY, "name", "x" * 300), "name")

# 3. runs too big to start ----------------------------------------------------------------------
MAX_EVENTS = "run.max_events"
for _id, _data, *_extra in [
    ("interval=1ms,write=0,work=10d",
     with_value(with_value(with_value(TINY, "job.checkpoint.interval", "1 ms"),
                           "job.checkpoint.write_time", 0), "job.work", "10 d")),
    ("interval=1e-9s,write=0,work=30d",
     with_value(with_value(with_value(TINY, "job.checkpoint.interval", 1e-9),
                           "job.checkpoint.write_time", 0), "job.work", "30 d")),
    ("rich:interval=1ms,write=0", with_value(with_value(RICH, "job.checkpoint.interval", "1 ms"),
                                             "job.checkpoint.write_time", 0)),
    ("mtbf=1s<<restart=10min,horizon=1yr",
     with_value(with_value(with_value(TINY, "failures.causes.0.mtbf", "1 s"),
                           "job.restart.time", "10 min"), "run.horizon", "1 yr")),
    ("mtbf=1s<<restart,no-failures-during-restart",
     with_value(with_value(with_value(TINY, "failures.causes.0.mtbf", "1 s"),
                           "job.restart.failures_during_restart", False), "run.horizon", "1 yr")),
    ("mtbf=1ms,horizon=1e9yr",
     with_value(with_value(TINY, "failures.causes.0.mtbf", "1 ms"), "run.horizon", "1e9 yr")),
    ("rate=1e6/yr-per-gpu,rich", with_value(RICH, "failures.causes.0.rate_per_year", 1e6)),
    ("rate=1e6/yr-per-gpu,100M-gpus",
     with_value(with_value(TINY, "cluster.gpus", MAX_GPUS), "failures.causes.1.rate_per_year", 1e6)),
    ("fleet:failure_scale=1e6", with_value(FLEET, "cluster.fleet.0.failure_scale", 1e6)),
    ("planned=1e4/day,horizon=1e9yr",
     with_value(with_value(with_value(TINY, "job.planned_interruptions_per_day", 1e4),
                           "job.restart.time", "1 yr"), "run.horizon", "1e9 yr")),
    ("work=1e9yr,interval=1s,no-failures",
     with_value(with_value(with_value(with_value(TINY, "failures.causes", []), "job.work", "1e9 yr"),
                           "job.checkpoint.interval", "1 s"), "run.horizon", "1e9 yr")),
    ("max_events=1", with_value(TINY, "run.max_events", 1)),
    ("max_events=10,interval=1min", with_value(with_value(TINY, "run.max_events", 10),
                                               "job.checkpoint.interval", "1 min")),
    ("weibull-per-gpu,100M-gpus",
     with_value(with_value(with_value(TINY, "cluster.gpus", MAX_GPUS), "cluster.gpus_per_node", 1),
                "failures.causes.1.distribution", {"weibull": {"shape": 0.7}}), "cluster:"),
    ("200M-nodes", with_value(with_value(with_value(TINY, "cluster.gpus", MAX_GPUS),
                                         "cluster.gpus_per_node", 1), "cluster.spare_nodes", MAX_GPUS),
     "cluster:"),
]:
    validate(f"too-big:{_id}", _data, *(_extra or [MAX_EVENTS]))

# refused before the run: the power model's own scales are bounded, and a plant that cannot
# carry the site is priced at a trip per outage until the horizon
validate("too-big:power,iteration_time=1e-9s", with_value(TINY_POWER, "job.iteration_time", 1e-9),
         "job.iteration_time")
validate("too-big:power,no-source,trip_outage_time=0",
         with_value(with_value(TINY_POWER, "power", {"grid": {"capacity": 0}}),
                    "power.trip_outage_time", 0), "power.trip_outage_time")
validate("too-big:power,no-source,trip_outage_time=1ms",
         with_value(with_value(TINY_POWER, "power", {"grid": {"capacity": 0}}),
                    "power.trip_outage_time", "1 ms"), "power.trip_outage_time")
validate("too-big:power,no-source,horizon=1000yr",
         with_value(with_value(TINY_POWER, "power", {"grid": {"capacity": 0}}), "run.horizon",
                    "1000 yr"), MAX_EVENTS)
validate("too-big:power,rocof_window=1e-9s",
         with_value(TINY_POWER, "power.protection.rocof_window", 1e-9), "power.protection.rocof_window")
validate("too-big:power,battery.response_time=1e9s",
         with_value(TINY_POWER, "power.battery.response_time", 1e9), "power.battery.response_time")

# 4. CLI options -------------------------------------------------------------------------------
_OPTS = [
    ("run:-r=0", ("run", "{s}", "-r", "0", "--no-plots", "-o", "{tmp}/out"), "'-r' / '--replications'"),
    ("run:-r=1e9", ("run", "{s}", "-r", "1000000000", "--no-plots", "-o", "{tmp}/out"),
     "'-r' / '--replications'"),
    ("run:-r=-3", ("run", "{s}", "-r", "-3", "--no-plots", "-o", "{tmp}/out"), "'-r' / '--replications'"),
    ("run:-r=abc", ("run", "{s}", "-r", "abc", "--no-plots", "-o", "{tmp}/out"),
     "'-r' / '--replications'"),
    ("run:--seed=-1", ("run", "{s}", "--seed", "-1", *RUN), "'--seed'"),
    ("run:--seed=1e5000", ("run", "{s}", "--seed", "1" + "0" * 5000, *RUN), "'--seed'"),
    ("run:-j=0", ("run", "{s}", "-j", "0", *RUN), "'-j' / '--jobs'"),
    ("run:--format=xml", ("run", "{s}", "--format", "xml", *RUN), "'--format'"),
    ("run:--executor=mpi", ("run", "{s}", "--executor", "mpi", *RUN), "'--executor'"),
    ("run:--metric", ("run", "{s}", "--metric", "ettr", *RUN), "--metric"),
    ("run:--no-plots=yes", ("run", "{s}", "--no-plots=yes", "-o", "{tmp}/out"), "--no-plots"),
    ("run:no-file-argument", ("run",), "SCENARIO.yaml"),
    ("compare:-r=0", ("compare", "{s}", "{s}", "-r", "0", "--no-plots", "-o", "{tmp}/out"),
     "'-r' / '--replications'"),
    ("sweep:no-param", ("sweep", "{s}", "--values", "1,2", *RUN), "--param"),
    ("sweep:--seed=-5", ("sweep", "{s}", "--param", "job.checkpoint.interval", "--values", "1 h,2 h",
                         "--seed", "-5", *RUN), "'--seed'"),
]
for _id, _args, _frag in _OPTS:
    add(Case(f"cli:{_id}", _args, (("s.yaml", TINY),), (_frag,), click=True))

add(Case("cli:run:--seed=2**128", ("run", "{s}", "--seed", str(2**128), *RUN), (("s.yaml", TINY),),
         ("--seed", "2**128"), ("--seed",), click=True))

_P = ("--param", "job.checkpoint.interval")
_SWEEP_OPTS: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    ("range-N=1e9", (*_P, "--range", "1 min:1 h:1000000000"), ("--range", "1,000,000,000"), ("--param",)),
    ("range-N=10001", (*_P, "--range", "1 min:1 h:10001"), ("--range",), ("--param",)),
    ("range-N=1", (*_P, "--range", "1 min:1 h:1"), ("--range",), ("--param",)),
    ("range-N=x", (*_P, "--range", "1 min:1 h:x"), ("--range",), ("--param",)),
    ("range-N=2.5", (*_P, "--range", "1 min:1 h:2.5"), ("--range",), ("--param",)),
    ("range-two-parts", (*_P, "--range", "1 min:1 h"), ("--range",), ("--param",)),
    ("range-four-parts", (*_P, "--range", "1 min:1 h:3:4"), ("--range",), ("--param",)),
    ("range-zero-start", (*_P, "--range", "0:1 h:3"), ("--range",), ("--param",)),
    ("range-negative", (*_P, "--range", "-1 min:1 h:3"), ("--range",), ("--param",)),
    ("range-inf", (*_P, "--range", "1:inf:3"), ("--range",), ("--param",)),
    ("range-nan", (*_P, "--range", "nan:10:3"), ("--range",), ("--param",)),
    ("range-equal-ends", (*_P, "--range", "1 h:60 min:3"), ("--range",), ("--param",)),
    ("range-mixed-kinds", (*_P, "--range", "1 min:1 MW:3"), ("--range",), ("--param",)),
    ("range-overflow", (*_P, "--range", "1 min:1e308 d:3"), ("--range",), ("--param",)),
    ("range-empty", (*_P, "--range", ""), ("--range",), ("--param",)),
    ("values-duplicate", (*_P, "--values", "5 min,10 min,5 min"), ("repeated",), ("--param",)),
    ("values-duplicate-numbers", (*_P, "--values", "300,300.0"), ("repeated",), ("--param",)),
    ("values-empty", (*_P, "--values", ""), ("--values",), ("--param",)),
    ("values-empty-item", (*_P, "--values", "1 min,,2 min"), ("--values",), ("--param",)),
    ("values-over-10000", (*_P, "--values", ",".join(f"{k + 1} s" for k in range(MAX_POINTS + 1))),
     ("10,000",), ("--param",)),
    ("values-bad-point", (*_P, "--values", "1 h,0,-5 min"), ("job.checkpoint.interval",), ("{s}",)),
    ("values-inf-point", (*_P, "--values", "1 h,inf"), ("job.checkpoint.interval",), ("{s}",)),
    ("values-unknown-key", ("--param", "job.checkpoint.intervall", "--values", "1 h,2 h"),
     ("job.checkpoint.intervall",), ("{s}",)),
    ("param-through-scalar", ("--param", "name.x", "--values", "1,2"), ("name",), ("--param",)),
    ("param-bad-index", ("--param", "failures.causes.7.mtbf", "--values", "1 d,2 d"),
     ("failures.causes",), ("--param",)),
    ("param-twice", (*_P, "--values", "1 h,2 h", *_P, "--values", "3 h,4 h"), ("given more than once",),
     ("--param",)),
    ("params-without-values", (*_P, "--param", "job.restart.time", "--values", "1 h,2 h"),
     ("--param",), ("give each --param",)),
    ("zip-unequal", (*_P, "--values", "1 h,2 h", "--param", "job.restart.time", "--values",
                     "1 min,2 min,3 min", "--zip"), ("--zip",), ("--zip",)),
    ("optimize-without-interval", ("--param", "job.restart.time", "--values", "1 min,2 min",
                                   "--optimize"), ("--optimize",), ("--optimize",)),
    ("unknown-metric", (*_P, "--values", "1 h,2 h", "--metric", "happiness"), ("happiness",),
     ("--metric happiness",)),
    ("replications-point-too-big", ("--param", "run.replications", "--range", "1:1000000000:3"),
     ("run.replications",), ("{s}",)),
]
for _id, _args, _expect, _sources in _SWEEP_OPTS:
    add(Case(f"cli:sweep:{_id}", ("sweep", "{s}", *_args, *RUN), (("s.yaml", TINY),), _expect, _sources))

for _id, _args in [
    ("grid-101x101", (*_P, "--range", "1 min:1 h:101", "--param", "job.restart.time", "--range",
                      "1 min:1 h:101")),
    ("grid-3x3x3x3x3x3x3x3x3", tuple(a for k in ("job.checkpoint.interval", "job.restart.time",
                                                  "job.checkpoint.write_time", "job.work",
                                                  "run.horizon", "cluster.repair_time",
                                                  "failures.causes.0.mtbf", "job.iteration_time",
                                                  "failures.causes.1.rate_per_year")
                                     for a in ("--param", k, "--values", "1,2,3"))),
]:
    add(Case(f"cli:sweep:{_id}", ("sweep", "{s}", *_args, *RUN), (("s.yaml", TINY),), ("10,000",),
             ("--param", "--range", "--values")))
add(Case("cli:sweep:values-same-quantity-twice",
         ("sweep", "{s}", *_P, "--values", "5 min,300 s", *RUN), (("s.yaml", TINY),), ("repeated",),
         ("--param",)))

# malformed --set
_SETS = [
    ("no-equals", "job.checkpoint.interval", "expected key=value"),
    ("empty-key", "=5", "expected key=value"),
    ("blank-key", "  =5", "expected key=value"),
    ("list-index-out-of-range", "failures.causes.9.mtbf=1 d", "not an index"),
    ("list-index-not-a-number", "failures.causes.first.mtbf=1 d", "not an index"),
    ("list-index-negative", "failures.causes.-1.mtbf=1 d", "not an index"),
    ("through-a-string", "name.x=1", "not a mapping"),
    ("through-a-quantity", "job.checkpoint.interval.unit=s", "not a mapping"),
    ("through-a-list-item-scalar", "failures.causes.0.name.x=1", "not a mapping"),
    ("unknown-key", "run.seeds=3", "unknown key"),
    ("unknown-top-key", "colour=red", "unknown key"),
    ("empty-part", "job..interval=1", "unknown key"),
    ("mapping-to-scalar", "run=5", "run"),
    ("list-to-scalar", "failures.causes=5", "failures.causes"),
    ("list-item-to-scalar", "failures.causes.0=5", "failures.causes.0"),
    ("flow-list-for-number", "cluster.gpus=[8, 16]", "cluster.gpus"),
    ("python-tag", "job.work=!!python/object/apply:os.system [ls]", "job.work"),
    ("unclosed-bracket", "job.work=[1 d", "job.work"),
    ("alias", "job.work=*x", "job.work"),
    ("boolean", "run.replications=true", "boolean"),
    ("yes", "cluster.gpus=yes", "cluster.gpus"),
    ("null-required", "job.checkpoint=null", "job.checkpoint"),
    ("tiny-underflow", "job.checkpoint.interval=1e-400", "job.checkpoint.interval"),
]
for _id, _text, _frag in _SETS:
    # a problem of the override itself names its key (``--set KEY: ...``), one of the value
    # names key and value (``--set KEY=VALUE: key: ...``)
    _source = f"--set {_text.partition('=')[0].strip()}".strip()
    validate(f"set:{_id}", TINY, _frag, sets=(_text,), sources=(_source,))
validate("set:deeply-nested-value", TINY, "description",
         sets=("description=" + "[" * 3000 + "]" * 3000,), sources=("--set",))
validate("set:5000-digit-integer", TINY, "cluster.gpus", sets=("cluster.gpus=1" + "0" * 5000,),
         sources=("--set",))
for _cmd, _args in [("run", RUN), ("compare", ("-r", "1", "--no-plots", "-o", "{tmp}/out"))]:
    _files = ("{s}", "{s}") if _cmd == "compare" else ("{s}",)
    add(Case(f"set:{_cmd}:no-equals", (_cmd, *_files, "--set", "job.work", *_args), (("s.yaml", TINY),),
             ("expected key=value",), ("--set",)))
    add(Case(f"set:{_cmd}:path-through-scalar", (_cmd, *_files, "--set", "name.x=1", *_args),
             (("s.yaml", TINY),), ("not a mapping",), ("--set name.x",)))
    add(Case(f"set:{_cmd}:inf", (_cmd, *_files, "--set", "job.work=inf", *_args), (("s.yaml", TINY),),
             ("job.work",), ("--set job.work=inf",)))

# output folders, metrics, executors
_OUT = [
    ("run", ("run", "{s}", "-r", "1", "--no-plots")),
    ("sweep", ("sweep", "{s}", *_P, "--values", "1 h,2 h", "-r", "1", "--no-plots")),
    ("compare", ("compare", "{s}", "{s}", "-r", "1", "--no-plots")),
]
for _cmd, _args in _OUT:
    add(Case(f"cli:{_cmd}:-o=existing-file", (*_args, "-o", "{tmp}/afile"),
             (("s.yaml", TINY), ("afile", "not a folder\n")), ("not a folder",), ("{tmp}/afile",)))
    add(Case(f"cli:{_cmd}:-o=inside-a-file", (*_args, "-o", "{tmp}/afile/x"),
             (("s.yaml", TINY), ("afile", "not a folder\n")), ("{tmp}/afile/x",), ("{tmp}/afile/x",)))
    add(Case(f"cli:{_cmd}:-o=non-result-folder", (*_args, "-o", "{tmp}/docs"),
             (("s.yaml", TINY), ("docs/keep.txt", "mine\n")), ("holds no dcsim results",), ("{tmp}/docs",)))
    add(Case(f"cli:{_cmd}:-o=current-folder", (*_args, "-o", "."), (("s.yaml", TINY),),
             ("current folder",), (".",)))
    add(Case(f"cli:{_cmd}:--scheduler-without-dask", (*_args, "-o", "{tmp}/out", "--scheduler",
                                                      "tcp://127.0.0.1:1"), (("s.yaml", TINY),),
             ("--executor dask",), ("--scheduler",)))
    if _cmd != "run":
        add(Case(f"cli:{_cmd}:known-and-unknown-metric", (*_args, "-o", "{tmp}/out", "--metric", "ettr",
                                                "--metric", "speed"), (("s.yaml", TINY),),
                 ("speed",), ("--metric speed",)))
if Path("/etc/hostname").is_file():
    for _cmd, _args in _OUT:
        add(Case(f"cli:{_cmd}:-o=/etc/hostname/x", (*_args, "-o", "/etc/hostname/x"),
                 (("s.yaml", TINY),), ("/etc/hostname/x",), ("/etc/hostname/x",)))
add(Case("cli:compare:two-bad-files", ("compare", "{tmp}/a.yaml", "{tmp}/b.yaml", *RUN),
         (("a.yaml", with_value(TINY, "job.work", -1)), ("b.yaml", with_value(TINY, "cluster.gpus", 0))),
         ("job.work", "cluster.gpus"), ("{tmp}/a.yaml", "{tmp}/b.yaml")))
add(Case("cli:compare:good-and-missing", ("compare", "{s}", "{tmp}/missing.yaml", *RUN),
         (("s.yaml", TINY),), ("file not found",), ("{tmp}/missing.yaml",)))
add(Case("cli:validate:missing-file", ("validate", "{tmp}/missing.yaml"), (), ("file not found",),
         ("{tmp}/missing.yaml",)))
add(Case("cli:run:missing-file", ("run", "{tmp}/missing.yaml", *RUN), (), ("file not found",),
         ("{tmp}/missing.yaml",)))
add(Case("cli:sweep:missing-file", ("sweep", "{tmp}/missing.yaml", *_P, "--values", "1 h,2 h", *RUN),
         (), ("file not found",), ("{tmp}/missing.yaml",)))

# 5. traces ----------------------------------------------------------------------------------
def _with_trace(path: str = "trace.csv") -> dict[str, Any]:
    return with_value(TINY, "failures.trace", path)


_TRACES: list[tuple[str, str | bytes, str]] = [
    ("nan-time", "nan,node_fault,0\n", "time"),
    ("inf-time", "inf,node_fault,0\n", "time"),
    ("minus-inf-time", "-inf,node_fault,0\n", "time"),
    ("nan-time-with-unit", "nan h,node_fault,0\n", "time"),
    ("overflow-time", "1e308 d,node_fault,0\n", "time"),
    ("overflow-literal", "1e400,node_fault,0\n", "time"),
    ("negative-time", "-5,node_fault,0\n", "time"),
    ("negative-time-with-unit", "-1 h,node_fault,0\n", "time"),
    ("time-wrong-unit", "5 MW,node_fault,0\n", "time"),
    ("time-unknown-unit", "5 fortnights,node_fault,0\n", "time"),
    ("time-text", "soon,node_fault,0\n", "time"),
    ("time-empty", ",node_fault,0\n", "time"),
    ("unknown-cause", "1 h,meteor,0\n", "meteor"),
    ("cause-wrong-case", "1 h,NODE_FAULT,0\n", "NODE_FAULT"),
    ("cause-empty", "1 h,,0\n", "cause"),
    ("cause-reserved", "1 h,power_trip,0\n", "power_trip"),
    ("unit-out-of-range", "1 h,node_fault,2\n", "unit"),
    ("unit-negative", "1 h,node_fault,-1\n", "unit"),
    ("unit-fraction", "1 h,node_fault,0.5\n", "unit"),
    ("unit-empty", "1 h,node_fault,\n", "unit"),
    ("unit-huge", "1 h,gpu_fault," + "9" * 30 + "\n", "unit"),
    ("two-fields", "1 h,node_fault\n", "3 fields"),
    ("four-fields", "1 h,node_fault,0,extra\n", "3 fields"),
    ("empty-columns", ",,\n", "time"),
    ("one-column", "3600\n", "3 fields"),
    ("header-then-garbage", "time,cause,unit\nx,y,z\n", "time"),
    ("unterminated-quote", '1 h,"node_fault,0\n2 h,node_fault,0\n', "3 fields"),
    ("non-utf8", b"time,cause,unit\n1 h,n\xe9ud,0\n", "UTF-8"),
    ("utf16", "1 h,node_fault,0\n".encode("utf-16"), "UTF-8"),
    ("nul-in-time", "1\x00,node_fault,0\n", "time"),
]
for _id, _content, _frag in _TRACES:
    validate(f"trace:{_id}", _with_trace(), _frag, extra_files=(("trace.csv", _content),),
             sources=("{s}", "{tmp}/trace.csv"))
validate("trace:corpus-many-errors", _with_trace(str(CORPUS / "trace_mixed_errors.csv")), "no_such_cause",
         sources=(str(CORPUS / "trace_mixed_errors.csv"),))
validate("trace:missing", _with_trace("nowhere.csv"), "failures.trace", "file not found")
validate("trace:directory", _with_trace("adir"), "failures.trace", extra_files=(("adir", Folder()),))
validate("trace:fifo", _with_trace("pipe.csv"), "failures.trace", extra_files=(("pipe.csv", Fifo()),))
validate("trace:/dev/zero", _with_trace("/dev/zero"), "failures.trace")
validate("trace:/dev/null", _with_trace("/dev/null"), "failures.trace")
validate("trace:empty-path", _with_trace(""), "failures.trace")
validate("trace:number", with_value(TINY, "failures.trace", 5), "failures.trace")
validate("trace:list", with_value(TINY, "failures.trace", ["a.csv"]), "failures.trace")
validate("trace:one-field-over-128KiB", _with_trace(), "trace.csv",
         extra_files=(("trace.csv", "1 h,node_fault," + "0" * 200_000 + "\n"),),
         sources=("{s}", "{tmp}/trace.csv"))
validate("trace:sparse-16MB-of-NULs", _with_trace(), "trace.csv",
         extra_files=(("trace.csv", Sparse(16 << 20)),), sources=("{s}", "{tmp}/trace.csv"))
validate("run:trace:nan-time", _with_trace(), "time", cmd="run",
         extra_files=(("trace.csv", "nan,node_fault,0\n"),), sources=("{s}", "{tmp}/trace.csv"))
add(Case("compare:trace:unknown-cause", ("compare", "{s}", "{s}", *RUN), (
    ("s.yaml", _with_trace()), ("trace.csv", "1 h,meteor,0\n")), ("meteor",), ("{tmp}/trace.csv",)))

# other loads' traces
_OTHER: list[tuple[str, str | bytes | Any, str]] = [
    ("nan-power", "1 h,nan\n", "nan"),
    ("inf-power", "1 h,inf MW\n", "inf"),
    ("negative-power", "1 h,-5 MW\n", "not negative"),
    ("negative-time", "-1 h,5 MW\n", "not negative"),
    ("power-as-time", "1 h,5 min\n", "power"),
    ("three-fields", "1 h,5 MW,x\n", "2 fields"),
    ("no-rows", "time,power\n", "no rows"),
    ("non-utf8", b"1 h,5 MW\xff\n", "not UTF-8"),
]
for _id, _content, _frag in _OTHER:
    validate(f"other-loads:{_id}", with_value(TINY_POWER, "power.other_loads", {"trace": "loads.csv"}),
             _frag, extra_files=(("loads.csv", _content),), sources=("{s}", "{tmp}/loads.csv"))
validate("other-loads:missing", with_value(TINY_POWER, "power.other_loads", {"trace": "none.csv"}),
         "power.other_loads.trace")
validate("other-loads:directory", with_value(TINY_POWER, "power.other_loads", {"trace": "d"}),
         "power.other_loads.trace", extra_files=(("d", Folder()),))
validate("other-loads:one-field-over-128KiB",
         with_value(TINY_POWER, "power.other_loads", {"trace": "loads.csv"}), "loads.csv",
         extra_files=(("loads.csv", "1 h," + "5" * 200_000 + "\n"),), sources=("{s}", "{tmp}/loads.csv"))

# 6. YAML -------------------------------------------------------------------------------------
_CORPUS_YAML = {
    "dup_top_level.yaml": ("duplicate key 'name'",),
    "dup_nested.yaml": ("duplicate key 'interval'", "line 11", "first given on line 9"),
    "dup_in_list_item.yaml": ("duplicate key 'mtbf'",),
    "tabs.yaml": ("malformed YAML", "line 4"),
    "unclosed_flow.yaml": ("malformed YAML",),
    "bad_indent.yaml": ("malformed YAML", "line 5"),
    "python_tag.yaml": ("name: line 2", "cannot read the value", "python/object"),
    "two_documents.yaml": ("malformed YAML",),
    "top_level_list.yaml": ("mapping",),
    "top_level_scalar.yaml": ("mapping",),
    "top_level_string.yaml": ("mapping",),
    "undefined_alias.yaml": ("malformed YAML", "undefined alias"),
    "unhashable_key.yaml": ("malformed YAML", "unhashable"),
    "cyclic_alias.yaml": ("alias refers to",),
    "comments_only.yaml": ("mapping",),
    "blank.yaml": ("mapping",),
    "empty.yaml": ("mapping",),
}
for _name, _expect in _CORPUS_YAML.items():
    _path = str(CORPUS / _name)
    add(Case(f"yaml:corpus:{_name}", ("validate", _path), (), _expect, (_path,)))
_bomb = str(CORPUS / "alias_bomb.yaml")
add(Case("yaml:corpus:alias_bomb.yaml", ("validate", _bomb), (), ("aliases expand",), (_bomb,)))

_tiny_text = _yaml(TINY)
_YAML_TEXT: list[tuple[str, str | bytes | Any, tuple[str, ...]]] = [
    ("deep-list-70", "name: t\nsources: " + "[" * 70 + "]" * 70 + "\n", ("nested",)),
    ("deep-mapping-70", "name: t\ndescription: " + "{a: " * 70 + "1" + "}" * 70 + "\n", ("nested",)),
    ("deep-block-mapping-70", "name: t\nx:\n" + "".join("  " * (k + 1) + f"k{k}:\n" for k in range(70))
     + "  " * 71 + "v: 1\n", ("nested",)),
    ("deep-20000", "name: " + "[" * 20000 + "]" * 20000 + "\n", ("nested",)),
    ("deep-mapping-5000", "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n", ("nested",)),
    ("latin1-byte", b"description: caf\xe9\n" + _tiny_text.encode(), ("UTF-8",)),
    ("utf16-with-bom", _tiny_text.encode("utf-16"), ("UTF-8",)),
    ("lone-continuation-byte", b"\x80" + _tiny_text.encode(), ("UTF-8",)),
    ("truncated-utf8", _tiny_text.encode() + b"description: \xe2\x82\n", ("UTF-8",)),
    ("nul-character", _tiny_text + "description: a\x00b\n", ("malformed YAML",)),
    ("control-character", _tiny_text + "description: a\x07b\n", ("malformed YAML",)),
    ("directory", Folder(), ("directory",)),
    ("fifo", Fifo(), ("not a regular file",)),
    ("sparse-over-8MB", Sparse(8 * 1024 * 1024 + 1), ("at most",)),
    ("sparse-1GB", Sparse(1 << 30), ("at most",)),
    ("5000-digit-integer", _tiny_text.replace("gpus: 16", "gpus: 1" + "0" * 5000), ("cluster.gpus",)),
    ("yaml-binary-for-number", _tiny_text.replace("gpus: 16", "gpus: !!binary AAAA"), ("cluster.gpus",)),
    ("date-for-duration", _tiny_text.replace("work: 1 d", "work: 2024-01-01"), ("job.work",)),
    ("timestamp-for-duration", _tiny_text.replace("work: 1 d", "work: 2024-01-01 10:00:00"),
     ("job.work",)),
    ("int-key-at-top", _tiny_text + "1: x\n", (": 1: Keys should be strings",)),
    ("null-key-at-top", _tiny_text + "~: x\n", (": None: Keys should be strings",)),
]
for _id, _content, _expect in _YAML_TEXT:
    add(Case(f"yaml:{_id}", ("validate", "{s}"), (("s.yaml", _content),), _expect))
add(Case("yaml:/dev/zero", ("validate", "/dev/zero"), (), ("not a regular file",), ("/dev/zero",)))
add(Case("yaml:/dev/null", ("validate", "/dev/null"), (), ("not a regular file",), ("/dev/null",)))
add(Case("yaml:run:/dev/zero", ("run", "/dev/zero", *RUN), (), ("not a regular file",), ("/dev/zero",)))
add(Case("yaml:run:fifo", ("run", "{s}", *RUN), (("s.yaml", Fifo()),), ("not a regular file",)))
add(Case("yaml:sweep:fifo", ("sweep", "{s}", *_P, "--values", "1 h,2 h", *RUN), (("s.yaml", Fifo()),),
         ("not a regular file",)))
add(Case("yaml:compare:directory", ("compare", "{s}", "{s}", *RUN), (("s.yaml", Folder()),),
         ("directory",)))

# unknown keys at several levels, and missing required keys
for _path in ("colour", "cluster.colour", "cluster.fleet_size", "failures.colour",
              "failures.causes.0.colour", "job.colour", "job.checkpoint.colour", "job.restart.colour",
              "power.colour", "power.battery.colour", "power.generators.colour", "power.grid.colour",
              "power.protection.colour", "power.smoothing.colour", "power.waveform.colour",
              "power.controller.colour", "power.screening.colour", "power.screening.bands.0.colour",
              "power.gpu_watts.colour", "power.other_loads.colour", "economics.colour", "run.colour",
              "cluster.repair_time.colour", "failures.causes.3.distribution.weibull.colour",
              "failures.causes.3.distribution.colour", "power.screening.bands.1.limit.colour"):
    validate(f"unknown-key:{_path}", with_value(RICH, _path, "blue"), _path, "unknown key")
validate("unknown-key:cluster.fleet.1.colour", with_value(FLEET, "cluster.fleet.1.colour", "blue"),
         "cluster.fleet.1.colour", "unknown key")
validate("unknown-key:cluster.fleet.2.smoothing.colour",
         with_value(FLEET, "cluster.fleet.2.smoothing.colour", "blue"), "cluster.fleet.2.smoothing.colour")
validate("unknown-key:misspelt-top", without(with_value(TINY, "jobs", TINY["job"]), "job"), "jobs")
for _path in ("name", "cluster", "job", "job.checkpoint", "job.restart", "job.checkpoint.interval",
              "job.restart.time", "failures.causes.0.name", "failures.causes.0.per", "cluster.gpus",
              "job.work"):
    validate(f"missing:{_path}", without(TINY, _path), _path.rpartition(".")[0] or _path)
validate("missing:everything-but-name", {"name": "t"}, "cluster", "job")
validate("missing:fleet-gpus", without(FLEET, "cluster.fleet.0.gpus"), "cluster.fleet.0.gpus")
validate("missing:fleet-gpu-and-gpus", with_value(FLEET, "cluster.fleet.1", {}), "cluster.fleet.1.gpu")
validate("missing:band-high", without(RICH, "power.screening.bands.0.high"), "power.screening.bands.0.high")
validate("missing:weibull-shape", with_value(RICH, "failures.causes.3.distribution", {"weibull": {}}),
         "failures.causes.3.distribution.weibull.shape")

# 7. structure ---------------------------------------------------------------------------------
for _gpu in ("h1000", "H1000", "A100", "mi300x", "", "   ", "h100 nvl", "gb300x", "Rubin Ultra"):
    validate(f"fleet-unknown-gpu:{_gpu!r}", with_value(FLEET, "cluster.fleet.1.gpu", _gpu),
             "cluster.fleet.1.gpu")
for _gpu in ("h1000", "TPU", 100):
    validate(f"cluster-unknown-gpu:{_gpu!r}", with_value(TINY, "cluster.gpu", _gpu), "cluster.gpu")
for _name in ("..", ".", "...", "a/b", "../escape", "/abs", "a b", "", "x\ny", "naïve", "a\\b", 5,
              ["a"], None):
    validate(f"name:{_name!r}", with_value(TINY, "name", _name), "name")
_STRUCT: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("job-gpus-above-cluster", with_value(TINY, "job.gpus", 24), ("job.gpus (24) exceeds",)),
    ("job-gpus-not-whole-nodes", with_value(TINY, "job.gpus", 12), ("gpus_per_node",)),
    ("job-gpus-with-fleet", with_value(FLEET, "job.gpus", 8), ("job.gpus",)),
    ("rich:job-gpus-above-cluster", with_value(RICH, "job.gpus", RICH["cluster"]["gpus"] + 4),
     ("exceeds",)),
    ("cluster-gpus-not-whole-nodes", with_value(TINY, "cluster.gpus", 12), ("gpus_per_node",)),
    ("fleet-gpus-not-whole-nodes", with_value(FLEET, "cluster.fleet.2.gpus", 30001),
     ("cluster.fleet.2",)),
    ("gpus-and-fleet", with_value(FLEET, "cluster.gpus", 8), ("cluster",)),
    ("neither-gpus-nor-fleet", without(TINY, "cluster.gpus"), ("cluster",)),
    ("empty-fleet", with_value(FLEET, "cluster.fleet", []), ("cluster.fleet",)),
    ("fleet-not-a-list", with_value(FLEET, "cluster.fleet", {"gpu": "h100", "gpus": 8}), ("cluster.fleet",)),
    ("soc_min-above-soc_max", with_value(with_value(RICH, "power.battery.soc_min", 0.9),
                                         "power.battery.soc_max", 0.2), ("soc_min",)),
    ("soc_min-equals-soc_max", with_value(with_value(RICH, "power.battery.soc_min", 0.5),
                                          "power.battery.soc_max", 0.5), ("soc_min",)),
    ("initial_soc-outside", with_value(RICH, "power.battery.initial_soc", 0.99), ("initial_soc",)),
    ("soc_target-outside", with_value(RICH, "power.battery.soc_target", 0.01), ("soc_target",)),
    ("band-low-equals-high", with_value(RICH, "power.screening.bands.0.high", 0.1),
     ("power.screening.bands.0", "low must be below high")),
    ("band-low-above-high", with_value(with_value(RICH, "power.screening.bands.1.low", 200.0),
                                       "power.screening.bands.1.high", 20.0), ("power.screening.bands.1",)),
    ("band-limit-both", with_value(RICH, "power.screening.bands.0.limit", {"watts": 1e6, "percent": 1}),
     ("power.screening.bands.0.limit",)),
    ("band-limit-empty", with_value(RICH, "power.screening.bands.0.limit", {}),
     ("power.screening.bands.0.limit",)),
    ("bands-not-a-list", with_value(RICH, "power.screening.bands", {"low": 1, "high": 2}),
     ("power.screening.bands",)),
    ("frequency_band-inverted", with_value(RICH, "power.protection.frequency_band", [61.5, 57.0]),
     ("frequency_band",)),
    ("frequency_band-without-f0", with_value(RICH, "power.protection.frequency_band", [60.5, 62.0]),
     ("frequency_band",)),
    ("normal_band-inverted", with_value(RICH, "power.protection.normal_band", [60.5, 59.5]),
     ("normal_band",)),
    ("normal_band-without-f0-50Hz", with_value(RICH, "power.nominal_frequency", 50.0), ("band",)),
    ("energy-price-80-USD", with_value(RICH, "power.electricity_price", "80 USD"),
     ("power.electricity_price", "USD/MWh")),
    ("energy-price-per-power", with_value(RICH, "power.electricity_price", "80 USD/MW"),
     ("power.electricity_price",)),
    ("energy-price-per-time", with_value(RICH, "power.electricity_price", "80 USD/h"),
     ("power.electricity_price",)),
    ("energy-price-energy", with_value(RICH, "power.electricity_price", "80 MWh"),
     ("power.electricity_price",)),
    ("energy-price-EUR", with_value(RICH, "power.electricity_price", "80 EUR/MWh"),
     ("power.electricity_price",)),
    ("duplicate-cause-names", with_value(TINY, "failures.causes.1.name", "node_fault"), ("duplicate cause",)),
    ("reserved-cause-planned", with_value(TINY, "failures.causes.0.name", "planned"), ("reserved",)),
    ("reserved-cause-power_trip", with_value(TINY, "failures.causes.0.name", "power_trip"), ("reserved",)),
    ("cause-empty-name", with_value(TINY, "failures.causes.0.name", ""), ("failures.causes.0.name",)),
    ("cause-rate-and-mtbf", with_value(TINY, "failures.causes.0.rate_per_year", 1.0),
     ("failures.causes.0", "exactly one")),
    ("cause-neither-rate-nor-mtbf", without(TINY, "failures.causes.0.mtbf"), ("failures.causes.0",)),
    ("cause-per-cluster", with_value(TINY, "failures.causes.0.per", "cluster"), ("failures.causes.0.per",)),
    ("cause-per-GPU-uppercase", with_value(TINY, "failures.causes.0.per", "GPU"), ("failures.causes.0.per",)),
    ("cause-distribution-weibull-string", with_value(TINY, "failures.causes.0.distribution", "weibull"),
     ("failures.causes.0.distribution",)),
    ("cause-distribution-gamma", with_value(TINY, "failures.causes.0.distribution", {"gamma": {"shape": 2}}),
     ("failures.causes.0.distribution",)),
    ("causes-not-a-list", with_value(TINY, "failures.causes", {"name": "x"}), ("failures.causes",)),
    ("weibull_start-unknown", with_value(TINY, "failures.weibull_start", "old"), ("failures.weibull_start",)),
    ("repair-lognormal-mean-below-median", with_value(TINY, "cluster.repair_time", {
        "distribution": "lognormal", "median": "2 d", "mean": "1 d"}),
     ("cluster.repair_time", "mean > median")),
    ("repair-lognormal-mean-equals-median", with_value(TINY, "cluster.repair_time", {
        "distribution": "lognormal", "median": "1 d", "mean": "1 d"}), ("cluster.repair_time",)),
    ("repair-fixed-with-mean", with_value(TINY, "cluster.repair_time", {
        "distribution": "fixed", "value": "1 h", "mean": "2 h"}), ("cluster.repair_time",)),
    ("repair-exponential-without-mean", with_value(TINY, "cluster.repair_time", {
        "distribution": "exponential"}), ("cluster.repair_time",)),
    ("repair-uniform", with_value(TINY, "cluster.repair_time", {"distribution": "uniform", "value": 1}),
     ("cluster.repair_time.distribution",)),
    ("repair-boolean", with_value(TINY, "cluster.repair_time", True), ("cluster.repair_time",)),
    ("repair-negative", with_value(TINY, "cluster.repair_time", "-1 h"), ("cluster.repair_time",)),
    ("work-and-flops", with_value(with_value(TINY, "job.flops", 1e24), "job.mfu", 0.4), ("job",)),
    ("neither-work-nor-flops", without(TINY, "job.work"), ("job",)),
    ("flops-without-mfu", with_value(without(TINY, "job.work"), "job.flops", 1e24), ("flops needs mfu",)),
    ("other-loads-wrong-unit", with_value(TINY_POWER, "power.other_loads", "20 MWh"), ("power.other_loads",)),
    ("power-not-a-mapping", with_value(TINY, "power", "on"), ("power",)),
    ("power-a-list", with_value(TINY, "power", [1, 2]), ("power",)),
    ("economics-not-a-mapping", with_value(TINY, "economics", 5), ("economics",)),
    ("sources-not-a-list", with_value(TINY, "sources", {"a": 1}), ("sources",)),
    ("description-a-list", with_value(TINY, "description", ["a"]), ("description",)),
    ("run-a-list", with_value(TINY, "run", [1]), ("run",)),
]
for _id, _data, _expect in _STRUCT:
    validate(f"structure:{_id}", _data, *_expect)


# -- running a case -------------------------------------------------------------------------------
class CaseTimeout(Exception):
    """Raised in the command by the alarm when a case runs over ``CASE_TIMEOUT_S``."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout(f"no answer within {CASE_TIMEOUT_S} s")


_COMMAND: list[Any] = []


def _command_once(typer_app: Any) -> Any:
    """typer's CliRunner rebuilds the click command from the app's signatures on every call
    (~15 ms, more than a case's own work); build it once."""
    if typer_app is not app:
        return _get_command(typer_app)
    if not _COMMAND:
        _COMMAND.append(_get_command(app))
    return _COMMAND[0]


def invoke_guarded(args: list[str]) -> Any:
    """``invoke`` (typer's CliRunner, in this process) under an alarm of CASE_TIMEOUT_S."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(typer.testing, "_get_command", _command_once)
            return invoke(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{s}", str(tmp / "s.yaml")).replace("{tmp}", str(tmp))


def _write(tmp: Path, name: str, content: Any) -> None:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Fifo):
        os.mkfifo(path)
    elif isinstance(content, Folder):
        path.mkdir()
        (path / "inside.yaml").write_text("name: t\n")
    elif isinstance(content, Sparse):
        with open(path, "wb") as fh:
            fh.truncate(content.size)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(_yaml(content), encoding="utf-8")


_BOX = "╭╮╰╯│─ "


def check(case: Case, result: Any, tmp: Path) -> None:
    """Exit 2, no traceback, clean lines naming source, key and problem."""
    shown = f"{case.id}\nexit {result.exit_code}, {result.exception!r}\nstderr:\n{result.stderr[-3000:]}"
    assert not isinstance(result.exception, CaseTimeout), "HANG " + shown
    assert result.exit_code == 2, shown
    assert isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output and "Traceback" not in result.stderr, shown
    lines = result.stderr.splitlines()
    assert lines, "nothing on stderr\n" + shown
    assert all(line.strip() for line in lines), "an empty line\n" + shown
    expect = [_fill(e, tmp) for e in case.expect]
    if case.click:
        body = [line.strip(_BOX) for line in lines if not line.startswith(("Usage:", "Try '"))]
        text = " ".join(" ".join(body).split())
        for fragment in expect:
            assert fragment in text, f"{fragment!r} not in the message\n" + shown
        return
    sources = [_fill(s, tmp) for s in case.sources]
    for line in lines:
        source = next((s for s in sources if line.startswith(s)), None)
        assert source is not None, f"line names none of {sources}: {line!r}\n" + shown
        rest = line[len(source):]
        if source.startswith(("/", ".", "--set")):
            # "file: key: problem", "file:line: problem", "--set key=value: key: problem"
            assert re.search(r":\s*\S", rest), f"no problem after the source: {line!r}\n" + shown
        else:
            # a CLI option's own message: "--scheduler needs --executor dask"
            assert rest.strip(), f"no problem after the option: {line!r}\n" + shown
    text = "\n".join(lines)
    for fragment in expect:
        assert fragment in text, f"{fragment!r} not in the message\n" + shown


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.defect)] if case.defect else []
    return pytest.param(case, id=case.id, marks=marks)


# -- tests ----------------------------------------------------------------------------------------
def test_corpus_is_large() -> None:
    assert len(CASES) >= 320
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})


def test_the_bases_are_valid() -> None:
    """The mutations start from valid scenarios, so each case's problem is its own."""
    for label, data in {**BASES, "tiny": TINY, "tiny_power": TINY_POWER}.items():
        validate_data(yaml.safe_load(_yaml(data)), label)


def test_every_shipped_numeric_key_gets_every_non_finite_value() -> None:
    covered = {(c.id.split(":")[0], _generic(tuple(c.id.split(":")[2].split("."))))
               for c in CASES if c.id.startswith("nonfinite-") and c.id.count(":") == 2}
    for path in SHIPPED:
        for key, value in _walk(resolved_dict(load_scenario(path))):
            if _is_number(value):
                for tag in NONFINITE:
                    assert (f"nonfinite-{tag}", _generic(key)) in covered, (path.name, key, tag)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, tmp_path: Path) -> None:
    for name, content in case.files:
        _write(tmp_path, name, content)
    result = invoke_guarded([_fill(a, tmp_path) for a in case.args])
    check(case, result, tmp_path)
    assert not (tmp_path / "out").exists(), "a refused command wrote its output folder"


# -- what must pass ---------------------------------------------------------------------------------
def test_a_trace_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_bytes(b"\xef\xbb\xbftime,cause,unit\n1 h,node_fault,0\n2 h,gpu_fault,3\n")
    (tmp_path / "s.yaml").write_text(_yaml(_with_trace()))
    result = invoke_guarded(["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 0, result.output
    result = invoke_guarded(["run", str(tmp_path / "s.yaml"), "-r", "1", "--no-plots", "-o",
                             str(tmp_path / "out"), "--format", "json"])
    assert result.exit_code == 0, result.output


def test_a_scenario_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_bytes(b"\xef\xbb\xbf" + _yaml(TINY).encode())
    assert invoke_guarded(["validate", str(tmp_path / "s.yaml")]).exit_code == 0


def test_a_yaml_merge_key_is_read(tmp_path: Path) -> None:
    text = _yaml(TINY).replace("job:\n", "job:\n  <<: {iteration_time: 2 s}\n", 1)
    (tmp_path / "s.yaml").write_text(text)
    result = invoke_guarded(["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 0, result.output


def test_a_bounded_run_with_mtbf_far_below_restart_does_not_crash(tmp_path: Path) -> None:
    data = with_value(with_value(with_value(TINY, "failures.causes.0.mtbf", "1 s"),
                                 "job.restart.time", "1 h"), "run.horizon", "1 h")
    (tmp_path / "s.yaml").write_text(_yaml(data))
    result = invoke_guarded(["run", str(tmp_path / "s.yaml"), "-r", "1", "--no-plots", "-o",
                             str(tmp_path / "out")])
    assert result.exit_code in (0, 2), (result.exit_code, repr(result.exception))
    assert "Traceback" not in result.output


@pytest.mark.parametrize("iteration_time", ["0.2 s", "0.1 s"])
def test_a_short_iteration_runs_on_a_site_with_turbines(iteration_time: str, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(_yaml(with_value(TINY_POWER, "job.iteration_time", iteration_time)))
    result = invoke_guarded(["run", str(tmp_path / "s.yaml"), "-r", "1", "--no-plots", "-o",
                             str(tmp_path / "out")])
    assert result.exit_code in (0, 2), (result.exit_code, repr(result.exception))
