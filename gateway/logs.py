"""Logging set-up: key=value lines for journald, or JSON lines, on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class _KeyValue(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"level={record.levelname.lower()} logger={record.name} msg={record.getMessage()!r}"
        if record.exc_info:
            text += " exc=" + repr(self.formatException(record.exc_info))
        return text


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _KeyValue())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access logs would print every partner request at INFO; ours are enough.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
