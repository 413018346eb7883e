"""The periodic trapezoid: the shape of a synchronous job's power over one iteration (W, s)."""

from __future__ import annotations


class Trapezoid:
    """A periodic load: ``high`` for ``t_high``, a linear fall over ``t_fall``, ``low`` for the
    rest of the period but the rise, then a linear rise back to ``high`` (W, s).

    ``t_edge`` is the mean of the rise and fall times (the only edge time the level statistics,
    :meth:`mean` and :meth:`above`, depend on); ``t_fall`` defaults to it (symmetric edges) and
    the rise lasts ``2·t_edge − t_fall``. A constant load has ``low == high``. Immutable; mean
    and shape are precomputed because the event-level solver evaluates them on every segment.
    """

    __slots__ = ("high", "is_constant", "low", "mean", "period", "t_edge", "t_fall", "t_high",
                 "t_low", "t_rise")

    def __init__(self, low: float, high: float, t_high: float = 0.0, t_edge: float = 0.0,
                 period: float = 1.0, t_fall: float | None = None):
        self.low, self.high = low, high
        self.t_high, self.t_edge, self.period = t_high, t_edge, period
        self.t_fall = t_edge if t_fall is None else t_fall
        self.t_rise = 2.0 * t_edge - self.t_fall
        self.is_constant = high <= low
        self.t_low = period - t_high - 2.0 * t_edge
        self.mean = low if self.is_constant else (
            low + (high - low) * (t_high + t_edge) / period)

    @property
    def _key(self) -> tuple:
        return (self.low, self.high, self.t_high, self.t_edge, self.period, self.t_fall)

    def __repr__(self) -> str:
        fall = "" if self.t_fall == self.t_edge else f", t_fall={self.t_fall!r}"
        return (f"Trapezoid(low={self.low!r}, high={self.high!r}, t_high={self.t_high!r}, "
                f"t_edge={self.t_edge!r}, period={self.period!r}{fall})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trapezoid) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    @staticmethod
    def constant(level_w: float) -> Trapezoid:
        return Trapezoid(level_w, level_w)

    def clip_below(self, level_w: float) -> Trapezoid:
        """max(load, level): the shape seen above a floor (power floor, grid cap)."""
        if level_w <= self.low:
            return self
        if level_w >= self.high:
            return Trapezoid.constant(level_w)
        f = (self.high - level_w) / (self.high - self.low)
        return Trapezoid(level_w, self.high, self.t_high, self.t_edge * f, self.period,
                         self.t_fall * f)

    def shift(self, delta_w: float) -> Trapezoid:
        return Trapezoid(self.low + delta_w, self.high + delta_w, self.t_high, self.t_edge,
                         self.period, self.t_fall)

    def scale(self, factor: float) -> Trapezoid:
        return Trapezoid(self.low * factor, self.high * factor, self.t_high, self.t_edge,
                         self.period, self.t_fall)

    def above(self, g: float) -> float:
        """Mean of max(load − g, 0) over a period (W)."""
        lo, hi = self.low, self.high
        if g >= hi:
            return 0.0
        if g <= lo:
            return self.mean - g
        return (self.t_high * (hi - g) + self.t_edge * (hi - g) ** 2 / (hi - lo)) / self.period

    def below(self, g: float) -> float:
        """Mean of max(g − load, 0) over a period (W)."""
        return self.above(g) - (self.mean - g)

    def value(self, t: float) -> float:
        """Instantaneous power at time ``t`` (s) since the start of a period."""
        if self.is_constant:
            return self.low
        x = t % self.period
        if x < self.t_high:
            return self.high
        x -= self.t_high
        if x < self.t_fall:
            return self.high - (self.high - self.low) * x / self.t_fall
        x -= self.t_fall
        if x < self.t_low:
            return self.low
        x -= self.t_low
        return self.low + (self.high - self.low) * x / self.t_rise
