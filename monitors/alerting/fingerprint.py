"""Alert fingerprints: a stable identity for an alert, computed from its labels.

The hash is the one Prometheus uses for a label set (FNV-1a 64 over the label
names and values, sorted by name, each followed by a 0xFF byte), so an alert
has the same identity in streammon and in Alertmanager.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["fingerprint"]

_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the 16-hex-digit fingerprint of a label set.

    Examples
    --------
    >>> fingerprint({})
    'cbf29ce484222325'
    >>> fingerprint({"model": "churn", "kind": "data_drift"})
    'f689879591c43088'
    >>> fingerprint({"kind": "data_drift", "model": "churn"}) == fingerprint({"model": "churn", "kind": "data_drift"})
    True
    """
    value = _OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8") + _SEPARATOR:
                value = ((value ^ byte) * _PRIME) & _MASK
    return f"{value:016x}"
