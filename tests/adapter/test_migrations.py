"""The shipped Alembic migrations: they upgrade an empty database and match the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, String, inspect, text

from callcenter.settings import DatabaseSettings
from callcenter.storage.db import Database, alembic_config, upgrade
from callcenter.storage.tables import metadata


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_upgrade_to_head_on_an_empty_database(database_url: str) -> None:
    db = Database(DatabaseSettings(url=database_url))
    try:
        assert await db.revision() is None
        await db.migrate()
        assert await db.revision() == head() is not None
        await db.migrate()  # already at head: nothing to do
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert {"calls", "alembic_version"} <= set(tables)
    finally:
        await db.close()


def _diff(connection: Connection, target: MetaData = metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, target))


async def test_tables_match_the_migrated_schema(database: Database) -> None:
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_the_comparison_sees_a_difference(database: Database) -> None:
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    calls = changed.tables["calls"]
    calls.append_column(Column("extra", Integer))
    calls.c.caller_num.type = String(200)
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(_diff, changed)
    kinds = {change[0] if isinstance(change, tuple) else change[0][0] for change in diff}
    assert kinds == {"add_column", "modify_type"}


async def test_upgrade_entry_point_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "callcenter.sqlite3"
    settings = DatabaseSettings(url=f"sqlite+aiosqlite:///{path}")

    await upgrade(settings)

    assert path.exists()
    db = Database(settings)
    try:
        assert await db.revision() == head()
        async with db.transaction() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 5000
    finally:
        await db.close()
