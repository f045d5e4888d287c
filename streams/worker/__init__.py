"""The stream worker: Kafka in, the partition monitors, analyses and alerts, Kafka out.

A worker owns input partitions (predictions, features and labels are
co-partitioned by model). :mod:`.runner` starts it: topics first, then the Faust
app of :mod:`.app`, which runs these parts and their timers:

- :mod:`.ingestion` reads input batches (:mod:`.inputs`), decodes them
  (:mod:`.input_events`) and gives each event to its partition's monitor
  (:class:`monitors.partition.PartitionMonitor`, where the rules live);
- :mod:`.partitions` restores each partition's :mod:`.state` when assigned,
  checkpoints it on Kafka then commits (:mod:`.checkpoint`), and hands it over
  when revoked;
- :mod:`.results` analyses closed windows in a pool of processes
  (:mod:`.analysis`) and publishes their reports and alerts in order;
- :mod:`.learning` lets the online challengers learn in a process of their own
  (:mod:`.learner`);
- everything the worker writes goes through :mod:`.output`.
"""

# The modules, not their names: the analysis and learner processes import their
# own module without loading Faust.
__all__ = [
    "analysis",
    "app",
    "checkpoint",
    "ingestion",
    "input_events",
    "inputs",
    "learner",
    "learning",
    "output",
    "partitions",
    "results",
    "runner",
    "state",
]
