"""The one adapter to Evidently: its drift tests, reports and snapshots.

Evidently is the engine of streammon's reports. :mod:`.reports` builds and runs
them and reads their snapshots back, whatever the installed version's layout;
:mod:`.stattests` computes Evidently's two-sample tests (K-S, chi-square) from
arrays, with the reference's share done once per reference version, bit for bit
the p-values Evidently's own tests give.

Importing :mod:`.reports` loads Evidently (seconds): modules that only need
names import lighter ones.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["reports", "stattests"]
