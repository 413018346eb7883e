"""Picking a stream by its share of the total rate, and a unit within it, from one uniform."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulator.shares import RateShares


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.floats(1e-9, 1e3), min_size=1, max_size=12),
       u=st.floats(0.0, 1.0, exclude_max=True))
def test_pick_is_where_u_falls_among_the_cumulative_shares(rates: list[float], u: float) -> None:
    shares = RateShares(rates)
    j, frac = shares.pick_within(u)
    cum = np.cumsum(rates) / sum(rates)
    lo = cum[j - 1] if j > 0 else 0.0
    assert lo - 1e-12 <= u
    assert u < cum[j] + 1e-12 or j == len(rates) - 1
    assert 0.0 <= frac <= 1.0 + 1e-9
    assert shares.pick(u) == j


def test_picks_follow_the_shares_and_the_rest_is_uniform() -> None:
    rates = [5.0, 1.0, 0.0, 3.0, 1.0]
    shares = RateShares(rates)
    assert shares.total == 10.0 and len(shares) == 5
    u = np.random.default_rng(4).random(20_000)
    picked = [shares.pick_within(x) for x in u]
    counts = np.bincount([j for j, _ in picked], minlength=5)
    assert counts[2] == 0  # a zero rate is never picked
    expected = 20_000 * np.array([5, 1, 3, 1]) / 10
    assert stats.chisquare(counts[[0, 1, 3, 4]], expected).pvalue > 1e-3
    assert stats.kstest([f for j, f in picked if j == 0], "uniform").pvalue > 1e-3


def test_no_rate_picks_nothing_but_is_safe() -> None:
    shares = RateShares([0.0, 0.0])
    assert shares.total == 0.0 and len(shares) == 0
