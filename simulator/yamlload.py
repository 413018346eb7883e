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
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
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


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _StrictLoader.construct_mapping)


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
    finally:
        loader.dispose()
    if loader.duplicates:
        raise YamlProblems(loader.duplicates)
    if _depth(data) > MAX_DEPTH:
        raise YamlProblems([f"nested more than {MAX_DEPTH} levels deep"])
    return data


def _depth(data: Any) -> int:
    """How deeply mappings and lists nest (iterative: a deep document must not recurse)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            items = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in items)
    return deepest
