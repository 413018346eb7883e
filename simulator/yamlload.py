"""Reading YAML scenario files safely: regular files of bounded size, the C-accelerated safe
loader where PyYAML has it, and duplicate keys refused (YAML itself lets the last one win
silently, so ``interval: 1 h`` then ``interval: 1 min`` would run at 1 min)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 8 * 1024 * 1024  # a scenario is a few kB; a trace belongs in its own file
MAX_DEPTH = 64  # a scenario nests a handful of levels
MAX_VALUES = 1_000_000  # values of the document with every alias expanded
_MERGE_TAG = "tag:yaml.org,2002:merge"
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlProblems(Exception):
    """Problems found while reading, one ``line N: message`` each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, noting every mapping key given twice."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        # keys a merge (<<: *anchor) brings in may be overridden: only explicit keys count
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        self.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _ in explicit:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the constructor reports it
                continue
            if first is not None:
                self.duplicates.append(f"line {line}: duplicate key {key!r} (first given on "
                                       f"line {first}; YAML would silently keep the last)")
            else:
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:  # Python refuses integers of over 4,300 digits
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer too long to read ({exc})", node.start_mark) from None


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _StrictLoader.construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The text of a regular file (not a FIFO, device or folder) of at most ``max_bytes``,
    as UTF-8 with or without a byte-order mark. Raises OSError or ValueError with a reason."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise ValueError("is a directory, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("is not a regular file (a pipe or a device?)")
    if st.st_size > max_bytes:
        raise ValueError(f"is {st.st_size:,} bytes; at most {max_bytes:,} are read")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"is over {max_bytes:,} bytes")
    return data.decode("utf-8-sig")


def load(text: str) -> Any:
    """Parse YAML text: yaml.YAMLError for malformed text, YamlProblems for duplicate keys or
    nesting too deep to read."""
    loader = _StrictLoader(text)
    try:
        data = loader.get_single_data()
    except RecursionError:
        raise YamlProblems(["nested too deeply to read"]) from None
    except yaml.YAMLError as exc:
        # PyYAML 6.0.4 and later stop deep nesting in the scanner, before any recursion
        if "nesting depth" in str(getattr(exc, "problem", "") or ""):
            raise YamlProblems(["nested too deeply to read"]) from None
        raise
    finally:
        loader.dispose()
    if loader.duplicates:
        raise YamlProblems(loader.duplicates)
    _measure(data)
    return data


def _children(node: dict | list) -> Any:
    return node.values() if isinstance(node, dict) else node


def _measure(data: Any) -> None:
    """YamlProblems if mappings and lists nest more than MAX_DEPTH deep, if aliases expand the
    document past MAX_VALUES values (a "billion laughs" file is a few hundred bytes), or if an
    alias refers to a collection that contains it.

    Aliases make the document a graph whose nodes are shared: each collection is measured
    once (height, expanded size), so the work grows with the file, not with its expansion.
    Iterative, since a deep document must not recurse.
    """
    memo: dict[int, tuple[int, int]] = {}  # id -> (height in levels, values when expanded)
    path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        node, level, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        if done:
            path.discard(key)
            height, size = 1, 1
            for child in _children(node):
                h, n = memo.get(id(child), (0, 1)) if isinstance(child, dict | list) else (0, 1)
                height, size = max(height, 1 + h), size + n
            memo[key] = (height, size)
            if size > MAX_VALUES:
                raise YamlProblems([f"aliases expand the document to over {MAX_VALUES:,} "
                                    f"values"])
            continue
        if key in memo:
            if level + memo[key][0] - 1 > MAX_DEPTH:
                raise YamlProblems([f"nested more than {MAX_DEPTH} levels deep"])
            continue
        if key in path:
            raise YamlProblems(["an alias refers to a mapping or list that contains it"])
        if level > MAX_DEPTH:
            raise YamlProblems([f"nested more than {MAX_DEPTH} levels deep"])
        path.add(key)
        stack.append((node, level, True))
        stack.extend((child, level + 1, False) for child in _children(node)
                     if isinstance(child, dict | list))


def key_at(text: str, line: int, column: int) -> str | None:
    """The dotted key path of the value that starts at ``line``/``column`` (0-based) of a YAML
    text, for naming the key of a value that could not be read; None if not found."""
    try:
        root = yaml.compose(text, Loader=_Base)
    except yaml.YAMLError:
        return None
    stack: list[tuple[Any, str]] = [(root, "")]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.start_mark.line == line and node.start_mark.column == column and path:
            return path
        if isinstance(node, yaml.MappingNode):
            stack.extend((v, f"{path}.{k.value}" if path else str(k.value))
                         for k, v in node.value if isinstance(k, yaml.ScalarNode))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(node.value))
    return None

