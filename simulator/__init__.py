"""dcsim: a data-center scenario simulator for GPU training clusters.

From Python: ``simulator.load(path_or_mapping, **overrides)`` gives a validated scenario,
``simulator.run(scenario, replications=, seed=, jobs=, executor=)`` a
:class:`simulator.api.Result` (see :mod:`simulator.api`); ``simulator.compare``,
``simulator.sweep`` and ``simulator.optimize`` mirror the CLI (:mod:`simulator.studies`).

Data flows one way: scenario file -> validated config (:mod:`simulator.config`) -> model
(:mod:`simulator.model`) -> per-replication records (:mod:`simulator.records`) -> statistics
(:mod:`simulator.stats`) -> tables, files and plots (:mod:`simulator.output`, :mod:`simulator.plots`).
"""

__version__ = "0.3.1"
"""The model version: sweep caches key on it, so bump it whenever results change."""

__all__ = ["Comparison", "Optimum", "Result", "Sweep", "__version__", "compare", "load",
           "optimize", "run", "sweep"]


def __getattr__(name: str) -> object:
    # the API is imported on first use, so that ``import simulator`` (and the CLI's start-up)
    # stays light
    if name in ("load", "run", "Result"):
        from simulator import api

        return getattr(api, name)
    if name in ("compare", "sweep", "optimize", "Comparison", "Sweep", "Optimum"):
        from simulator import studies

        return getattr(studies, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
