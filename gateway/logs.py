"""Logging set-up: key=value lines for journald, or JSON lines, on stderr.

Log calls carry structured fields through ``extra=fields(...)``; both formats print them
as their own keys, so ``journalctl -o cat | grep charger=AC-0001`` or a JSON log
shipper can select on them. Every value ends up on one line: newlines and quotes in
charger- or partner-supplied text are escaped, never interpreted.

Tokens, idTags and passwords are never passed to a log call. ``fields`` also refuses to
print a value under a name that says it is a secret, in case one ever is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_SECRET_NAMES = re.compile(r"token|password|secret|id_?tag|authorization", re.IGNORECASE)
_BARE = re.compile(r"^[\x21-\x7e]+$")
REDACTED = "[redacted]"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: structured key/values, secret-named ones redacted."""
    return {
        "fields": {
            key: REDACTED if _SECRET_NAMES.search(key) else value for key, value in values.items()
        }
    }


def _fields_of(record: logging.LogRecord) -> Mapping[str, Any]:
    found = getattr(record, "fields", None)
    return found if isinstance(found, Mapping) else {}


def _kv(value: Any) -> str:
    text = "" if value is None else str(value)
    if _BARE.fullmatch(text) and '"' not in text and "=" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``level=info logger=... msg="..." key=value ...`` (journald adds the time)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_kv(record.getMessage())}",
        ]
        parts += [f"{key}={_kv(value)}" for key, value in _fields_of(record).items()]
        if record.exc_info:
            parts.append(f"exc={_kv(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the structured fields as top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields_of(record).items():
            doc.setdefault(key, value if isinstance(value, int | float | bool) else str(value))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else KeyValueFormatter()


#: Libraries whose chatter stays out of our logs, at any level. Access logs would print
#: every partner request at INFO (ours are enough); websockets and httpcore at DEBUG
#: print whole frames and requests, idTags and tokens included.
LIBRARY_LEVELS = {
    "uvicorn.access": logging.WARNING,
    "websockets": logging.WARNING,
    "httpcore": logging.WARNING,
}


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, library_level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)
