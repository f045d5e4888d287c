"""The stream worker: Kafka in, the partition monitors, analyses and alerts, Kafka out.

A worker owns input partitions (predictions, features and labels are
co-partitioned by model). It reads them in batches (:mod:`.ingestion`), gives
each event to its partition's monitor (:class:`monitors.partition.PartitionMonitor`,
where the rules live), keeps each partition's state checkpointed on Kafka and
hands it over on a rebalance (:mod:`.partitions`), analyses closed windows in a
pool of processes and publishes their reports and alerts in order
(:mod:`.results`), and lets the online challengers learn in a process of their
own (:mod:`.learning`). Everything it writes goes through :mod:`.output`;
:mod:`.app` is the Faust app that runs these parts and their timers.
"""

from streams.worker.app import StreamWorker

__all__ = ["StreamWorker"]
