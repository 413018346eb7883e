"""First Weibull failures inside the horizon drawn without touching every unit: the thinned
draw has the law of drawing every unit's first failure and keeping those inside."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from simulator.distributions import Weibull
from simulator.failures import THINNED_FROM_UNITS, WeibullStream, _first_inside, resolve_causes
from simulator.loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shape", [0.5, 0.9, 1.0, 2.5])
def test_residual_cdf_is_the_equilibrium_law_and_ppf_inverts_it(shape: float) -> None:
    d = Weibull(shape, 3600.0)
    for x in (10.0, 900.0, 3600.0, 9000.0):
        area, _ = integrate.quad(lambda t: math.exp(-((t / d.scale) ** shape)), 0.0, x)
        assert d.residual_cdf(x) == pytest.approx(area / d.mean_s, rel=1e-9)
        assert d.cdf(x) == pytest.approx(1 - math.exp(-((x / d.scale) ** shape)), rel=1e-12)
        assert float(d.residual_ppf(np.array(d.residual_cdf(x)))) == pytest.approx(x, rel=1e-9)
        assert float(d.ppf(np.array(d.cdf(x)))) == pytest.approx(x, rel=1e-9)


@pytest.mark.parametrize("stationary", [False, True])
def test_thinned_draw_has_the_law_of_the_full_draw(stationary: bool) -> None:
    """Count, times and units of the thinned draw against the law of the full one (fixed
    seeds; a model that drew times from the untruncated law, or units not uniformly, or the
    count from the wrong CDF, fails)."""
    units, d = 2_000_000, Weibull(0.7, 5.0e9)
    horizon = 3.0e7
    p = (d.residual_cdf if stationary else d.cdf)(horizon)
    chosen, times = _first_inside(d, np.random.default_rng(7), units, horizon, stationary)
    assert abs(len(times) - units * p) < 4 * math.sqrt(units * p * (1 - p))
    assert len(set(chosen.tolist())) == len(chosen)
    assert times.max() <= horizon
    truncated = (lambda x: np.array([d.residual_cdf(v) for v in x]) / p) if stationary \
        else (lambda x: -np.expm1(-((np.asarray(x) / d.scale) ** d.shape)) / p)
    assert stats.kstest(times, truncated).pvalue > 1e-3
    counts = np.bincount(chosen * 10 // units, minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-3
    rng = np.random.default_rng(8)
    full = d.sample_residual(rng, units) if stationary else np.asarray(d.sample(rng, units))
    assert stats.ks_2samp(times, full[full <= horizon]).pvalue > 1e-3


def test_thinned_draw_costs_the_failures_not_the_units() -> None:
    """A trillion units: a per-unit draw would need terabytes, the thinned one a few
    thousand numbers."""
    d = Weibull(0.8, 1.0e19)
    chosen, times = _first_inside(d, np.random.default_rng(1), 10**12, 3.0e7, False)
    assert 0 < len(chosen) < 10_000
    assert chosen.max() < 10**12 and times.max() <= 3.0e7


def test_a_stream_past_the_threshold_draws_thinned_and_renews_as_before() -> None:
    base = resolve_causes(load_scenario(ROOT / "scenarios" / "llama3_16k_h100.yaml"))[0]
    cause = dataclasses.replace(base, units=THINNED_FROM_UNITS * 10, weibull_shape=0.8,
                                rate_per_s=1.0 / (4.0e4 * 86400 * 365))
    s = WeibullStream(0, cause, np.random.default_rng(3), True, 3.0e7)
    assert 0 < len(s._times) < 1000
    assert s._times == sorted(s._times)
    t, _, unit = s.pop()
    s.renew(unit, t + 60.0)
    assert s.peek() >= t
