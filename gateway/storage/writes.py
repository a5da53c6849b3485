"""Adapter: one in-process queue for the database's writers (SQLite).

SQLite lets one writer at a time in and makes the others poll: its busy handler sleeps
up to 100 ms between tries. The OCPP commit path, when busy, releases the write lock
for far shorter gaps and takes it again at once, so another store's write (a partner's
token, a command, a push outcome) could poll past its whole busy timeout and fail with
"database is locked". Every write transaction on one engine therefore first takes that
engine's lock here, and a waiting writer gets the database at the next release. On
PostgreSQL, which has row locks, the lock is a no-op.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine

_LOCKS: weakref.WeakKeyDictionary[Engine, AbstractContextManager[Any]] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """The engine's writer lock: reentrant on SQLite (a writer may nest), none elsewhere."""
    with _LOCKS_LOCK:
        lock = _LOCKS.get(engine)
        if lock is None:
            lock = threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
            _LOCKS[engine] = lock
        return lock


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """A write transaction on ``engine``, queued in-process behind the other writers."""
    with write_lock(engine), engine.begin() as conn:
        yield conn
