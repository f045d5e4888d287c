"""Fixtures of the tests of streams/ that run without a broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.worker import analysis


@pytest.fixture(autouse=True)
def fresh_analysis_process() -> Iterator[None]:
    """Each test analyses as a new analysis process would.

    An analysis process keeps each model's reference profile per reference
    version; tests that analyse different references of a model under the same
    version would otherwise see each other's.
    """
    analysis._monitors.clear()
    yield
    analysis._monitors.clear()
