"""The call ledger in SQL: :class:`~callcenter.calls.ports.CallRepository` on a database.

Every write is idempotent (an insert that ignores an existing linkedid, updates guarded by
``answered_at IS NULL`` / ``ended_at IS NULL``), so the ledger service may retry any command.
Strings come from callers and the network: they are only ever bound as parameters, stripped of
NUL characters (PostgreSQL refuses them) and of unencodable surrogates, and cut to the column
length. Each method is one unit of work; an unreachable database raises
:class:`~callcenter.errors.StorageUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Update, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from callcenter.calls.model import CallRecord, Outcome
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


class SqlCallRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_call(
        self,
        linkedid: str,
        started_at: datetime,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
    ) -> None:
        values = {
            "linkedid": _linkedid(linkedid),
            "started_at": started_at,
            "caller_num": clean_text(caller_num, CALLER_LENGTH),
            "caller_name": clean_text(caller_name, CALLER_LENGTH),
            "context": clean_text(context, DIALPLAN_LENGTH),
            "exten": clean_text(exten, DIALPLAN_LENGTH),
        }
        async with self._db.transaction() as conn:
            await conn.execute(self._insert_ignoring_existing(values))

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
        live_ids = {_linkedid(linkedid) for linkedid in live}
        closed: list[str] = []
        async with self._db.transaction() as conn:
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

    def _insert_ignoring_existing(self, values: dict[str, Any]) -> Insert:
        if self._db.dialect == "postgresql":
            return (
                pg_insert(calls)
                .values(values)
                .on_conflict_do_nothing(index_elements=[calls.c.linkedid])
            )
        return (
            sqlite_insert(calls)
            .values(values)
            .on_conflict_do_nothing(index_elements=[calls.c.linkedid])
        )


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
    in_range = hangup_cause is not None and INT32_MIN <= hangup_cause <= INT32_MAX
    cause = hangup_cause if in_range else None
    return (
        update(calls)
        .where(calls.c.ended_at.is_(None))
        .values(ended_at=ended_at, outcome=outcome.value, hangup_cause=cause)
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
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
