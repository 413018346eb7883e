"""The examples run as a user would run them (few replications, a short job)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_plan_site_example_runs_and_finds_a_plan() -> None:
    env = {**os.environ, "DCSIM_EXAMPLE_REPLICATIONS": "2", "DCSIM_EXAMPLE_WORK": "2 d"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "plan_site.py")],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    units = int(lines[0].split(": ")[1].split()[0])
    assert 0 < units < 200  # the site trips without storage and is fine with enough
    assert lines[1].startswith("best checkpoint interval: ")
    assert "0 trips" in lines[2]
