"""Picking one of several Poisson streams by its share of their total rate.

The superposition of independent Poisson streams of rates r_1 … r_n is a Poisson stream of
rate Σ r_i whose events belong to stream i with probability r_i / Σ r_j. One uniform u in
[0, 1) picks it: i is where u falls among the cumulative shares, and where it falls inside
that share, (u − c_{i−1}) / (c_i − c_{i−1}), is again uniform on [0, 1), so it can pick a
unit within the stream too.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class RateShares:
    """Cumulative shares of some rates (any one unit, e.g. 1/s), computed once."""

    __slots__ = ("_cum", "total")

    def __init__(self, rates: Sequence[float] | np.ndarray):
        import numpy as np  # here: the failure model's readers need not load it

        arr = np.asarray(rates, dtype=float)
        #: Σ rates, in the rates' unit
        self.total = float(arr.sum())
        self._cum: list[float] = (np.cumsum(arr) / self.total).tolist() if self.total > 0 else []
        if self._cum:
            self._cum[-1] = 1.0  # round-off must not leave a gap below u = 1

    def __len__(self) -> int:
        return len(self._cum)

    def pick(self, u: float) -> int:
        """The index whose share holds the uniform ``u`` in [0, 1)."""
        cum = self._cum
        return min(bisect.bisect_right(cum, u), len(cum) - 1) if len(cum) > 1 else 0

    def pick_within(self, u: float) -> tuple[int, float]:
        """(index, where ``u`` falls within its share, uniform in [0, 1))."""
        j = self.pick(u)
        cum = self._cum
        lo = cum[j - 1] if j > 0 else 0.0
        return j, (u - lo) / (cum[j] - lo)
