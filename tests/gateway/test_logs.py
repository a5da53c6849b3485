"""Log lines: one line each, structured fields as keys, secrets never printed."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gateway import logs


def record(msg: str, *, exc: bool = False, **values: Any) -> logging.LogRecord:
    rec = logging.LogRecord("gateway.test", logging.INFO, __file__, 1, msg, (), None)
    if exc:
        error = RuntimeError("boom")
        rec.exc_info = (RuntimeError, error, None)
    rec.__dict__.update(logs.fields(**values))
    return rec


def test_key_value_lines_carry_fields_as_keys():
    """``key=value`` with quoting only where a value needs it."""
    line = logs.formatter("keyvalue").format(
        record("ocpp in", charger="AC-0001", message_id="m 1", action="Heartbeat", ms=1.5)
    )
    assert line == (
        'level=info logger=gateway.test msg="ocpp in" charger=AC-0001 message_id="m 1" '
        "action=Heartbeat ms=1.5"
    )


@pytest.mark.parametrize("value", ['a"b', "line\nbreak", "k=v", "", "é"])
def test_charger_supplied_text_stays_on_one_line(value):
    """Quotes, newlines and equals signs are escaped, never interpreted."""
    line = logs.formatter("keyvalue").format(record("x", vendor=value))
    assert "\n" not in line
    assert line.endswith("vendor=" + json.dumps(value, ensure_ascii=False))


def test_json_lines_carry_fields_as_top_level_keys():
    """JSON format: ts, level, logger, msg, then the fields; exceptions as text."""
    doc = json.loads(
        logs.formatter("json").format(record("ocpi call", exc=True, status=200, path="/ocpi/x"))
    )
    assert doc["msg"] == "ocpi call"
    assert doc["status"] == 200
    assert doc["path"] == "/ocpi/x"
    assert "RuntimeError: boom" in doc["exc"]
    assert doc["ts"].endswith("+00:00")


@pytest.mark.parametrize("name", ["token", "id_tag", "idTag", "password", "authorization"])
def test_secret_named_fields_are_redacted(name):
    """A value under a secret's name is never printed, in either format."""
    for fmt in ("keyvalue", "json"):
        rec = record("x")
        rec.__dict__.update(logs.fields(**{name: "s3cret-value"}))
        line = logs.formatter(fmt).format(rec)
        assert "s3cret-value" not in line
        assert logs.REDACTED in line


def test_key_value_prints_exceptions_on_the_same_line():
    """A traceback becomes one quoted value."""
    line = logs.formatter("keyvalue").format(record("failed", exc=True))
    assert "\n" not in line
    assert "exc=" in line


def test_configure_quiets_chatty_libraries():
    """Frame-level logs of websockets and httpcore stay off even at DEBUG."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    before = {n: logging.getLogger(n).level for n in logs.LIBRARY_LEVELS}
    try:
        logs.configure("DEBUG", "json")
        assert isinstance(root.handlers[0].formatter, logs.JsonFormatter)
        assert logging.getLogger("websockets").level == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in before.items():
            logging.getLogger(name).setLevel(lvl)
