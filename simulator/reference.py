"""Published reference data the model is checked against.

Llama 3 405B pre-training (Meta, "The Llama 3 Herd of Models", 2024, §3.3.4, Table 5):
16,384 H100 GPUs over 54 days, 466 job interruptions = 47 planned + 419 unexpected.
Counts are used, not the printed percentages (which disagree with the counts for
"faulty GPU").
"""

from __future__ import annotations

LLAMA3_GPUS = 16_384
LLAMA3_DAYS = 54.0
LLAMA3_PLANNED = 47
LLAMA3_GPUS_PER_NODE = 8

#: Table 5 unexpected interruptions by root cause: (cause name, count, failure unit).
#: The unit says what one failure takes out of service: GPU-level faults take one GPU
#: (and so its node out of the job); host-level faults take a node.
LLAMA3_TABLE5: tuple[tuple[str, int, str], ...] = (
    ("faulty_gpu", 148, "gpu"),
    ("gpu_hbm3", 72, "gpu"),
    ("software_bug", 54, "node"),
    ("network_switch_cable", 35, "node"),
    ("host_maintenance", 32, "node"),
    ("gpu_sram", 19, "gpu"),
    ("gpu_system_processor", 17, "gpu"),
    ("nic", 7, "node"),
    ("nccl_watchdog", 7, "node"),
    ("silent_data_corruption", 6, "gpu"),
    ("gpu_thermal", 6, "gpu"),
    ("ssd", 3, "node"),
    ("power_supply", 3, "node"),
    ("server_chassis", 2, "node"),
    ("io_expansion_board", 2, "node"),
    ("dependency", 2, "node"),
    ("cpu", 2, "node"),
    ("system_memory", 2, "node"),
)

#: Causes that need no hardware repair: the job restarts on the same machines.
LLAMA3_SOFTWARE = frozenset({"software_bug", "nccl_watchdog", "dependency", "silent_data_corruption"})

LLAMA3_UNEXPECTED = sum(c for _, c, _ in LLAMA3_TABLE5)  # 419


def llama3_rate_per_year(cause: str) -> float:
    """Per-unit failure rate (1/yr) of a Table 5 cause, from its count over 54 days."""
    for name, count, per in LLAMA3_TABLE5:
        if name == cause:
            units = LLAMA3_GPUS if per == "gpu" else LLAMA3_GPUS // LLAMA3_GPUS_PER_NODE
            return count / (units * LLAMA3_DAYS / 365.0)
    raise KeyError(cause)
