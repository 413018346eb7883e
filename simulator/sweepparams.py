"""Swept parameters: the values a sweep gives a scenario key (``--values``, ``--range``),
the grid or zip of points they make, the SI unit each key's values carry in table columns,
and the units values are shown in.

Values are read as ``--set`` reads them (YAML, units allowed) and kept as typed; a key's kind
of quantity (duration, power, ...) comes from the scenario schema, so a column of swept
values can say its SI unit (``job.checkpoint.interval_s``).
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator import units
from simulator.config import Scenario
from simulator.configbase import inner_model
from simulator.errors import ScenarioError
from simulator.loader import parse_override

#: the most points one sweep may have (grid size or --range N)
MAX_POINTS = 10_000
#: unit converters of :mod:`simulator.units` by the kind of quantity they read
_CONVERTERS: dict[str, Callable[[Any], float]] = {
    "duration": units.to_seconds,
    "power": units.to_watts,
    "energy": units.to_joules,
    "money": units.to_usd,
    "ramp": units.to_watts_per_second,
    "price": units.to_usd_per_joule,
}

#: the SI unit a column of swept values carries in its name, by kind of quantity
SI_SUFFIX = {"duration": "_s", "power": "_w", "energy": "_j", "money": "_usd",
             "ramp": "_w_per_s", "price": "_usd_per_j"}

Progress = Callable[[int], None]




@dataclass(frozen=True)
class ParamSpec:
    """One swept key and the values it takes (as written into the scenario mapping)."""

    key: str
    values: tuple[Any, ...]
    log: bool = False
    #: kind of quantity (duration, power, ...) when known, for axis units
    kind: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "column": param_column(self.key), "log": self.log,
                "kind": self.kind, "text": self.text, "values": list(self.values)}


def param_column(key: str) -> str:
    """The CSV column of a swept key: the key with its SI unit, e.g.
    ``job.checkpoint.interval_s`` (values in seconds); counts and fractions keep the key."""
    return key + SI_SUFFIX.get(unit_kind(key) or "", "")


def split_values(text: str) -> list[str]:
    """``"2 min, 5 min, {a: 1, b: 2}"`` -> items, splitting on commas outside brackets."""
    items, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur).strip())
    return items


def unit_kind(key: str) -> str | None:
    """The kind of quantity the scenario key holds (``duration``, ``power``...), if any."""
    from pydantic import BaseModel

    model: Any = Scenario
    kind = None
    for part in key.split("."):
        if part.isdigit():
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        kind = _converter_kind([info.annotation, *info.metadata])
        model = inner_model(info.annotation)
    return kind


def _converter_kind(objs: Sequence[Any]) -> str | None:
    for obj in objs:
        func = getattr(obj, "func", None)
        for kind, conv in _CONVERTERS.items():
            if func is conv:
                return kind
        args = typing.get_args(obj)
        if args:
            found = _converter_kind([*args, *getattr(obj, "__metadata__", ())])
            if found:
                return found
    return None


def parse_values(key: str, text: str) -> ParamSpec:
    """``--values "2 min,5 min,10 min"``: each item read as in ``--set`` (YAML, units kept)."""
    items = split_values(text)
    if len(items) > MAX_POINTS:
        raise ScenarioError([f"--param {key} --values: {len(items):,} values is more than "
                             f"{MAX_POINTS:,}"])
    if not text.strip() or any(not item for item in items):
        raise ScenarioError([f"--param {key} --values {text!r}: expected a comma-separated list "
                             f"of values, e.g. '2 min,5 min,10 min'"])
    return values_spec(key, items, f"--values {text}", f"--param {key} --values {text!r}")


def values_spec(key: str, items: Sequence[str], text: str, where: str) -> ParamSpec:
    """A swept key's values from their ``--set`` texts (``"5 min"``, ``"4"``, ``"[1, 2]"``);
    ``text`` describes them in sweep.json, ``where`` in messages. Refuses too many values and
    repeats (``"5 min"`` and ``"300 s"`` are the same point)."""
    if len(items) > MAX_POINTS:
        raise ScenarioError([f"{where}: {len(items):,} values is more than {MAX_POINTS:,}"])
    if not items:
        raise ScenarioError([f"{where}: no values"])
    values = tuple(parse_override(f"{key}={item}")[1] for item in items)
    kind = unit_kind(key) or _typed_kind(values)
    # compare quantities in SI, so that "5 min" and "300 s" count as the same point
    same: list[Any] = []
    for v in values:
        try:
            same.append(_CONVERTERS[kind](v) if kind in _CONVERTERS else v)
        except units.UnitError:
            same.append(v)  # the scenario's validation reports it
    seen: dict[Any, int] = {}
    for k, v in enumerate(same):
        try:
            first = seen.setdefault(v, k)
        except TypeError:  # an unhashable value (a list or mapping): not compared
            continue
        if first != k:
            also = f" (the same as {items[first]!r})" if items[first] != items[k] else ""
            raise ScenarioError([f"{where}: {items[k]!r} is repeated{also}"])
    return ParamSpec(key, values, log=False, kind=kind, text=text)


def _typed_kind(values: Sequence[Any]) -> str | None:
    for kind, conv in _CONVERTERS.items():
        try:
            if all(isinstance(v, str) for v in values):
                for v in values:
                    conv(v)
                return kind
        except units.UnitError:
            continue
    return None


def parse_range(key: str, text: str) -> ParamSpec:
    """``--range START:STOP:N``: N log-spaced values, e.g. ``"2 min:30 min:10"`` (SI out).

    START and STOP may carry units of the same kind; plain integers give integer values
    (rounded, repeats dropped) so counts can be swept too.
    """
    where = f"--param {key} --range {text!r}"
    parts = [p.strip() for p in text.split(":")]
    if len(parts) != 3:
        raise ScenarioError([f"{where}: expected START:STOP:N, e.g. '2 min:30 min:10'"])
    try:
        n = int(parts[2])
    except ValueError:
        raise ScenarioError([f"{where}: N must be a whole number, got {parts[2]!r}"]) from None
    if n < 2:
        raise ScenarioError([f"{where}: N must be at least 2"])
    if n > MAX_POINTS:
        raise ScenarioError([f"{where}: N = {n:,} is more than {MAX_POINTS:,} points"])
    ends, kind = range_ends(where, parts[0], parts[1])
    start, stop = ends
    if not (start > 0 and stop > 0 and math.isfinite(start) and math.isfinite(stop)):
        raise ScenarioError([f"{where}: a log-spaced range needs START and STOP above 0"])
    if start == stop:
        raise ScenarioError([f"{where}: START and STOP are equal"])
    grid = np.geomspace(start, stop, n)
    integers = kind is None and all(_is_int_text(p) for p in parts[:2])
    if integers:
        vals: list[Any] = []
        for v in grid:
            r = round(float(v))
            if r not in vals:
                vals.append(r)
    else:
        vals = [float(v) for v in grid]
        vals[0], vals[-1] = start, stop  # exact ends
    return ParamSpec(key, tuple(vals), log=True, kind=unit_kind(key) or kind,
                     text=f"--range {text}")


def _is_int_text(s: str) -> bool:
    return s.lstrip("+-").isdigit()


def range_ends(where: str, a: str, b: str) -> tuple[tuple[float, float], str | None]:
    try:
        plain = (float(a), float(b))
    except ValueError:
        pass
    else:
        return plain, None
    for kind, conv in _CONVERTERS.items():
        try:
            return (conv(a), conv(b)), kind
        except units.UnitError:
            continue
    raise ScenarioError([f"{where}: START and STOP must be numbers or quantities of the same "
                         f"kind, e.g. '2 min:30 min:10' or '10 MW:200 MW:8'"])


def combinations(specs: Sequence[ParamSpec], zip_: bool) -> list[dict[str, Any]]:
    """The points: every combination (grid) or the i-th value of each (zip)."""
    keys = [s.key for s in specs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ScenarioError([f"--param {dup[0]}: given more than once"])
    if zip_:
        lengths = {s.key: len(s.values) for s in specs}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ScenarioError([f"--zip needs the same number of values for every --param "
                                 f"({listed})"])
        return [dict(zip(keys, combo, strict=True))
                for combo in zip(*(s.values for s in specs), strict=True)]
    size = math.prod(len(s.values) for s in specs)
    if size > MAX_POINTS:
        raise ScenarioError([f"{', '.join(f'--param {k}' for k in keys)}: the grid of "
                             f"{' × '.join(str(len(s.values)) for s in specs)} "
                             f"values has {size:,} points, more than {MAX_POINTS:,}: sweep "
                             f"fewer values, or pair them with --zip"])
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(s.values for s in specs))]


def describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())




def display_scale(kind: str | None, values: Sequence[float]) -> tuple[float, str]:
    """(SI per display unit, unit label) for axis and table values of a quantity kind."""
    finite = [abs(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    top = max(finite, default=0.0)
    if kind == "duration":
        for limit, scale, label in ((180.0, 1.0, "s"), (3 * 3600.0, 60.0, "min"),
                                    (3 * 86400.0, 3600.0, "h")):
            if top <= limit:
                return scale, label
        return 86400.0, "d"
    if kind == "power":
        for scale, label in ((1e9, "GW"), (1e6, "MW"), (1e3, "kW")):
            if top >= scale:
                return scale, label
        return 1.0, "W"
    if kind == "energy":
        return (3.6e9, "MWh") if top >= 3.6e9 else (3.6e6, "kWh")
    if kind == "ramp":
        return 1e6, "MW/s"
    if kind == "money":
        return 1.0, "USD"
    if kind == "price":
        return 1.0 / 3.6e9, "USD/MWh"
    return 1.0, ""
