"""Piecewise-linear inputs as lists of pieces (duration s, start value, slope per s): the
form the exact frequency solver takes, and the few operations the bus needs on them."""

from __future__ import annotations

import itertools

Pieces = list[tuple[float, float, float]]


def snap(x: float, step: float) -> float:
    """x rounded to a multiple of ``step`` (equal inputs, equal cache keys)."""
    return round(x / step) * step


def clamp(pieces: Pieces, lo: float, hi: float) -> Pieces:
    """clamp(u, lo, hi) of a piece list, cut where u crosses lo or hi."""
    out = []
    for h, v, s in pieces:
        cuts = [0.0, h]
        if s != 0:
            for level in (lo, hi):
                x = (level - v) / s
                if 0 < x < h:
                    cuts.append(x)
        cuts.sort()
        for a, b in itertools.pairwise(cuts):
            if b - a <= 0:
                continue
            mid = v + s * 0.5 * (a + b)
            if mid > hi:
                out.append((b - a, hi, 0.0))
            elif mid < lo:
                out.append((b - a, lo, 0.0))
            else:
                out.append((b - a, v + s * a, s))
    return out


def cut(pieces: Pieces, like: Pieces) -> Pieces:
    """``pieces`` re-cut at the breaks of ``like`` (same total span)."""
    return [(h, va, sa) for h, va, sa, _, _ in merge(pieces, like)]


def merge(a: Pieces, b: Pieces) -> list[tuple[float, float, float, float, float]]:
    """Two piece lists over the same span, cut at the union of their breaks:
    (h, value_a, slope_a, value_b, slope_b)."""
    out = []
    i = j = 0
    ta = tb = 0.0
    t = 0.0
    while i < len(a) and j < len(b):
        ha, va, sa = a[i]
        hb, vb, sb = b[j]
        end = min(ta + ha, tb + hb)
        h = end - t
        if h > 1e-12:
            out.append((h, va + sa * (t - ta), sa, vb + sb * (t - tb), sb))
        t = end
        if ta + ha <= end + 1e-12:
            ta += ha
            i += 1
        if tb + hb <= end + 1e-12:
            tb += hb
            j += 1
    return out


def window_of(pieces: Pieces, start: float, duration: float) -> Pieces:
    """The pieces over [start, start + duration] (s from the list's origin), held at the
    last value beyond the list's end."""
    out: Pieces = []
    t, end = 0.0, start + duration
    for h, v, s in pieces:
        a, b = max(t, start), min(t + h, end)
        if b > a:
            out.append((b - a, v + s * (a - t), s))
        t += h
    if end > max(t, start):
        if pieces:
            h, v, s = pieces[-1]
            last = v + s * h
        else:
            last = 0.0
        out.append((end - max(t, start), last, 0.0))
    return out
