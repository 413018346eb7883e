"""Start-up stays light: the commands a user runs to check a file or read the schema do not
load the simulation's heavy libraries (numpy alone costs about 0.1 s to import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "scipy", "simpy", "matplotlib", "pandas", "rich.progress")
PROBE = """
import json, sys
sys.argv = ["dcsim", *sys.argv[1:]]
from simulator.cli import app
try:
    app()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["schema"],
                                  ["validate", str(ROOT / "scenarios" / "100k_h100.yaml")]])
def test_light_commands_do_not_import_the_heavy_libraries(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []
