"""Reading scenario files: YAML -> overrides -> validated :class:`Scenario`.

Every problem is collected and reported at once as ``file: key.path: message``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from simulator import yamlload
from simulator.config import Scenario
from simulator.configbase import NotANumber
from simulator.errors import ScenarioError


def parse_override(text: str) -> tuple[str, Any]:
    """``"job.checkpoint.interval=5 min"`` -> (``"job.checkpoint.interval"``, ``"5 min"``).

    The value is read as YAML, so numbers stay numbers and ``true`` is a boolean.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([f"--set {text}: expected key=value, e.g. job.checkpoint.interval=5 min"])
    try:
        value = yamlload.load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw.strip()
    except yamlload.YamlProblems as exc:
        raise ScenarioError([f"--set {text}: {p}" for p in exc.problems]) from None
    if isinstance(value, str):
        # YAML 1.1 reads "1e3" as a string; on a command line it is a number
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            value = int(number) if number.is_integer() and "." not in value else number
    return key, value


def override_text(key: str, value: Any) -> str:
    """``key=value`` as ``--set`` takes it: a string as it stands (units and all), anything
    else written as YAML."""
    if isinstance(value, str):
        return f"{key}={value}"
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # a numpy scalar (np.geomspace's values): its Python number
    if isinstance(value, bool) or value is None:
        text = yaml.safe_dump(value).splitlines()[0]
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return f"{key}={text}"


def override_texts(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """The ``--set`` texts of ``{dotted key: value}`` overrides (see :func:`override_text`);
    a sequence of ``key=value`` texts is taken as it stands, in its order."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [override_text(k, v) for k, v in overrides.items()]
    return list(overrides)


def apply_overrides(data: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted ``key`` set to its value (list items by index)."""
    import copy

    out = copy.deepcopy(data)
    for key, value in overrides:
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError([f"--set {key}: {part!r} is not an index of the list "
                                         f"at {'.'.join(parts[:i])}"])
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError([f"--set {key}: {'.'.join(parts[:i])} is not a mapping"])
    return out


def _did_you_mean(loc: Sequence[Any]) -> str:
    """`` (did you mean 'interval'?)`` for a misspelt key, from the keys allowed beside it."""
    import difflib

    from simulator.configbase import inner_model

    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int) or str(part).isdigit():
            continue
        info = model.model_fields.get(str(part))
        model = inner_model(info.annotation) if info is not None else None
        if model is None:
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _blame(source: str, loc: str, sets: Sequence[str]) -> str:
    """``--set key=value`` when that override wrote the key in error (or a key above or below
    it), else the file."""
    for text in reversed(sets):  # the last override of a key is the one that stands
        key = text.partition("=")[0].strip()
        if loc == key or loc.startswith(key + ".") or key.startswith(loc + "."):
            return f"--set {text}"
    return source


