"""``dcsim compare``: scenarios (and variants of the first) on common random numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simulator.cli.common import (
    Command,
    ExecutorKind,
    ExecutorOpt,
    Fmt,
    Format,
    Jobs,
    Metrics,
    NoPlots,
    Replications,
    Scheduler,
    Seed,
    Sets,
    app,
    bad_input,
    check_metrics,
    executor_for,
    json_safe,
    load_scenario,
    out,
    output_folder,
    workers,
)
from simulator.errors import ScenarioError


@app.command(cls=Command)
def compare(
    scenario_files: Annotated[list[Path], typer.Argument(metavar="A.yaml B.yaml ...")],
    variant: Annotated[list[str] | None, typer.Option(
        "--variant", metavar="'LABEL: key=value; ...'",
        help="also compare the first file with these overrides, under LABEL (repeat for "
             "several), e.g. 'restart 2 min: job.restart.time=2 min'")] = None,
    metric: Metrics = None,
    replications: Replications = None,
    seed: Seed = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="output folder (default: results/compare-<a>-vs-<b>/)")] = None,
    set_: Sets = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = ExecutorKind.local,
    scheduler: Scheduler = None,
    no_plots: NoPlots = False,
    fmt: Fmt = Format.table,
) -> None:
    """Compare scenarios on common random numbers: replication i of every scenario uses the
    same seeds. Seed and replications come from the first file unless given. Differences
    against the first scenario have paired 95% CIs."""
    from simulator.comparison import default_dir, labels_for, parse_variant
    from simulator.studies import compare as run_comparison

    check_metrics(metric)
    problems: list[str] = []
    scenarios = []
    for path in scenario_files:
        try:
            scenarios.append(load_scenario(path, set_ or []))
        except ScenarioError as exc:
            problems += exc.problems
    labels = labels_for(scenario_files, scenarios) if scenarios else []
    for text in variant or []:
        try:
            label, sets = parse_variant(text)
            scenarios.append(load_scenario(scenario_files[0], (set_ or []) + sets))
            labels.append(label)
        except ScenarioError as exc:
            problems += [f"--variant {text!r}: {p}" if not p.startswith("--variant") else p
                         for p in exc.problems]
    if len(set(labels)) != len(labels):
        problems.append(f"--variant: labels must differ from each other and from the files' "
                        f"({', '.join(labels)})")
    if problems:
        raise bad_input(problems)
    n = replications or scenarios[0].run.replications
    out_dir = output or default_dir(labels)
    with output_folder(out_dir) as folder:
        jobs = workers(jobs, n * len(scenarios))
        from simulator.output import RunInfo
        from simulator.report import progress_bar

        info = RunInfo(jobs)  # the wall time includes starting and stopping the executor
        with executor_for(executor, jobs, scheduler) as ex, \
                progress_bar(f"{' vs '.join(labels)}", n * len(scenarios),
                             enabled=fmt is Format.table) as advance:
            result = run_comparison(dict(zip(labels, scenarios, strict=True)), n, seed, jobs, ex,
                                    advance, metric, [str(p) for p in scenario_files],
                                    list(variant or []), info)
        info.stop()
        result.write(folder.stage, not no_plots)
        folder.commit()
    meta = result.meta()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "rows": [
            r for r in result.rows if r["metric"] in result.metrics]})))
        return
    from simulator.report import render_compare_table

    render_compare_table(out, meta, result.rows, result.metrics)
    out.print(f"{n} replications × {len(labels)} scenarios in {result.info.wall_s:.1f} s "
              f"({result.info.where}); results in {out_dir}/", highlight=False)
