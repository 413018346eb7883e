"""The error every bad input becomes: a list of ``source: key: message`` lines (the command
line prints them and exits 2). Kept free of heavy imports, so the command line starts fast."""

from __future__ import annotations


class ScenarioError(Exception):
    """Bad input: a list of ``file: key: message`` problems."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class WorkerDied(RuntimeError):
    """A worker process ended without returning its replication (killed from outside, e.g. by
    the out-of-memory killer): the run cannot finish (the command line exits 1)."""
