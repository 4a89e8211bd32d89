"""The database: one async engine, migrations, health ping and units of work.

Theory of operation. :class:`Database` owns the SQLAlchemy async engine built from
:class:`~callcenter.settings.DatabaseSettings` (SQLite through aiosqlite, or PostgreSQL through
asyncpg). Repositories run each use case in one ``async with db.transaction() as conn:`` block:
it commits on success and rolls back on error. Failures that mean "the database cannot be
reached right now" (refused or dropped connections, a server shutting down, a locked SQLite
file, timeouts) leave that block as :class:`~callcenter.errors.StorageUnavailable`, the one
error callers retry on; programming errors pass through unchanged. The schema is created and
upgraded by the Alembic migrations shipped in :mod:`callcenter.storage.migrations`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callcenter.errors import StorageUnavailable
from callcenter.settings import DatabaseSettings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Errors that say the server or the connection is gone, not that the query is wrong.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections, and TimeoutError
    sa_exc.OperationalError,  # SQLite: locked, cannot open the file, disk I/O
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection free in time
    asyncpg.exceptions.PostgresConnectionError,  # refused, dropped, protocol broken
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)


class Database:
    """The engine's database. Build one per process (the composition root does)."""

    def __init__(
        self,
        settings: DatabaseSettings,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 15.0,
        pool_size: int = 5,
        ping_timeout: float = 2.0,
    ) -> None:
        self._url = make_url(settings.url)
        self._ping_timeout = ping_timeout
        self._engine = _create_engine(self._url, connect_timeout, command_timeout, pool_size)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One unit of work: commit at the end, roll back on error.

        Raises :class:`StorageUnavailable` when the database cannot be reached.
        """
        try:
            async with self._engine.begin() as connection:
                yield connection
        except StorageUnavailable:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise StorageUnavailable(f"database unavailable: {_describe(exc)}") from exc
            raise

    async def migrate(self, revision: str = "head") -> None:
        """Apply the migrations up to ``revision`` (all of them by default)."""
        config = alembic_config()
        async with self.transaction() as connection:
            await connection.run_sync(_upgrade, config, revision)

    async def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        async with self.transaction() as connection:
            return await connection.run_sync(_current_revision)

    async def ping(self) -> bool:
        """True when a trivial query succeeds within ``ping_timeout`` seconds; never raises."""
        try:
            async with asyncio.timeout(self._ping_timeout), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.debug("database ping failed: %s", _describe(exc))
            return False
        return True

    async def close(self) -> None:
        await self._engine.dispose()


def alembic_config() -> Config:
    """The Alembic configuration of the shipped migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


async def upgrade(settings: DatabaseSettings, revision: str = "head") -> None:
    """``callcenter db upgrade``: migrate the configured database, then let it go."""
    database = Database(settings)
    try:
        await database.migrate(revision)
    finally:
        await database.close()


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database cannot be reached right now."""
    return any(_is_unavailable_one(e) for e in _chain(exc))


def _is_unavailable_one(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.InterfaceError):
        # asyncpg reports bad query arguments as an interface error too: those are bugs.
        return not any(isinstance(e, (ValueError, TypeError)) for e in _chain(exc))
    return isinstance(exc, _UNAVAILABLE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, BaseException):
            yield current.orig
        current = current.__cause__ or current.__context__


def _describe(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _create_engine(
    url: URL, connect_timeout: float, command_timeout: float, pool_size: int
) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, connect_timeout)
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=connect_timeout,
        pool_recycle=1800,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": {"application_name": "callcenter"},
        },
    )


def _sqlite_engine(url: URL, busy_timeout: float) -> AsyncEngine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if not in_memory:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the directory of {database}: {exc}") from exc
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout})
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return engine
