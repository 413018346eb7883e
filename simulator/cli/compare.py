"""``dcsim compare``: scenarios (and variants of the first) on common random numbers."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
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
    metadata,
    out,
    output_folder,
    resolved_dict,
    workers,
)
from simulator.errors import ScenarioError
from simulator.report import progress_bar


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
    from simulator.comparison import (
        COLUMNS,
        DEFAULT_PLOT,
        DEFAULT_TABLE,
        compare_rows,
        default_dir,
        labels_for,
        parse_variant,
        run_compare,
        safe,
        shown_metrics,
    )
    from simulator.output import atomic_write_text, replications_csv, write_json, write_yaml
    from simulator.sweepgrid import rows_csv

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
    root_seed = scenarios[0].run.seed if seed is None else seed
    out_dir = output or default_dir(labels)
    with output_folder(out_dir) as folder:
        stage = folder.stage
        total = n * len(scenarios)
        jobs = workers(jobs, total)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        with executor_for(executor, jobs, scheduler) as ex, \
                progress_bar(f"{' vs '.join(labels)}", total, enabled=fmt is Format.table) as advance:
            records = run_compare(scenarios, root_seed, n, ex, advance)
            where = ex.description
        wall = time.perf_counter() - t0
        rows = compare_rows(labels, records)
        table_metrics = shown_metrics(rows, metric or DEFAULT_TABLE)
        plot_metrics = shown_metrics(rows, metric or DEFAULT_PLOT)
        meta = {
            "kind": "compare",
            "labels": labels,
            "files": [str(p) for p in scenario_files],
            "variants": list(variant or []),
            "names": [s.name for s in scenarios],
            "baseline": labels[0],
            "seed": root_seed,
            "replications": n,
            "metrics": table_metrics,
            "plot_metrics": plot_metrics,
        }
        atomic_write_text(stage / "compare.csv", rows_csv([{c: r[c] for c in COLUMNS} for r in rows]))
        write_json(stage / "compare.json", meta)
        for label, scenario, recs in zip(labels, scenarios, records, strict=True):
            atomic_write_text(stage / f"replications-{safe(label)}.csv", replications_csv(recs))
            write_yaml(stage / f"resolved-{safe(label)}.yaml", resolved_dict(scenario))
        write_json(stage / "metadata.json", metadata(root_seed, sys.argv, started, wall, jobs, where))
        if not no_plots:
            from simulator.plots import draw_compare

            draw_compare(rows, meta, stage / "compare.png")
        folder.commit()
    if fmt is Format.json:
        out.print_json(json.dumps(json_safe({**meta, "rows": [r for r in rows
                                                                 if r["metric"] in table_metrics]})))
        return
    from simulator.report import render_compare_table

    render_compare_table(out, meta, rows, table_metrics)
    out.print(f"{n} replications × {len(labels)} scenarios in {wall:.1f} s ({where}); "
              f"results in {out_dir}/", highlight=False)


