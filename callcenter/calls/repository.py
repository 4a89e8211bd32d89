"""The call ledger in SQL: :class:`~callcenter.calls.ports.CallRepository` on a database.

Every write is idempotent (an insert that ignores an existing linkedid, updates guarded by
``answered_at IS NULL`` / ``ended_at IS NULL``), so the ledger service may retry any command.
Strings come from callers and the network: they are only ever bound as parameters, stripped of
NUL characters (PostgreSQL refuses them) and of unencodable surrogates, and cut to the column
length. Each method is one unit of work; an unreachable database raises
:class:`~callcenter.errors.StorageUnavailable`.

:meth:`SqlCallRepository.write` carries out many ledger commands as one unit of work: per
kind one statement (a multi-row insert, or one update run for many rows), in the order a call
lives (opened, answered, path, closed), so the engine's thread spends a few statements, not
three transactions, per call. ``CloseLostCalls`` is a barrier: what was queued before it is
written before it runs, what came after it runs after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Update, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from callcenter.calls.model import (
    CallRecord,
    CloseCall,
    CloseLostCalls,
    LedgerCommand,
    MarkAnswered,
    OpenCall,
    Outcome,
    RecordPath,
)
from callcenter.storage.db import Database
from callcenter.storage.tables import (
    CALLER_LENGTH,
    DIALPLAN_LENGTH,
    LINKEDID_LENGTH,
    calls,
)
from callcenter.storage.text import clean_text

# Rows closed or read per statement by close_calls_not_in and by_linkedids (well under every
# backend's parameter limit).
CLOSE_CHUNK = 500
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_T = TypeVar("_T")

_ANSWER = (
    update(calls)
    .where(calls.c.linkedid == bindparam("b_linkedid"), calls.c.answered_at.is_(None))
    .values(answered_at=bindparam("b_at"))
)
_PATH = (
    update(calls)
    .where(calls.c.linkedid == bindparam("b_linkedid"))
    .values(path=bindparam("b_path"))
)
_CLOSE = (
    update(calls)
    .where(calls.c.linkedid == bindparam("b_linkedid"), calls.c.ended_at.is_(None))
    .values(
        ended_at=bindparam("b_ended_at"),
        outcome=bindparam("b_outcome"),
        hangup_cause=bindparam("b_cause"),
    )
)


class SqlCallRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, commands: Sequence[LedgerCommand]) -> list[str]:
        """Carry out ``commands`` as one unit of work (see the module docstring); returns the
        linkedids its ``CloseLostCalls`` closed."""
        closed: list[str] = []
        async with self._db.transaction() as conn:
            for segment, barrier in _segments(commands):
                await self._write_segment(conn, segment)
                if barrier is not None:
                    closed += await _close_lost(conn, barrier.live, barrier.ended_at)
        return closed

    async def _write_segment(self, conn: AsyncConnection, segment: list[LedgerCommand]) -> None:
        opens = [_open_values(c) for c in segment if isinstance(c, OpenCall)]
        if opens:  # one statement, compiled once, run for many rows
            await conn.execute(self._insert_ignoring_existing(), opens)
        answers = [
            {"b_linkedid": _linkedid(c.linkedid), "b_at": c.at}
            for c in segment
            if isinstance(c, MarkAnswered)
        ]
        paths = [
            {"b_linkedid": _linkedid(c.linkedid), "b_path": encode_path(c.path)}
            for c in segment
            if isinstance(c, RecordPath)
        ]
        closes = [_close_values(c) for c in segment if isinstance(c, CloseCall)]
        for statement, rows in ((_ANSWER, answers), (_PATH, paths), (_CLOSE, closes)):
            if rows:
                await conn.execute(statement, rows)

    async def open_call(
        self,
        linkedid: str,
        started_at: datetime,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
    ) -> None:
        command = OpenCall(linkedid, started_at, caller_num, caller_name, context, exten)
        async with self._db.transaction() as conn:
            await conn.execute(self._insert_ignoring_existing(), _open_values(command))

    async def mark_answered(self, linkedid: str, at: datetime) -> None:
        statement = (
            update(calls)
            .where(calls.c.linkedid == _linkedid(linkedid), calls.c.answered_at.is_(None))
            .values(answered_at=at)
        )
        async with self._db.transaction() as conn:
            await conn.execute(statement)

    async def record_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        statement = (
            update(calls)
            .where(calls.c.linkedid == _linkedid(linkedid))
            .values(path=encode_path(path))
        )
        async with self._db.transaction() as conn:
            await conn.execute(statement)

    async def close_call(
        self, linkedid: str, ended_at: datetime, outcome: Outcome, hangup_cause: int | None
    ) -> bool:
        statement = _close(ended_at, outcome, hangup_cause).where(
            calls.c.linkedid == _linkedid(linkedid)
        )
        async with self._db.transaction() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def close_calls_not_in(self, live: frozenset[str], ended_at: datetime) -> list[str]:
        async with self._db.transaction() as conn:
            return await _close_lost(conn, live, ended_at)

    async def get(self, linkedid: str) -> CallRecord | None:
        statement = select(calls).where(calls.c.linkedid == _linkedid(linkedid))
        async with self._db.transaction() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _record(row)

    async def by_linkedids(self, linkedids: Iterable[str]) -> list[CallRecord]:
        """The rows of these calls (any order; unknown linkedids are left out)."""
        wanted = list(dict.fromkeys(_linkedid(linkedid) for linkedid in linkedids))
        found: list[CallRecord] = []
        async with self._db.transaction() as conn:
            for chunk in _chunks(wanted, CLOSE_CHUNK):
                rows = (await conn.execute(select(calls).where(calls.c.linkedid.in_(chunk)))).all()
                found.extend(_record(row) for row in rows)
        return found

    async def recent(self, limit: int, before_id: int | None = None) -> list[CallRecord]:
        statement = select(calls).order_by(calls.c.id.desc()).limit(max(limit, 0))
        if before_id is not None:
            statement = statement.where(calls.c.id < before_id)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return [_record(row) for row in rows]

    def _insert_ignoring_existing(self) -> Insert:
        """An insert of the values given with it (one row or many) that skips a linkedid
        already stored."""
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        return insert(calls).on_conflict_do_nothing(index_elements=[calls.c.linkedid])


def _segments(
    commands: Sequence[LedgerCommand],
) -> Iterator[tuple[list[LedgerCommand], CloseLostCalls | None]]:
    """The commands cut at each CloseLostCalls: (what comes before it, it); the last segment
    has no barrier."""
    segment: list[LedgerCommand] = []
    for command in commands:
        if isinstance(command, CloseLostCalls):
            yield segment, command
            segment = []
        else:
            segment.append(command)
    if segment:
        yield segment, None


async def _close_lost(conn: AsyncConnection, live: frozenset[str], ended_at: datetime) -> list[str]:
    live_ids = {_linkedid(linkedid) for linkedid in live}
    closed: list[str] = []
    result = await conn.execute(select(calls.c.linkedid).where(calls.c.ended_at.is_(None)))
    gone = [linkedid for linkedid in result.scalars() if linkedid not in live_ids]
    for chunk in _chunks(gone, CLOSE_CHUNK):
        statement = (
            _close(ended_at, Outcome.LOST, None)
            .where(calls.c.linkedid.in_(chunk))
            .returning(calls.c.linkedid)
        )
        closed.extend((await conn.execute(statement)).scalars())
    return closed


def _open_values(command: OpenCall) -> dict[str, Any]:
    return {
        "linkedid": _linkedid(command.linkedid),
        "started_at": command.started_at,
        "caller_num": clean_text(command.caller_num, CALLER_LENGTH),
        "caller_name": clean_text(command.caller_name, CALLER_LENGTH),
        "context": clean_text(command.context, DIALPLAN_LENGTH),
        "exten": clean_text(command.exten, DIALPLAN_LENGTH),
    }


def _close_values(command: CloseCall) -> dict[str, Any]:
    return {
        "b_linkedid": _linkedid(command.linkedid),
        "b_ended_at": command.ended_at,
        "b_outcome": command.outcome.value,
        "b_cause": _cause(command.hangup_cause),
    }


def _cause(hangup_cause: int | None) -> int | None:
    in_range = hangup_cause is not None and INT32_MIN <= hangup_cause <= INT32_MAX
    return hangup_cause if in_range else None


def encode_path(path: Iterable[str]) -> str:
    return json.dumps([clean_text(step, 10_000) for step in path], ensure_ascii=False)


def decode_path(raw: str | None) -> tuple[str, ...]:
    try:
        steps = json.loads(raw or "[]")
    except ValueError:
        return ()
    if not isinstance(steps, list):
        return ()
    return tuple(str(step) for step in steps)


def _linkedid(value: str) -> str:
    return clean_text(value, LINKEDID_LENGTH)


def _close(ended_at: datetime, outcome: Outcome, hangup_cause: int | None) -> Update:
    return (
        update(calls)
        .where(calls.c.ended_at.is_(None))
        .values(ended_at=ended_at, outcome=outcome.value, hangup_cause=_cause(hangup_cause))
    )


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record(row: Row[Any]) -> CallRecord:
    m = row._mapping
    return CallRecord(
        linkedid=m["linkedid"],
        started_at=m["started_at"],
        answered_at=m["answered_at"],
        ended_at=m["ended_at"],
        caller_num=m["caller_num"],
        caller_name=m["caller_name"],
        context=m["context"],
        exten=m["exten"],
        outcome=m["outcome"],
        hangup_cause=m["hangup_cause"],
        path=decode_path(m["path"]),
        id=m["id"],
    )
