"""SqlCallRepository against SQLite and a real PostgreSQL: the semantics of CallRepository."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, select, text

from callcenter.calls.model import (
    CloseCall,
    CloseLostCalls,
    MarkAnswered,
    OpenCall,
    Outcome,
    RecordPath,
)
from callcenter.calls.repository import SqlCallRepository
from callcenter.errors import StorageUnavailable
from callcenter.settings import DatabaseSettings
from callcenter.storage.db import Database, is_unavailable
from callcenter.storage.tables import calls
from tests.pgserver import PgServer

T0 = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def repo(database: Database) -> SqlCallRepository:
    return SqlCallRepository(database)


async def open_simple(repo: SqlCallRepository, linkedid: str, at: datetime = T0) -> None:
    await repo.open_call(linkedid, at, "0611223344", "Alice", "from-pstn", "100")


async def test_open_call_is_idempotent(repo: SqlCallRepository) -> None:
    await repo.open_call("1.1", T0, "0611223344", "Alice", "from-pstn", "100")
    await repo.open_call("1.1", T0 + timedelta(seconds=5), "999", "Mallory", "other", "200")

    record = await repo.get("1.1")
    assert record is not None
    assert (record.caller_num, record.caller_name, record.context, record.exten) == (
        "0611223344",
        "Alice",
        "from-pstn",
        "100",
    )
    assert record.started_at == T0
    assert (record.answered_at, record.ended_at, record.outcome, record.path) == (
        None,
        None,
        None,
        (),
    )
    assert record.id > 0
    assert len(await repo.recent(10)) == 1


async def test_get_unknown_is_none(repo: SqlCallRepository) -> None:
    assert await repo.get("nope") is None


async def test_mark_answered_keeps_the_first_time(repo: SqlCallRepository) -> None:
    await open_simple(repo, "1.2")
    await repo.mark_answered("1.2", T0 + timedelta(seconds=3))
    await repo.mark_answered("1.2", T0 + timedelta(seconds=9))
    await repo.mark_answered("missing", T0)

    record = await repo.get("1.2")
    assert record is not None
    assert record.answered_at == T0 + timedelta(seconds=3)
    assert await repo.get("missing") is None


async def test_close_call_only_once(repo: SqlCallRepository) -> None:
    await open_simple(repo, "1.3")
    ended = T0 + timedelta(minutes=2)

    assert await repo.close_call("1.3", ended, Outcome.COMPLETED, 16) is True
    assert await repo.close_call("1.3", ended + timedelta(1), Outcome.ABANDONED, 17) is False
    assert await repo.close_call("missing", ended, Outcome.COMPLETED, 16) is False

    record = await repo.get("1.3")
    assert record is not None
    assert (record.ended_at, record.outcome, record.hangup_cause) == (ended, "completed", 16)


async def test_close_ignores_an_out_of_range_cause(repo: SqlCallRepository) -> None:
    await open_simple(repo, "1.4")
    assert await repo.close_call("1.4", T0, Outcome.FAILED, 2**40) is True
    record = await repo.get("1.4")
    assert record is not None
    assert (record.outcome, record.hangup_cause) == ("failed", None)


async def test_close_calls_not_in_closes_exactly_the_missing(
    database: Database, repo: SqlCallRepository
) -> None:
    open_ids = [f"open.{i}" for i in range(1200)]
    still_live = set(open_ids[::2])  # 600 open calls are still live, 600 are gone
    closed_before = [f"done.{i}" for i in range(20)]
    row = {"started_at": T0, "caller_num": "1", "caller_name": "", "context": "c", "exten": "e"}
    rows: list[dict[str, Any]] = [
        {**row, "linkedid": linkedid, "ended_at": None, "outcome": None} for linkedid in open_ids
    ]
    rows += [
        {**row, "linkedid": linkedid, "ended_at": T0, "outcome": "completed"}
        for linkedid in closed_before
    ]
    async with database.transaction() as conn:
        await conn.execute(insert(calls), rows)
    live = frozenset(still_live | {f"elsewhere.{i}" for i in range(5000 - len(still_live))})
    assert len(live) == 5000
    ended = T0 + timedelta(hours=1)

    closed = await repo.close_calls_not_in(live, ended)

    assert sorted(closed) == sorted(set(open_ids) - still_live)
    assert await repo.close_calls_not_in(live, ended) == []
    async with database.transaction() as conn:
        result = await conn.execute(select(calls.c.linkedid, calls.c.outcome, calls.c.ended_at))
        by_id = {row.linkedid: (row.outcome, row.ended_at) for row in result}
    for linkedid in open_ids:
        expected = (None, None) if linkedid in still_live else ("lost", ended)
        assert by_id[linkedid] == expected
    for linkedid in closed_before:
        assert by_id[linkedid] == ("completed", T0)


async def test_close_calls_not_in_with_nothing_open(repo: SqlCallRepository) -> None:
    assert await repo.close_calls_not_in(frozenset({"a", "b"}), T0) == []


async def test_recent_is_newest_first_with_keyset_pages(repo: SqlCallRepository) -> None:
    for i in range(7):
        await open_simple(repo, f"c{i}", T0 + timedelta(seconds=i))

    pages: list[list[str]] = []
    before: int | None = None
    while page := await repo.recent(3, before):
        pages.append([r.linkedid for r in page])
        ids = [r.id for r in page]
        assert ids == sorted(ids, reverse=True)
        before = page[-1].id

    assert pages == [["c6", "c5", "c4"], ["c3", "c2", "c1"], ["c0"]]
    assert await repo.recent(0) == []


async def test_record_path_replaces_the_path(repo: SqlCallRepository) -> None:
    await open_simple(repo, "1.5")
    await repo.record_path("1.5", ("menu", "1", "sales"))
    await repo.record_path("1.5", ("menu", "2", "support", "\u00e9t\u00e9 \u4f60\u597d"))
    await repo.record_path("missing", ("x",))

    record = await repo.get("1.5")
    assert record is not None
    assert record.path == ("menu", "2", "support", "\u00e9t\u00e9 \u4f60\u597d")


HOSTILE = [
    "line\r\nAction: Originate\r\n\r\n",
    "${SHELL(rm -rf /)}",
    "'; DROP TABLE calls; --",
    '" OR "1"="1',
    "<script>alert('x')</script>",
    "x" * 10_000,
    "\u200f\u202e\U0001f4de \u00c5ngstr\u00f6m \u4f60\u597d",
    "nul\x00byte",
    "lone \ud800 surrogate",
    "back\\slash %s %(x)s ?",
]


def _stored(value: str, length: int) -> str:
    value = value.replace("\x00", "").replace("\ud800", "?")
    return value[:length]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_strings_are_stored_harmlessly(
    database: Database, repo: SqlCallRepository, hostile: str
) -> None:
    await repo.open_call(hostile, T0, hostile, hostile, hostile, hostile)
    await repo.record_path(hostile, (hostile, "ok"))
    await repo.mark_answered(hostile, T0)

    record = await repo.get(hostile)
    assert record is not None
    assert record.linkedid == _stored(hostile, 64)
    assert record.caller_num == record.caller_name == _stored(hostile, 128)
    assert record.context == record.exten == _stored(hostile, 80)
    assert record.path == (_stored(hostile, 10_000), "ok")
    assert record.answered_at == T0
    assert await repo.close_call(hostile, T0, Outcome.COMPLETED, 16) is True
    async with database.transaction() as conn:
        assert await conn.scalar(select(func.count()).select_from(calls)) == 1


async def test_aware_datetimes_round_trip_in_utc(repo: SqlCallRepository) -> None:
    paris = timezone(timedelta(hours=1))
    kolkata = timezone(timedelta(hours=5, minutes=30))
    started = datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=paris)
    await repo.open_call("tz", started, "1", "", "c", "e")
    await repo.mark_answered("tz", datetime(2026, 3, 29, 6, 30, 5, tzinfo=kolkata))
    await repo.close_call("tz", datetime(2026, 3, 29, 1, 5, tzinfo=UTC), Outcome.ANSWERED, None)

    record = await repo.get("tz")
    assert record is not None
    for value in (record.started_at, record.answered_at, record.ended_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert record.started_at == started
    assert record.started_at.hour == 0 and record.started_at.microsecond == 999999
    assert record.answered_at == datetime(2026, 3, 29, 1, 0, 5, tzinfo=UTC)


async def test_naive_datetimes_are_refused(repo: SqlCallRepository) -> None:
    with pytest.raises(sa_exc.StatementError, match="naive datetime"):
        await repo.open_call("naive", datetime(2026, 1, 1), "1", "", "c", "e")


async def test_ping(database: Database) -> None:
    assert await database.ping() is True


async def test_query_errors_are_not_mistaken_for_an_outage(database: Database) -> None:
    row = {"linkedid": "dup", "started_at": T0, "caller_num": "", "caller_name": ""}
    row |= {"context": "", "exten": ""}
    with pytest.raises(sa_exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(insert(calls), [row, row])


def test_outage_classification() -> None:
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    assert is_unavailable(TimeoutError())
    assert is_unavailable(sa_exc.OperationalError("x", {}, Exception("database is locked")))
    assert is_unavailable(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert not is_unavailable(ValueError("bad"))
    assert not is_unavailable(sa_exc.IntegrityError("x", {}, Exception("duplicate key")))
    assert not is_unavailable(sa_exc.InterfaceError("x", {}, ValueError("invalid input")))


async def test_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{directory}"))
    try:
        with pytest.raises(StorageUnavailable):
            await open_simple(SqlCallRepository(db), "x")
        assert await db.ping() is False
    finally:
        await db.close()
        await _sqlite_workers_stopped()


async def _sqlite_workers_stopped() -> None:
    """aiosqlite stops a failed connection's thread without waiting; let it finish in this loop."""
    for _ in range(100):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


