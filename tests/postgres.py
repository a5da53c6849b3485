"""The suite on PostgreSQL: each test's data directory gets its own database on a server.

Set ``GATEWAY_TEST_POSTGRES`` to a server URL (``postgresql://user:password@127.0.0.1``,
no database name) and every gateway a test builds through ``tests.builders.a_settings``
with a ``data_dir`` keeps its state in a fresh database instead of a SQLite file. The
same directory always maps to the same database, so a test that restarts its gateway
finds what the first run wrote. ``make pytest-pg`` sets it up; without the variable
nothing here runs.
"""

from __future__ import annotations

import hashlib
import os

ENV = "GATEWAY_TEST_POSTGRES"

_created: list[str] = []


def server() -> str | None:
    return os.environ.get(ENV) or None


def database_for(data_dir: str) -> str | None:
    """The SQLAlchemy URL of the database that stands for ``data_dir``, created on first use."""
    base = server()
    if base is None:
        return None
    import psycopg  # only installed where PostgreSQL is tested

    name = "gw_test_" + hashlib.sha1(data_dir.encode(), usedforsecurity=False).hexdigest()[:16]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            _created.append(name)
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_created() -> None:
    """Drop the databases this process created (at the end of the session)."""
    base = server()
    if base is None or not _created:
        return
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        while _created:
            conn.execute(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)')
