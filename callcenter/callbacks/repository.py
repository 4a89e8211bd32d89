"""Callback tasks in SQL; adding the same request twice (same key) keeps the first.

Every change of a task is one transaction that reads the row, asks the model whether the
change is allowed (the status table and, when given, who asks), and updates the row only if
it is still as read: of two agents claiming at once, one wins and the other gets 409.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.callbacks.model import (
    UNHANDLED,
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

    async def add(self, request: CallbackRequest) -> bool:
        """Store the request as an open task; False when its key was stored before."""
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
            added = await conn.execute(statement)
        return bool(added.rowcount == 1)

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
        self,
        status: TaskStatus | None,
        limit: int,
        before_id: int | None = None,
        *,
        escalated: bool | None = None,
        queues: Collection[str] | None = None,
    ) -> list[CallbackTask]:
        """Newest first; ``queues`` (when given) keeps the tasks of those queues only."""
        table = callback_tasks
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(table.c.status == status.value)
        if before_id is not None:
            query = query.where(table.c.id < before_id)
        if escalated is not None:
            column = table.c.escalated_at
            query = query.where(column.is_not(None) if escalated else column.is_(None))
        if queues is not None:
            query = query.where(table.c.queue.in_(sorted(queues)))
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_task(r) for r in rows]

    async def unhandled(self, after_id: int, limit: int) -> list[CallbackTask]:
        """Tasks not closed and not escalated yet, by id from ``after_id`` (the restart sweep)."""
        table = callback_tasks
        query = (
            select(table)
            .where(
                table.c.id > after_id,
                table.c.status.in_([s.value for s in UNHANDLED]),
                table.c.escalated_at.is_(None),
            )
            .order_by(table.c.id)
            .limit(limit)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_task(r) for r in rows]

    async def escalate(self, task_id: int, at: datetime) -> CallbackTask | None:
        """Mark the task escalated if it is still unhandled and was not before; else None."""
        table = callback_tasks
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                update(table)
                .where(
                    table.c.id == task_id,
                    table.c.status.in_([s.value for s in UNHANDLED]),
                    table.c.escalated_at.is_(None),
                )
                .values(escalated_at=at)
            )
        return await self.get(task_id) if changed.rowcount == 1 else None

    async def act(
        self,
        task_id: int,
        action: TaskAction,
        agent: str,
        note: str,
        at: datetime,
        check: Callable[[CallbackTask], None] | None = None,
    ) -> CallbackTask:
        """Move a task by the status table, in one transaction (two agents cannot both);
        ``check`` (who may) sees the task as read and raises to refuse."""
        table = callback_tasks
        async with self._db.transaction() as conn:
            row = (await conn.execute(select(table).where(table.c.id == task_id))).first()
            if row is None:
                raise CallbackNotFound(f"no callback task {task_id}")
            task = _task(row)
            if check is not None:
                check(task)
            new = next_status(task_id, task.status, action)
            changed = await conn.execute(
                update(table)
                .where(table.c.id == task_id, table.c.status == task.status.value)
                .values(status=new.value, **_changes(action, agent, note, at))
            )
            if changed.rowcount != 1:
                raise Conflict(f"callback task {task_id} changed meanwhile; read it again")
        return await self.get(task_id)


def _changes(action: TaskAction, agent: str, note: str, at: datetime) -> dict[str, Any]:
    """The columns an action writes besides the status."""
    who = clean_text(agent, AGENT_LENGTH)
    match action:
        case TaskAction.CLAIM:
            return {"claimed_by": who, "claimed_at": at}
        case TaskAction.RELEASE:
            return {"claimed_by": None, "claimed_at": None}
        case TaskAction.COMPLETE | TaskAction.CANCEL:
            return {"done_at": at, "done_by": who, "outcome_note": clean_text(note, NOTE_LENGTH)}


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
        row.id,
        request,
        TaskStatus(row.status),
        row.done_at,
        row.done_by,
        row.outcome_note,
        row.claimed_by or "",
        row.claimed_at,
        row.escalated_at,
    )
