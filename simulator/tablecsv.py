"""Tables of studies as CSV: one row per point, scenario and metric, or evaluation, with
non-finite numbers as empty cells (and back to NaN on reading)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


def rows_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a sweep.csv or compare.csv with numbers as floats (empty cells NaN)."""
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        conv: dict[str, Any] = {}
        for k, v in row.items():
            if v == "":
                conv[k] = math.nan
                continue
            try:
                conv[k] = float(v)
            except ValueError:
                conv[k] = v
        out.append(conv)
    return out
