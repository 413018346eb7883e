"""Distribution objects for inter-failure and repair times.

Each has ``mean`` and ``variance`` (so tests can check samples against them) and draws
vectorised samples from a caller-supplied ``numpy.random.Generator`` (no global state).
All times are in seconds. numpy is imported where samples are drawn: reading a scenario
(``validate``, ``schema``) builds these objects and should not pay for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


class Distribution(Protocol):
    """A non-negative random duration in seconds."""

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float: ...

    def sample_residual(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """What is left of an interval observed at a random time of a stationary sequence."""
        ...


class Draws:
    """Scalar draws from a distribution, fetched from numpy in batches.

    numpy's per-call cost (~1 µs) dwarfs a single draw, and the model draws one repair or
    renewal time per event; batching keeps per-event cost flat. Deterministic for a given
    generator, like direct draws.
    """

    __slots__ = ("_buf", "_dist", "_k", "_rng", "batch")

    def __init__(self, dist: Distribution, rng: np.random.Generator, batch: int = 256):
        self._dist, self._rng, self.batch = dist, rng, batch
        self._buf: list[float] = []
        self._k = 0

    def __call__(self) -> float:
        if self._k >= len(self._buf):
            import numpy as np

            self._buf = np.asarray(self._dist.sample(self._rng, self.batch), dtype=float).tolist()
            self._k = 0
        self._k += 1
        return self._buf[self._k - 1]


@dataclass(frozen=True)
class Fixed:
    """Always ``value`` seconds."""

    value: float

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        if size is None:
            return self.value
        import numpy as np

        return np.full(size, self.value)

    def sample_residual(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Time left at a uniform point inside an interval: U · value."""
        return rng.random(size) * self.value


@dataclass(frozen=True)
class Exponential:
    """Exponential with mean ``mean_s`` seconds."""

    mean_s: float

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def variance(self) -> float:
        return self.mean_s**2

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return rng.exponential(self.mean_s, size)

    def sample_residual(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Time left at a random point of an interval: memoryless, the same exponential."""
        return rng.exponential(self.mean_s, size)


@dataclass(frozen=True)
class Lognormal:
    """Lognormal given its median and mean in seconds (mean > median)."""

    median_s: float
    mean_s: float

    @property
    def mu(self) -> float:
        return math.log(self.median_s)

    @property
    def sigma(self) -> float:
        # mean = median * exp(sigma^2 / 2)
        return math.sqrt(2.0 * math.log(self.mean_s / self.median_s))

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def variance(self) -> float:
        return (math.exp(self.sigma**2) - 1.0) * self.mean_s**2

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return rng.lognormal(self.mu, self.sigma, size)

    def sample_residual(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Time left at a random point of a stationary sequence of intervals: the interval
        seen is length-biased (density x·f(x)/mean), which for a lognormal is the lognormal
        with μ + σ²; the point is uniform inside it. Mean: E[X²]/(2 E[X])."""
        return rng.random(size) * rng.lognormal(self.mu + self.sigma**2, self.sigma, size)


@dataclass(frozen=True)
class Weibull:
    """Weibull with shape ``shape`` (k) and mean ``mean_s`` seconds.

    The scale is set so the mean matches: scale = mean / Γ(1 + 1/k). Shape < 1 is infant
    mortality (decreasing hazard), > 1 wear-out.
    """

    shape: float
    mean_s: float

    @property
    def scale(self) -> float:
        return self.mean_s / math.gamma(1.0 + 1.0 / self.shape)

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def variance(self) -> float:
        k = self.shape
        return self.scale**2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return self.scale * rng.weibull(self.shape, size)

    def sample_residual(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Time to next failure of a unit observed at a random point of a stationary renewal.

        The observed inter-failure interval is length-biased (density x·f(x)/mean); with
        Y = (X/scale)^k ~ Exp(1), the bias makes Y ~ Gamma(1 + 1/k), and the observation point
        is uniform inside the interval: residual = U · scale · Y^{1/k}. Starting units at
        equilibrium makes the failure rate at t = 0 equal its long-run value 1/mean, instead
        of the burst (k < 1) or lull (k > 1) of a fleet of brand-new units.
        """
        k = self.shape
        length = self.scale * rng.gamma(1.0 + 1.0 / k, 1.0, size) ** (1.0 / k)
        return rng.random(size) * length

    def cdf(self, x_s: float) -> float:
        """P(X <= x) for a new unit: 1 - exp(-(x/scale)^k)."""
        return -math.expm1(-((x_s / self.scale) ** self.shape)) if x_s < math.inf else 1.0

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`cdf` (s): scale · (-ln(1 - q))^{1/k}."""
        import numpy as np

        return self.scale * (-np.log1p(-q)) ** (1.0 / self.shape)

    def residual_cdf(self, x_s: float) -> float:
        """P(R <= x) for the stationary residual R of :meth:`sample_residual`: the
        equilibrium law (1/mean)·∫₀ˣ S(t) dt, which for a Weibull is the regularised lower
        incomplete gamma P(1/k, (x/scale)^k)."""
        from scipy.special import gammainc  # only runs that use it pay scipy's import

        return float(gammainc(1.0 / self.shape, (x_s / self.scale) ** self.shape)) \
            if x_s < math.inf else 1.0

    def residual_ppf(self, q: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`residual_cdf` (s): scale · P⁻¹(1/k, q)^{1/k}."""
        from scipy.special import gammaincinv

        return self.scale * gammaincinv(1.0 / self.shape, q) ** (1.0 / self.shape)
