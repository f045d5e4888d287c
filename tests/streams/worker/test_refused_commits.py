"""A commit the group refused (it rebalanced) is not an error: the worker commits it at its next checkpoint."""

from __future__ import annotations

import logging

import pytest

from streams.worker.inputs import _refusals_as_warnings

_REFUSED = "OffsetCommit failed for group %s due to group error (%s), will rejoin"


def test_the_clients_report_of_a_commit_refused_by_the_workers_group_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("aiokafka.consumer.group_coordinator")
    before = list(logger.filters)
    try:
        _refusals_as_warnings("workers")
        _refusals_as_warnings("workers")  # one filter per group, however many consumers start
        assert len(logger.filters) == len(before) + 1
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.error(_REFUSED, "workers", "[Error 25] UnknownMemberIdError: workers")
            logger.error(_REFUSED, "another-group", "[Error 25] UnknownMemberIdError: another-group")
            logger.error("OffsetCommit failed for group %s on partition %s with offset %s: %s", "workers", 0, 42, "Unknown")
    finally:
        logger.filters[:] = before
    assert [(r.levelname, r.args[0]) for r in caplog.records] == [  # type: ignore[index]
        ("WARNING", "workers"),
        ("ERROR", "another-group"),
        ("ERROR", "workers"),
    ]