def format_errors(source: str, err: ValidationError, sets: Sequence[str] = ()) -> list[str]:
    """One ``source: key.path: message`` line per pydantic error (``source`` is the
    ``--set`` option instead when one wrote the key)."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if isinstance(e.get("input"), NotANumber):
            msg = f"expected a number, got the boolean {e['input']}"
        elif e["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(e["loc"])
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{_blame(source, loc, sets)}: {loc}: {msg}")
    return lines


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping at the top of a YAML file, or ScenarioError."""
    if not path.exists():
        raise ScenarioError([f"{path}: file not found"])
    if path.is_dir():
        raise ScenarioError([f"{path}: is a directory, expected a scenario YAML file"])
    text = ""
    try:
        text = yamlload.read_text(path)
        data = yamlload.load(text)
    except yamlload.YamlProblems as exc:
        raise ScenarioError([f"{path}: {p}" for p in exc.problems]) from None
    except ValueError as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise ScenarioError([f"{path}: cannot read: not UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start})"]) from None
        raise ScenarioError([f"{path}: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        key = yamlload.key_at(text, mark.line, mark.column) if mark and text else None
        if key is not None and isinstance(exc, yaml.constructor.ConstructorError):
            # the text parsed, but a value could not be read: name its key
            raise ScenarioError([f"{path}: {key}: {where}cannot read the value: {exc.problem}"]) from None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([f"{path}: {where}malformed YAML: {problem}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{path}: expected a mapping of keys at the top level"])
    return data


def validate_data(data: Mapping[str, Any], source: str, base_dir: Path | None = None,
                  sets: Sequence[str] = ()) -> Scenario:
    """Validate raw scenario data; relative trace paths resolve against ``base_dir``;
    ``sets`` are the ``key=value`` overrides already applied (errors name them)."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_errors(source, err, sets)) from None
    trace = scenario.failures.trace
    if trace is not None:
        if not trace.is_absolute() and base_dir is not None:
            trace = (base_dir / trace).resolve()
            scenario = scenario.model_copy(
                update={"failures": scenario.failures.model_copy(update={"trace": trace})})
        if not trace.exists():
            raise ScenarioError([f"{source}: failures.trace: file not found: {trace}"])
        if not trace.is_file():
            raise ScenarioError([f"{source}: failures.trace: not a regular file: {trace}"])
        from simulator.failures import read_trace, resolve_causes

        try:
            read_trace(trace, resolve_causes(scenario))
        except ValueError as exc:
            raise ScenarioError(str(exc).splitlines()) from None
    if scenario.power is not None and scenario.power.other_loads is not None:
        scenario = _other_loads_trace(scenario, source, base_dir)
    from simulator.budget import problems

    too_big = problems(scenario, source)
    if too_big:
        raise ScenarioError(too_big)
    return scenario


def _other_loads_trace(scenario: Scenario, source: str, base_dir: Path | None) -> Scenario:
    """Resolve and check ``power.other_loads.trace`` (every bad line listed)."""
    power = scenario.power
    assert power is not None and power.other_loads is not None
    trace = power.other_loads.trace
    if trace is None:
        return scenario
    if not trace.is_absolute() and base_dir is not None:
        trace = (base_dir / trace).resolve()
        other = power.other_loads.model_copy(update={"trace": trace})
        scenario = scenario.model_copy(
            update={"power": power.model_copy(update={"other_loads": other})})
    if not trace.is_file():
        raise ScenarioError([f"{source}: power.other_loads.trace: file not found: {trace}"])
    from simulator.power.otherloads import read_other_loads

    try:
        read_other_loads(trace)
    except ValueError as exc:
        raise ScenarioError(str(exc).splitlines()) from None
    return scenario


class Source(NamedTuple):
    """A scenario source read, overridden and validated."""

    data: dict[str, Any]  # as read, with the overrides applied
    scenario: Scenario
    label: str  # the file's path, or "<mapping>", for messages
    folder: Path  # where relative paths in it start

    def varied(self, values: Iterable[tuple[str, Any]], what: str) -> Scenario:
        """This source with each (dotted key, value) set, validated; ``what`` names the
        variant in messages (a sweep point, a value tried by a search)."""
        return validate_data(apply_overrides(self.data, values), f"{self.label} ({what})",
                             self.folder)


def read_source(source: str | Path | Mapping[str, Any], overrides: Sequence[str] = ()
                ) -> Source:
    """Read a scenario file (or copy a mapping), apply ``key=value`` overrides in order, and
    validate. Raises :class:`ScenarioError` listing every problem."""
    if isinstance(source, Mapping):
        label, folder, data = "<mapping>", Path.cwd(), copy.deepcopy(dict(source))
    else:
        label, folder, data = str(source), Path(source).parent, read_yaml(Path(source))
    data = apply_overrides(data, [parse_override(o) for o in overrides])
    return Source(data, validate_data(data, label, folder, overrides), label, folder)


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override (``key=value`` strings) and validate a scenario file."""
    return read_source(Path(path), list(overrides)).scenario


def load_with_warnings(path: str | Path, overrides: Iterable[str] = ()
                       ) -> tuple[Scenario, list[dict[str, str]]]:
    """:func:`load_scenario`, plus the warnings about the scenario as written
    (:func:`simulator.diagnostics.input_warnings`)."""
    from simulator.diagnostics import input_warnings

    src = read_source(Path(path), list(overrides))
    return src.scenario, input_warnings(src.data, src.scenario)


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every quantity in SI (s, W, J, USD), as written to resolved.yaml."""
    return scenario.model_dump(mode="json")