@pytest.fixture
async def killer(pg_server: PgServer) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=pg_server.port, user="cc", database="postgres"
    )
    yield connection
    await connection.close()


@pytest.mark.postgres
async def test_dropped_connection_is_unavailable_then_recovers(
    pg_server: PgServer, killer: asyncpg.Connection
) -> None:
    db = Database(DatabaseSettings(url=await pg_server.create_database()))
    try:
        await db.migrate()
        repo = SqlCallRepository(db)
        await open_simple(repo, "before")
        with pytest.raises(StorageUnavailable):
            async with db.transaction() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                await killer.execute("SELECT pg_terminate_backend($1, 5000)", pid)
                await conn.execute(text("SELECT 1"))
        await open_simple(repo, "after")  # the pool hands out a fresh connection
        assert [r.linkedid for r in await repo.recent(10)] == ["after", "before"]
    finally:
        await db.close()


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    """A server of this test's own, which the test stops and starts again."""
    server = PgServer.create()
    yield server
    server.destroy()


@pytest.mark.postgres
async def test_stopped_server_is_unavailable_then_recovers(own_pg_server: PgServer) -> None:
    db = Database(DatabaseSettings(url=await own_pg_server.create_database()), connect_timeout=3)
    try:
        await db.migrate()
        repo = SqlCallRepository(db)
        await open_simple(repo, "before")

        own_pg_server.stop()
        with pytest.raises(StorageUnavailable):
            await open_simple(repo, "during")
        with pytest.raises(StorageUnavailable):
            await repo.recent(10)
        assert await db.ping() is False

        own_pg_server.start()
        await open_simple(repo, "during")
        assert await db.ping() is True
        assert await repo.close_call("before", T0, Outcome.COMPLETED, 16) is True
        assert [r.linkedid for r in await repo.recent(10)] == ["during", "before"]
    finally:
        await db.close()


