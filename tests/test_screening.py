"""Oscillation screening: harmonic amplitudes against closed forms and the fine-step FFT, band
peaks, limit violations, and the metrics end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import invoke, ok, scenario_dict
from helpers_power import MW, plant, run_event, run_fine

from simulator.power.load import Trapezoid
from simulator.power.screening import Band, band_peaks, fft_amplitudes, harmonics
from simulator.power.waveform import Pwl


def _sinc(x: np.ndarray) -> np.ndarray:
    return np.sinc(x)  # numpy's is the normalised sin(πx)/(πx)


@pytest.mark.parametrize("duty", [0.5, 0.7, 0.25])
def test_square_wave_harmonics_are_2dp_sin_pi_n_d_over_pi_n(duty: float) -> None:
    T, dp = 2.0, 57.5 * MW
    v = Pwl.trapezoid(57.5 * MW, 115 * MW, duty * T, 0.0, T)
    f, a = harmonics(v, 60)
    n = np.arange(1, 61)
    expect = 2 * dp * np.abs(np.sin(np.pi * n * duty)) / (np.pi * n)
    assert np.allclose(f, n / T)
    assert np.allclose(a, expect, rtol=1e-9, atol=1e-6 * dp)


@pytest.mark.parametrize("edge", [0.05, 0.1, 0.3])
def test_trapezoid_harmonics_are_a_product_of_two_sincs(edge: float) -> None:
    T, dp, t_high = 2.0, 40 * MW, 1.2
    v = Pwl.trapezoid(60 * MW, 100 * MW, t_high, edge, T)
    _, a = harmonics(v, 80)
    n = np.arange(1, 81)
    w = t_high + edge
    expect = 2 * dp * (w / T) * np.abs(_sinc(n * w / T)) * np.abs(_sinc(n * edge / T))
    assert np.allclose(a, expect, rtol=1e-9, atol=1e-6 * dp)
    # and the discrete transform of a fine sampling agrees (1 %)
    samples = np.array([v(t) for t in np.arange(0, T, 1e-4)])
    _, fa = fft_amplitudes(samples, 1e-4, T)
    for k in (1, 2, 3, 7):
        assert fa[k] == pytest.approx(expect[k - 1], rel=1e-2, abs=1e-4 * dp)


def test_band_peak_is_the_largest_harmonic_inside_the_band() -> None:
    T, dp = 2.0, 10 * MW
    v = Pwl.trapezoid(0.0, dp, 1.0, 0.0, T)  # 50 % duty: even harmonics vanish
    first, second, third = (2 * dp / math.pi, 0.0, 2 * dp / (3 * math.pi))
    bands = (Band(0.4, 0.6), Band(0.9, 1.1), Band(1.4, 1.6), Band(0.9, 1.6), Band(30.0, 40.0))
    got = band_peaks(v, bands)
    assert got[0] == pytest.approx(first, rel=1e-9)
    assert got[1] == pytest.approx(second, abs=1e-6 * dp)
    assert got[2] == pytest.approx(third, rel=1e-9)
    assert got[3] == pytest.approx(third, rel=1e-9)  # n = 2 and 3 inside: the larger
    assert got[4] > 0  # harmonics 60-80 of a square wave
    assert band_peaks(Pwl.constant(5 * MW, T), bands) == (0.0,) * 5


def test_a_limit_in_percent_scales_with_the_peak_load() -> None:
    assert Band(0.1, 20, limit_fraction=0.01).limit(100 * MW) == pytest.approx(1 * MW)
    assert Band(0.1, 20, limit_w=2 * MW).limit(100 * MW) == 2 * MW
    assert Band(0.1, 20).limit(100 * MW) == math.inf


def _delayed_battery_plant(**kw: float):
    """A tie at its cap and generators behind a battery that answers 50 ms late: both sources
    see the pulses the delay lets through at every edge of the iteration."""
    base = dict(grid_cap=15 * MW, gen_cap=200 * MW, response_s=0.05, bat_power=150 * MW,
                bands=(Band(0.1, 20.0, limit_fraction=0.01),))
    base.update(kw)
    return plant(**base)


def test_event_level_band_amplitudes_match_the_fft_of_the_fine_step_series() -> None:
    params = _delayed_battery_plant()
    swing = Trapezoid(57.5 * MW, 115 * MW, 1.3, 0.1, 2.0)
    plan = [(40.0, swing)]
    solver, _ = run_event(params, plan, rest=swing)
    peaks = solver.metrics.band_peak_w
    fine = run_fine(params, plan, rest=swing, dt=1e-3, keep_every=1)
    # the last 10 whole periods (the dispatch has settled), as the sources carry them
    keep = fine.t >= 40.0 - 20.0 - 1e-9
    n = round(20.0 / 1e-3)
    grid = fine.grid[keep][-n:]
    gens = (fine.load - fine.grid - fine.battery)[keep][-n:]
    for name, series in (("grid", grid), ("generators", gens)):
        f, a = fft_amplitudes(series, 1e-3, 2.0)
        inside = (f >= 0.1) & (f <= 20.0) & (np.abs(f * 2.0 - np.round(f * 2.0)) < 1e-6)
        fft_peak = a[inside].max()
        assert peaks[f"{name} 0.1-20 Hz"] == pytest.approx(fft_peak, rel=0.01), name
    assert peaks["generators 0.1-20 Hz"] > 1 * MW  # the pulses are real, not round-off


def test_violation_time_is_the_compute_time_above_the_limit() -> None:
    swing = Trapezoid(57.5 * MW, 115 * MW, 1.3, 0.1, 2.0)
    idle = Trapezoid.constant(57.5 * MW)
    plan = [(100.0, swing), (50.0, idle), (30.0, swing)]
    strict = _delayed_battery_plant()
    solver, _ = run_event(strict, plan, rest=swing)
    assert solver.metrics.band_violation_s == pytest.approx(130.0)
    loose = _delayed_battery_plant(bands=(Band(0.1, 20.0, limit_w=50 * MW),))
    solver, _ = run_event(loose, plan, rest=swing)
    assert solver.metrics.band_violation_s == 0.0
    # a battery that answers at once leaves the sources nothing to see
    quick = _delayed_battery_plant(response_s=0.0)
    solver, _ = run_event(quick, plan, rest=swing)
    assert solver.metrics.band_violation_s == 0.0
    assert solver.metrics.band_peak_w["generators 0.1-20 Hz"] < 1e-3 * MW
    assert solver.metrics.band_peak_w["facility 0.1-20 Hz"] > 20 * MW


def test_screening_reaches_summary_csv_and_table(tmp_path) -> None:
    data = scenario_dict(mtbf_h=None, nodes=64, work="2 h")
    data["power"] = {"grid": {"capacity": "2 MW"}, "generators": {"capacity": "10 MW"},
                     "battery": {"count": 8, "response_time": "50 ms"},
                     "screening": {"bands": [{"low": "0.1 Hz", "high": "20 Hz", "limit": "1 %"},
                                             {"low": 0.05, "high": 1, "limit": "50 MW"}]}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(data))
    res = ok(invoke("run", path, "-o", tmp_path / "out", "-r", 2))
    spectrum = tmp_path / "out" / "spectrum.png"
    assert spectrum.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    spectrum.unlink()
    ok(invoke("plot", tmp_path / "out"))  # redrawn from the files
    assert spectrum.exists()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    bands = summary["oscillation_band_mw"]
    assert set(bands) == {f"{s} {b}" for s in ("facility", "grid", "generators")
                          for b in ("0.1-20 Hz", "0.05-1 Hz")}
    assert bands["facility 0.1-20 Hz"]["mean"] > bands["generators 0.1-20 Hz"]["mean"] > 0
    assert summary["oscillation_violation_hours"]["mean"] > 0
    header = (tmp_path / "out" / "replications.csv").read_text().splitlines()[0]
    assert "oscillation_band_mw.generators 0.1-20 Hz" in header
    assert "generators 0.1-20 Hz (MW, largest harmonic)" in res.output
