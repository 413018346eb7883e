"""Catalog of GPU types: power, peak throughput and price.

Each entry says where its numbers come from; numbers no vendor has published are marked
``estimate=True`` and say what they were guessed from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuType:
    """One GPU model.

    Attributes:
        name: catalog key used in scenario files (``cluster.gpu``).
        tdp_w: board power limit in W.
        idle_w: power drawn while idle but powered, in W.
        peak_flops: dense BF16 peak in FLOP/s (no sparsity).
        price_usd: list price per GPU in USD (order of magnitude; see ``source``).
        source: where the numbers come from.
        estimate: True when any number (even only the price or idle power) is a guess rather
            than a published figure; ``source`` says which.
    """

    name: str
    tdp_w: float
    idle_w: float
    peak_flops: float
    price_usd: float
    source: str
    estimate: bool = False


CATALOG: dict[str, GpuType] = {
    g.name: g
    for g in (
        GpuType(
            "h100", 700.0, 100.0, 989e12, 30_000.0,
            "NVIDIA H100 SXM datasheet: 700 W TDP, 989 TFLOP/s dense BF16; idle ~100 W measured "
            "on DGX H100; price ~$25-40k street (estimate).",
            estimate=True,
        ),
        GpuType(
            "h200", 700.0, 100.0, 989e12, 35_000.0,
            "NVIDIA H200 SXM datasheet: 700 W TDP, same compute as H100 (989 TFLOP/s dense BF16), "
            "141 GB HBM3e; idle and price estimated.",
            estimate=True,
        ),
        GpuType(
            "b200", 1000.0, 140.0, 2.25e15, 40_000.0,
            "NVIDIA HGX B200: ~1,000 W per GPU, 2.25 PFLOP/s dense BF16; idle and price estimated.",
            estimate=True,
        ),
        GpuType(
            "gb200", 1200.0, 160.0, 2.5e15, 45_000.0,
            "NVIDIA GB200 NVL72: 180 PFLOP/s dense BF16 per 72-GPU rack (2.5 PF per GPU), "
            "~120-132 kW per rack; 1,200 W per GPU; idle and price (~$3.2M per rack) estimated.",
            estimate=True,
        ),
        GpuType(
            "gb300", 1400.0, 180.0, 2.5e15, 55_000.0,
            "NVIDIA GB300 NVL72 (Blackwell Ultra, 2025): 72 GPUs per rack, 288 GB HBM3e, about "
            "1,400 W per GPU as reported; dense BF16 taken as GB200's 2.5 PF (NVIDIA quotes "
            "Blackwell Ultra's gains for FP4); idle and price estimated.",
            estimate=True,
        ),
        GpuType(
            "rubin", 1800.0, 200.0, 4.0e15, 60_000.0,
            "GUESS: NVIDIA Rubin (2026) not yet characterised publicly for dense BF16; "
            "1,800 W, 4 PFLOP/s dense BF16 and $60k are placeholders for what-if studies.",
            estimate=True,
        ),
    )
}


def gpu_type(name: str) -> GpuType:
    """The catalog entry for ``name`` (KeyError if unknown)."""
    return CATALOG[name]
