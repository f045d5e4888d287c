"""The one adapter to Evidently: its drift methods, reports and snapshots.

Evidently is the engine of streammon's reports, and the only part of it whose
layout changes between versions (where its names are imported from, what a
snapshot's dictionary looks like): nothing outside this package reads either.
Its modules, each importing only those above it in this list:

- :mod:`.stattests` computes Evidently's two-sample tests (K-S, chi-square) from
  arrays, with the reference's share done once per reference version, bit for
  bit the p-values Evidently's own tests give (it does not import Evidently);
- :mod:`.library` imports the parts of Evidently streammon uses, in one place;
- :mod:`.methods` says which drift method applies to a column of a kind, what
  it is called, whether it scores a p-value or a distance, and computes a
  distance alone; it adds streammon's chi-square homogeneity test to
  Evidently's registry;
- :mod:`.snapshots` writes metrics' values into a snapshot without running a
  report, under the ids a report gives them;
- :mod:`.drift_report` builds and runs the drift report over a reference, or
  its per-column tests alone, and reads per-column drift back from a snapshot;
- :mod:`.quality_report` computes a window's classification or regression
  quality with Evidently's report, or the same values without it;
- :mod:`.annotations` adds streammon's own values, tags and headline to a run
  of the workspace, and reads its values back.

Importing any of them but :mod:`.stattests` loads Evidently (seconds): modules
that only need names import lighter ones (:mod:`monitors.labels.metric_names`).
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["annotations", "drift_report", "library", "methods", "quality_report", "snapshots", "stattests"]
