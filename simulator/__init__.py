"""dcsim: a data-center scenario simulator for GPU training clusters.

Data flows one way: scenario file -> validated config (:mod:`simulator.config`) -> model
(:mod:`simulator.model`) -> per-replication records (:mod:`simulator.records`) -> statistics
(:mod:`simulator.stats`) -> tables, files and plots (:mod:`simulator.output`, :mod:`simulator.plots`).
"""

__version__ = "0.3.0"
"""The model version: sweep caches key on it, so bump it whenever results change."""
