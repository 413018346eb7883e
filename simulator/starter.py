"""A commented starter scenario (``dcsim init``), so that a first scenario starts from sourced
defaults rather than from a blank page: the Llama 3 failure mix, the spare nodes the binomial
formula suggests (the model's own default is 0), Daly's checkpoint interval for that failure
rate, and a power block only when asked for."""

from __future__ import annotations

import math
from typing import Any

import yaml

from simulator import __version__

#: GPUs a starter describes when none is given
DEFAULT_GPUS = 32_768

_TEMPLATE = """\
# {name}: a starter scenario written by `dcsim init` (dcsim {version}).
# Every value is a default to replace with your own. `dcsim validate {name}.yaml` checks it,
# `dcsim run {name}.yaml` runs it. Plain numbers are SI (s, W, J); strings may carry units.
name: {name}
description: >-
  {gpus:,} {gpu_upper} GPUs training one synchronous job (a dcsim starter: edit me).
sources:
  - >-
    Dubey et al., The Llama 3 Herd of Models, arXiv:2407.21783 (2024), Table 5: the default
    failure mix (419 unexpected interruptions in 54 days on 16,384 H100)
  - >-
    Daly, A higher order estimate of the optimum checkpoint interval, FGCS 22 (2006): the
    checkpoint interval below
cluster:
  gpu: {gpu}                  # catalog: {catalog}
  gpus: {gpus}
  gpus_per_node: {gpus_per_node}
  nodes_per_rack: 4
  spare_nodes: {spares}             # fewest for < 1% waiting for hardware (binomial formula); default 0
  repair_time: {{distribution: lognormal, median: 20 h, mean: 5.5 d}}   # dcsim's default: use your fleet's
# failures: left out, so the Llama 3 Table 5 mix applies, per GPU and per node
job:
  work: 30 d                  # failure-free compute time of the job
  iteration_time: 2 s
  checkpoint: {{interval: {interval}, write_time: 1 min}}   # interval: Daly's optimum for this MTBF
  restart: {{time: 10 min}}
run: {{replications: 20, seed: 1, horizon: 365 d}}
"""

_POWER = """\
power:
  grid: {{capacity: {grid_mw} MW}}     # 1.2 x the site's {peak_mw} MW peak: no generators or battery needed
"""


def starter(name: str, gpus: int = DEFAULT_GPUS, gpu: str = "h100", power: bool = False) -> str:
    """The starter scenario's YAML text (valid as written; see :func:`starter_data`)."""
    from simulator.analytic import daly_interval
    from simulator.catalog import CATALOG
    from simulator.config import Scenario
    from simulator.diagnostics import suggested_spares
    from simulator.failures import job_failure_rate

    per_node = 4 if gpu in ("gb200", "gb300") else 8  # NVL72 trays hold 4 GPUs
    if gpus % per_node:
        from simulator.loader import ScenarioError

        raise ScenarioError([f"--gpus {gpus}: must be a whole number of {gpu} nodes "
                             f"({per_node} GPUs each)"])
    fields: dict[str, Any] = {"name": name, "version": __version__, "gpus": gpus, "gpu": gpu,
                              "gpu_upper": gpu.upper(), "catalog": ", ".join(CATALOG),
                              "gpus_per_node": per_node, "spares": 0, "interval": "10 min"}
    draft = Scenario.model_validate(yaml.safe_load(_TEMPLATE.format(**fields)))
    rate = job_failure_rate(draft)
    interval_min = max(1, round(daly_interval(60.0, 1.0 / rate) / 60.0)) if rate > 0 else 60
    fields["interval"] = f"{interval_min} min"
    fields["spares"] = suggested_spares(draft) or 0
    text = _TEMPLATE.format(**fields)
    if power:
        from simulator.power.coupling import plant_params

        with_power = yaml.safe_load(text) | {"power": {"grid": {"capacity": "1 GW"}}}
        peak = plant_params(Scenario.model_validate(with_power)).site_peak_w / 1e6
        text += _POWER.format(grid_mw=math.ceil(1.2 * peak), peak_mw=f"{peak:.3g}")
    return text
