"""Pure computation for streammon: windows, references, drift and alert rules. No Kafka, no I/O."""
