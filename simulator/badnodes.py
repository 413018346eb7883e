"""Bad nodes: machines with a systematic defect that fail ``multiplier`` m times as often.

A bad node's GPU- and node-level causes fail at m·λ instead of λ. The ordinary failure
streams already give every unit its λ; this module adds, per bad node, a Poisson stream of
the extra (m − 1)·Σ_c λ_c·u_c (u_c: the node's units of cause c, e.g. 8 GPUs), whose events
pick a cause by its share of that rate and a unit of the node. The superposition is exactly
rate m·λ per unit. Rack-level causes are not a node's defect and are left alone.

A node starts bad with probability ``fraction`` (exactly round(fraction × nodes) of them,
drawn at random per replication), and a repair that fails (probability 1 − ``repair_success``)
returns the node to service bad. So over a long run the failures of a fleet with N nodes,
f bad, are Σ_c λ_c·u_c·N·(1 − f + f·m) per unit time (while no node is out for repair).
Cost per extra failure O(1); one pending event per bad node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import simpy

from simulator.failures import CauseSpec
from simulator.shares import RateShares


class BadNodes:
    """The bad nodes of one replication and their extra failures.

    Args:
        causes: the fleet's causes (their index is what ``apply`` takes).
        multiplier: m, how many times as often a bad node fails.
        rng: the random stream of bad nodes (which start bad, extra failures).
        apply: called with (cause index, unit) for each extra failure.
    """

    def __init__(self, env: simpy.Environment, causes: Sequence[CauseSpec], n_nodes: int,
                 multiplier: float, rng: np.random.Generator,
                 apply: Callable[[int, int], None]):
        self.env, self._rng, self._apply = env, rng, apply
        self.bad: set[int] = set()
        self.retired: set[int] = set()  # nodes whose stream stops (out of service for good)
        # per node: the causes that hit it, their extra rates, and where its units start
        self._by_group: dict[int, tuple[list[int], RateShares]] = {}
        self._specs = list(causes)
        self._multiplier = multiplier
        self._n_nodes = n_nodes
        rates: dict[int, tuple[list[int], list[float]]] = {}
        for i, c in enumerate(causes):
            if c.per in ("gpu", "node") and c.rate_per_s > 0:
                per_node = c.gpus_per_node if c.per == "gpu" else 1
                idx, group_rates = rates.setdefault(c.group, ([], []))
                idx.append(i)
                group_rates.append((multiplier - 1.0) * c.rate_per_s * per_node)
        self._by_group = {g: (idx, RateShares(r)) for g, (idx, r) in rates.items()}

    def start_bad(self, fraction: float, group_of: Sequence[int]) -> None:
        """Mark round(fraction × nodes) nodes bad, drawn without replacement."""
        k = round(fraction * self._n_nodes)
        if k <= 0:
            return
        for node in self._rng.choice(self._n_nodes, size=k, replace=False).tolist():
            self.make_bad(node, group_of[node])

    def make_bad(self, node: int, group: int) -> None:
        """The node is bad from now on (a defect, or a repair that did not fix it)."""
        if node in self.bad or group not in self._by_group or self._multiplier <= 1.0:
            return
        self.bad.add(node)
        self._next(node, group)

    def _next(self, node: int, group: int) -> None:
        total = self._by_group[group][1].total
        if total <= 0:
            return
        gap = float(self._rng.exponential(1.0 / total))
        self.env.timeout(gap).callbacks.append(lambda _e: self._fire(node, group))

    def _fire(self, node: int, group: int) -> None:
        if node in self.retired:
            return
        idx, shares = self._by_group[group]
        cause = idx[shares.pick(float(self._rng.random()))]
        spec = self._specs[cause]
        local = node - spec.node_offset
        unit = local * spec.gpus_per_node + int(self._rng.integers(spec.gpus_per_node)) \
            if spec.per == "gpu" else local
        self._apply(cause, unit)
        self._next(node, group)
