"""Database fixtures shared by every test directory.

``database_url`` is a fresh, empty database, once per backend: a SQLite file, and a new database
on a real PostgreSQL server that the session starts from the Debian binaries (``pg_server``).
``database`` is a migrated :class:`~callcenter.storage.db.Database` on that URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callcenter.settings import DatabaseSettings
from callcenter.storage.db import Database
from tests.pgserver import PgServer

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session (fails, never skips, if it cannot start)."""
    try:
        server = PgServer.create()
    except Exception as exc:
        pytest.fail(f"cannot start the PostgreSQL test server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'callcenter.sqlite3'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return await server.create_database()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(DatabaseSettings(url=database_url))
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()
