"""Callback tasks in SQL; adding the same request twice (same key) keeps the first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.callbacks.model import (
    CallbackRequest,
    CallbackTask,
    TaskAction,
    TaskStatus,
    next_status,
)
from callcenter.errors import Conflict, NotFound
from callcenter.storage.db import Database
from callcenter.storage.tables import (
    AGENT_LENGTH,
    CALLER_LENGTH,
    KEY_LENGTH,
    LINKEDID_LENGTH,
    NOTE_LENGTH,
    callback_tasks,
)
from callcenter.storage.text import clean_text


class CallbackNotFound(NotFound):
    code = "callback_not_found"


class SqlCallbackRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, request: CallbackRequest) -> None:
        values = {
            "key": clean_text(request.key, KEY_LENGTH),
            "number": clean_text(request.number, CALLER_LENGTH),
            "name": clean_text(request.name, CALLER_LENGTH),
            "call": clean_text(request.call, LINKEDID_LENGTH),
            "queue": clean_text(request.queue, AGENT_LENGTH),
            "source": clean_text(request.source, AGENT_LENGTH),
            "note": clean_text(request.note, NOTE_LENGTH),
            "requested_at": request.requested_at,
            "status": TaskStatus.OPEN.value,
            "done_by": "",
            "outcome_note": "",
        }
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(callback_tasks)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[callback_tasks.c.key])
        )
        async with self._db.transaction() as conn:
            await conn.execute(statement)

    async def get(self, task_id: int) -> CallbackTask:
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(select(callback_tasks).where(callback_tasks.c.id == task_id))
            ).first()
        if row is None:
            raise CallbackNotFound(f"no callback task {task_id}")
        return _task(row)

    async def by_key(self, key: str) -> CallbackTask:
        query = select(callback_tasks).where(callback_tasks.c.key == key)
        async with self._db.transaction() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise CallbackNotFound(f"no callback task for {key!r}")
        return _task(row)

    async def recent(
        self, status: TaskStatus | None, limit: int, before_id: int | None = None
    ) -> list[CallbackTask]:
        query = select(callback_tasks).order_by(callback_tasks.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(callback_tasks.c.status == status.value)
        if before_id is not None:
            query = query.where(callback_tasks.c.id < before_id)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_task(r) for r in rows]

    async def act(
        self, task_id: int, action: TaskAction, agent: str, note: str, at: datetime
    ) -> CallbackTask:
        """Move a task by the status table, in one transaction (two agents cannot both)."""
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(select(callback_tasks).where(callback_tasks.c.id == task_id))
            ).first()
            if row is None:
                raise CallbackNotFound(f"no callback task {task_id}")
            status = TaskStatus(row.status)
            new = next_status(task_id, status, action)
            changed = await conn.execute(
                update(callback_tasks)
                .where(callback_tasks.c.id == task_id, callback_tasks.c.status == status.value)
                .values(
                    status=new.value,
                    done_at=at,
                    done_by=clean_text(agent, AGENT_LENGTH),
                    outcome_note=clean_text(note, NOTE_LENGTH),
                )
            )
            if changed.rowcount != 1:
                raise Conflict(f"callback task {task_id} changed meanwhile; read it again")
        return await self.get(task_id)


def _task(row: Any) -> CallbackTask:
    request = CallbackRequest(
        key=row.key,
        number=row.number,
        name=row.name,
        call=row.call,
        queue=row.queue,
        source=row.source,
        note=row.note,
        requested_at=row.requested_at,
    )
    return CallbackTask(
        row.id, request, TaskStatus(row.status), row.done_at, row.done_by, row.outcome_note
    )
