"""The ``dcsim`` command line: parses options, calls the library, prints results.

Exit codes: 0 ok, 1 runtime error, 2 bad input (never a traceback for bad input), 130 after
Ctrl-C, 143 after SIGTERM. Each module below registers its commands on the one app, in the
order ``--help`` lists them.
"""
# isort: skip_file

from simulator.cli.common import app
from simulator.cli import run  # noqa: F401  run, validate, init, schema, plot, report
from simulator.cli import search  # noqa: F401  sweep, optimize
from simulator.cli import compare  # noqa: F401  compare
from simulator.cli import fit  # noqa: F401  fit

__all__ = ["app"]
