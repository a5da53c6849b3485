"""Benchmark reading aid: a cProfile file summed by layer (websockets, json, SQL...).

Each function's own time goes to the layer its source file belongs to; the time of a
C builtin (``isinstance``, ``dict.get``, a socket call) goes to the layers of its
callers, in proportion to what each caller spent in it. The layers follow the message's
path through the gateway, so the table answers "where does a message's CPU go".
"""

from __future__ import annotations

import io
import pstats
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: (layer, substrings of a source path that belong to it), first match wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite via SQLAlchemy (statement building, execution)", ("/sqlalchemy/", "/sqlmodel/")),
    ("store adapter (gateway/storage: rows, state codec)", ("/gateway/storage/",)),
    ("schema validation (fastjsonschema)", ("/ocpp_central/validation", "/fastjsonschema/")),
    ("translation (ocpp_central/translate: meter, v16, v201)", ("/ocpp_central/translate/",)),
    ("core step and domain (gateway/core, gateway/domain)", ("/gateway/core/", "/gateway/domain/")),
    ("runtime shell (gateway/runtime: locks, group commit)", ("/gateway/runtime",)),
    ("OCPP adapter (connection, handlers, server)", ("/ocpp_central/",)),
    ("websockets (framing, connection)", ("/websockets/",)),
    ("json (encode, decode)", ("/json/",)),
    ("logging", ("/logging/",)),
    ("threads and executor (to_thread, queues)", ("/concurrent/", "/threading.py", "/queue.py")),
    ("asyncio event loop, sockets, selectors", ("/asyncio/", "/selectors.py", "/socket.py")),
    (
        "decimal, datetime, re, enum",
        ("/decimal.py", "/_pydecimal.py", "/datetime.py", "/re/", "/enum.py", "/_strptime.py"),
    ),
)
VALIDATION = LAYERS[2][0]
GENERATED = "generated dataclass methods (__init__, __eq__, __hash__)"
OTHER = "other"


def layer_of(filename: str, name: str) -> str | None:
    """The layer of a profiled function; ``None`` for C builtins."""
    if filename == "~":
        return None
    if filename.startswith("<"):
        # Code compiled at run time: fastjsonschema's validators, dataclasses' methods.
        return VALIDATION if name.startswith("validate") else GENERATED
    normalised = "/" + filename.replace("\\", "/").lstrip("/")
    for layer, needles in LAYERS:
        if any(n in normalised for n in needles):
            return layer
    return OTHER


def by_layer(path: Path) -> list[tuple[str, float, float]]:
    """(layer, CPU seconds, share) for the whole profile, largest first."""
    stats: Mapping[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, own, _cum, callers) in stats.items():
        layer = layer_of(filename, name)
        if layer is not None:
            totals[layer] += own
            continue
        spent = sum(c[2] for c in callers.values())
        if not spent:
            totals[OTHER] += own
            continue
        for caller, (_ccc, _cnc, caller_own, _ccum) in callers.items():
            # A builtin called by a builtin (rare) is charged to the outer one's file.
            totals[layer_of(caller[0], caller[2]) or OTHER] += own * caller_own / spent
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v, v / whole) for k, v in totals.items()), key=lambda r: -r[1])


def summary(path: Path, top: int = 15) -> str:
    """The profile's layers, then its top entries by cumulative and by own CPU time."""
    out = io.StringIO()
    out.write("--- CPU by layer ---\n")
    for layer, seconds, share in by_layer(path):
        out.write(f"{share:6.1%} {seconds:8.3f} s  {layer}\n")
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs()
    out.write(f"\n--- top {top} by cumulative CPU time ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"--- top {top} by own CPU time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()
