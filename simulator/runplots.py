"""The figures of a run, drawn from what its files hold (so ``dcsim plot DIR`` redraws them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.config import Scenario


def draw_run(out_dir: Path, summary: dict[str, Any], changes: list, end_days: float,
             scenario: Scenario, rows: list) -> None:
    """ledger.png, causes.png, timeline.png and, with power, spectrum.png of a run: replication 0's job
    states (``changes``) and power segments (``rows``), with fine-step zooms."""
    from simulator.plots import draw_causes, draw_ledger, draw_timeline
    from simulator.powerplots import draw_power_timeline, draw_spectrum

    draw_ledger(summary, out_dir / "ledger.png")
    draw_causes(summary, out_dir / "causes.png")
    end_s = end_days * 86400.0
    title = f"{summary['scenario']}: replication 0"
    if scenario.power is None or not rows:
        draw_timeline(changes, end_s, out_dir / "timeline.png", f"{title}, job state")
        return
    from simulator.power.coupling import plant_params
    from simulator.power.screening import harmonics_needed
    from simulator.power.windows import (
        HIGH,
        T,
        longest_compute,
        pick_windows,
        segment_spectra,
        solve_window,
    )

    params = plant_params(scenario)
    windows = [solve_window(params, rows, a, b, label)
               for label, a, b in pick_windows(rows, end_s)]
    b = scenario.power.battery
    capacity_mwh = b.count * b.unit_energy / 3.6e9
    draw_power_timeline(changes, rows, windows, end_s, out_dir / "timeline.png",
                        f"{title}: job state, facility power and sources",
                        (b.soc_min * capacity_mwh, b.soc_max * capacity_mwh))
    k = longest_compute(rows, end_s)
    if k is not None and params.bands:
        n = max(harmonics_needed(params.bands, params.period), 1)
        row = rows[k]
        draw_spectrum(segment_spectra(params, row, n), params.bands, row[HIGH],
                      out_dir / "spectrum.png",
                      f"{title}: spectrum of the longest compute segment "
                      f"({row[T] / 3600:.1f} h), as the sources carry it")