async def test_write_carries_out_a_batch_in_one_unit_of_work(repo: SqlCallRepository) -> None:
    later = T0 + timedelta(seconds=30)
    await repo.write(
        [
            OpenCall("1.1", T0, "0611223344", "Alice", "from-pstn", "100"),
            OpenCall("1.2", T0, "0622", "Bob\x00", "from-pstn", "100"),
            MarkAnswered("1.1", T0 + timedelta(seconds=2)),
            RecordPath("1.1", ("greeting", "key:1")),
            CloseCall("1.1", later, Outcome.COMPLETED, 2**40),
            OpenCall("1.1", later, "999", "Mallory", "other", "200"),  # ignored: it exists
            MarkAnswered("1.1", later),  # ignored: answered already
            CloseCall("1.1", later + timedelta(seconds=1), Outcome.LOST, 16),  # closed already
        ]
    )
    first = await repo.get("1.1")
    assert first is not None
    assert (first.caller_name, first.started_at, first.answered_at) == (
        "Alice",
        T0,
        T0 + timedelta(seconds=2),
    )
    assert (first.path, first.ended_at, first.outcome, first.hangup_cause) == (
        ("greeting", "key:1"),
        later,
        "completed",
        None,
    )
    second = await repo.get("1.2")
    assert second is not None and second.caller_name == "Bob" and second.ended_at is None


async def test_write_keeps_a_resync_between_what_came_before_and_after(
    repo: SqlCallRepository,
) -> None:
    await repo.write([OpenCall("1.1", T0, "", "", "c", "s"), OpenCall("1.2", T0, "", "", "c", "s")])
    lost = await repo.write(
        [
            OpenCall("1.3", T0, "", "", "c", "s"),  # before the snapshot: not live, so lost
            CloseLostCalls(frozenset({"1.2"}), T0),
            OpenCall("1.4", T0, "", "", "c", "s"),  # after it: stays open
        ]
    )
    assert sorted(lost) == ["1.1", "1.3"]
    open_rows = {r.linkedid for r in await repo.recent(10) if r.ended_at is None}
    assert open_rows == {"1.2", "1.4"}


async def test_write_is_all_or_nothing(repo: SqlCallRepository) -> None:
    with pytest.raises(sa_exc.StatementError):
        await repo.write(
            [
                OpenCall("1.1", T0, "", "", "c", "s"),
                MarkAnswered("1.1", datetime(2026, 3, 1, 9, 30)),  # naive: refused
            ]
        )
    assert await repo.get("1.1") is None


async def test_write_inserts_more_rows_than_one_statement_takes(repo: SqlCallRepository) -> None:
    count = 2507  # beyond any backend's parameters per statement, 6 per row
    await repo.write([OpenCall(f"1.{n}", T0, "", "", "c", "s") for n in range(count)])
    await repo.write([CloseCall(f"1.{n}", T0, Outcome.ABANDONED, 16) for n in range(count)])
    rows = await repo.by_linkedids(f"1.{n}" for n in range(count))
    assert len(rows) == count and all(r.outcome == "abandoned" for r in rows)
