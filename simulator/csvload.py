"""Reading CSV input files (failure traces, other-load series) as safely as scenario files:
regular files of bounded size, UTF-8 with or without a byte-order mark, and every problem as a
``ValueError`` that names the file (and the line where there is one)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from simulator.yamlload import read_text

#: a trace line is about 25 bytes: this is some ten million events
MAX_CSV_BYTES = 256 * 1024 * 1024


def read_csv(path: Path, max_bytes: int = MAX_CSV_BYTES) -> list[list[str]]:
    """The rows of a CSV file; ValueError naming ``path`` if it cannot be read as one."""
    try:
        text = read_text(path, max_bytes)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: not a CSV row ({exc})") from None


def data_rows(rows: list[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, row)`` of the data rows: blank lines, ``#`` comments and a first-line
    header starting with ``time`` left out."""
    for lineno, row in enumerate(rows, start=1):
        if not row or row[0].strip().startswith("#"):
            continue
        if lineno == 1 and row[0].strip().lower() == "time":
            continue
        yield lineno, row

