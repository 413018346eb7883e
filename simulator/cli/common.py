"""What every ``dcsim`` command shares: the Typer app, the common options, loading and
warning, the output folder, the executor, and the consoles. The commands live beside it
(:mod:`simulator.cli.run`, :mod:`simulator.cli.search`, :mod:`simulator.cli.compare`).

Exit codes: 0 ok, 1 runtime error, 2 bad input (never a traceback for bad input).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from simulator.errors import ScenarioError, WorkerDied
from simulator.limits import MAX_REPLICATIONS
from simulator.outdir import OutputError, OutputFolder

if TYPE_CHECKING:
    from simulator.config import Scenario

# the library is imported inside each command, so that --help and errors answer at once


def load_scenario(path: Path, sets: list[str] | None = None) -> Scenario:
    from simulator.loader import load_scenario as load

    return load(path, sets or [])


def load_with_warnings(path: Path, sets: list[str]) -> tuple[Scenario, list[dict[str, str]]]:
    from simulator.loader import load_with_warnings as load

    return load(path, sets)


class _FlagsWithoutPlaceholder:
    """Help lists on/off flags bare: typer shows them with a ``<bool>`` placeholder, which
    reads as if they took a value (they are refused with one)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class Command(_FlagsWithoutPlaceholder, TyperCommand):
    pass


class _Group(_FlagsWithoutPlaceholder, TyperGroup):
    pass


app = typer.Typer(
    cls=_Group,
    name="dcsim",
    help="Data-center scenario simulator for GPU training clusters.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from simulator import __version__

        typer.echo(f"dcsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", help="print the version and exit", callback=_version,
        is_eager=True)] = False) -> None:
    """Data-center scenario simulator for GPU training clusters."""


# a fixed width off a terminal keeps piped and logged tables readable
out = Console(width=None if sys.stdout.isatty() else 100)
err = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    json = "json"


class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


def bad_input(problems: list[str]) -> typer.Exit:
    for line in problems:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def load(path: Path, sets: list[str] | None,
          strict: bool = False) -> tuple[Scenario, list[dict[str, str]]]:
    """The scenario and its input warnings (with ``strict``, printed as errors: exit 2)."""
    try:
        scenario, warnings = load_with_warnings(path, sets or [])
    except ScenarioError as exc:
        raise bad_input(exc.problems) from None
    if strict:
        warn(warnings, strict)
    return scenario, warnings


def warn(warnings: list[dict[str, str]], strict: bool) -> None:
    """Print warnings on stderr; with ``--strict`` they are errors (exit 2)."""
    for w in warnings:
        err.print(f"{'error' if strict else 'warning'}: {w['message']}", markup=False,
                  highlight=False, soft_wrap=True)
    if strict and warnings:
        raise typer.Exit(2)


Replications = Annotated[int | None, typer.Option(
    "-r", "--replications", min=1, max=MAX_REPLICATIONS,
    help="replications (default: run.replications)")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, callback=lambda v: _seed_ok(v),
                                          help="root seed (default: run.seed)")]


def _seed_ok(value: int | None) -> int | None:
    if value is not None and value >= 2**128:
        raise typer.BadParameter("must be below 2**128, as run.seed")
    return value
Output = Annotated[Path | None, typer.Option("-o", "--output",
                                             help="output folder (default: results/<name>/)")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="override a key: key.path=value")]
Jobs = Annotated[int | None, typer.Option(
    "-j", "--jobs", min=1, help="local worker processes (default: all cores; results do not depend on it)")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="skip the PNG plots")]
Parquet = Annotated[bool, typer.Option(
    "--parquet", help="also write the table as Parquet (needs pandas and pyarrow)")]


def need_parquet(enabled: bool) -> None:
    """--parquet without its libraries is bad input, said before anything runs."""
    if not enabled:
        return
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise bad_input(["--parquet needs pandas and pyarrow: pip install 'dcsim[parquet]'"]) \
            from None
Fmt = Annotated[Format, typer.Option("--format", help="print a table or JSON")]
ExecutorOpt = Annotated[ExecutorKind, typer.Option(
    "--executor", help="where replications run: local processes, or a Dask cluster "
                       "(needs the dask extra); results do not depend on it")]
Scheduler = Annotated[str | None, typer.Option(
    "--scheduler", metavar="ADDR",
    help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default with --executor dask: "
         "a local Dask cluster of -j workers)")]
Strict = Annotated[bool, typer.Option(
    "--strict", help="treat warnings (unit slips, a plant too small, a starved job, a horizon "
                     "reached...) as errors: exit 2")]
Metrics = Annotated[list[str] | None, typer.Option(
    "--metric", help="metric to show and plot (repeat for several)")]


def executor_for(kind: ExecutorKind, jobs: int, scheduler: str | None) -> Any:
    from simulator.executors import ExecutorError, make_executor

    try:
        return make_executor(kind.value, jobs, scheduler)
    except ExecutorError as exc:
        raise bad_input([str(exc)]) from None


@contextlib.contextmanager
def output_folder(out_dir: Path, keep_partial: bool = False) -> Iterator[OutputFolder]:
    """The output folder, checked and locked before any simulation; files go to its stage and
    appear together at :meth:`OutputFolder.commit`."""
    folder = OutputFolder(out_dir, keep_partial)
    try:
        folder.__enter__()
    except OutputError as exc:
        raise bad_input([str(exc)]) from None
    try:
        yield folder
    except KeyboardInterrupt:
        kept = (" (finished sweep points are kept: run the same command again to resume)"
                if keep_partial else "")
        err.print(f"stopped before the end: {out_dir} keeps its previous contents{kept}",
                  markup=False, highlight=False)
        raise
    except WorkerDied as exc:
        kept = "; finished sweep points are kept" if keep_partial else ""
        err.print(f"dcsim: {exc}; {out_dir} keeps its previous contents{kept}", markup=False,
                  highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"{out_dir}: cannot write the results: {exc.strerror or exc}; the previous "
                  f"contents of the folder are unchanged", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        folder.__exit__(None, None, None)


def workers(jobs: int | None, tasks: int) -> int:
    """Worker processes: at most one per core (more only add memory and start-up time; the
    results do not depend on it) and one per task."""
    cores = os.cpu_count() or 1
    if jobs is not None and jobs > cores:
        err.print(f"note: -j {jobs} is more than this machine's {cores} cores; using {cores} "
                  f"worker processes", highlight=False)
    return max(1, min(jobs or cores, cores, tasks))


def check_metrics(metrics: list[str] | None) -> None:
    from simulator.records import METRICS

    bad = [m for m in metrics or [] if m not in METRICS]
    if bad:
        raise bad_input([f"--metric {m}: unknown metric (use one of: {', '.join(METRICS)})"
                          for m in bad])




def json_safe(data: Any) -> Any:
    from simulator.output import _clean

    return _clean(data)




if os.environ.get("DCSIM_DEBUG"):  # pragma: no cover
    app.pretty_exceptions_enable = True

