"""The bounds of a scenario that the command line needs before anything heavy is imported."""

#: the largest cluster a scenario may describe (GPUs, or spare nodes): 100 times the largest
#: sites announced, and small enough for the per-node state to fit in memory
MAX_GPUS = 100_000_000
#: the most replications one run may ask for (each record stays in memory until the end)
MAX_REPLICATIONS = 100_000
#: default cap on simulation events per replication (``run.max_events``): a 100k-GPU run of
#: two simulated months schedules about 25,000
DEFAULT_MAX_EVENTS = 20_000_000
