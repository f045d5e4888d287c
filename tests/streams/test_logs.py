"""The readable log format writes one line per record, whatever the names it quotes."""

from __future__ import annotations

import io
import logging

import orjson

from streams.logs import JsonFormatter, TextFormatter, escape_controls

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _emit(formatter: logging.Formatter, message: str, *args: object, exc_info: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logs")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        if exc_info:
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception(message, *args)
        else:
            logger.warning(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_name_with_line_breaks_stays_on_its_record_line() -> None:
    forged = "churn\nFORGED-LOG-LINE CRITICAL streammon: fake window 0\r\x1b[2Kcleared\u2028x"
    out = _emit(TextFormatter(_FORMAT), "%s window %d (%d events)", forged, 7, 100)
    assert out.count("\n") == 1 and "\r" not in out and "\x1b" not in out and "\u2028" not in out
    assert out.rstrip("\n").endswith(
        "WARNING test.logs: churn\\nFORGED-LOG-LINE CRITICAL streammon: fake window 0\\r\\x1b[2Kcleared\\u2028x window 7 (100 events)"
    )


def test_printable_text_is_unchanged() -> None:
    text = "région=eu-west/1 «model» 模型 \\n stays as typed"
    assert escape_controls(text) == text


def test_a_traceback_still_follows_its_record() -> None:
    out = _emit(TextFormatter(_FORMAT), "analysis of %s failed", "a\nb", exc_info=True)
    first, *rest = out.splitlines()
    assert first.endswith("analysis of a\\nb failed")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_the_json_format_keeps_the_message_as_it_is() -> None:
    out = _emit(JsonFormatter(), "%s window %d", "churn\nFAKE", 7)
    assert out.count("\n") == 1
    assert orjson.loads(out)["message"] == "churn\nFAKE window 7"


def test_other_handlers_of_the_record_see_it_unescaped() -> None:
    stream = io.StringIO()
    text, raw = logging.StreamHandler(stream), logging.StreamHandler(stream)
    text.setFormatter(TextFormatter("%(message)s"))
    raw.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.logs.two")
    logger.propagate = False
    logger.addHandler(text)
    logger.addHandler(raw)
    try:
        logger.warning("a\nb")
    finally:
        logger.removeHandler(text)
        logger.removeHandler(raw)
    assert stream.getvalue() == "a\\nb\na\nb\n"
