"""Voicemail messages and the outbox in SQL.

:meth:`SqlVoicemailRepository.add` is the unit of work that makes a message known: its row and
one outbox row per channel, in one transaction; adding the same message again (a retry after
a storage fault, a pending sidecar recovered at start-up) changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.storage.db import Database
from callcenter.storage.tables import (
    AGENT_LENGTH,
    CALLER_LENGTH,
    LINKEDID_LENGTH,
    voicemail_messages,
    voicemail_outbox,
)
from callcenter.storage.text import clean_text
from callcenter.voicemail.model import (
    Channel,
    Delivery,
    DeliveryStatus,
    Message,
    MessageNotFound,
    NewMessage,
    Outcome,
)


class SqlVoicemailRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, message: NewMessage, channels: Sequence[Channel]) -> bool:
        """Store the message and its deliveries; False when it was already stored."""
        async with self._db.transaction() as conn:
            found = await conn.scalar(
                select(voicemail_messages.c.id).where(voicemail_messages.c.id == message.id)
            )
            if found is not None:
                return False
            await conn.execute(voicemail_messages.insert().values(**_row(message)))
            for channel in channels:
                await conn.execute(
                    voicemail_outbox.insert().values(
                        message_id=message.id,
                        channel=channel.value,
                        status=DeliveryStatus.PENDING.value,
                        attempts=0,
                        next_at=message.created_at,
                        last_error="",
                    )
                )
        return True

    async def get(self, message_id: str) -> Message:
        async with self._db.transaction() as conn:
            return await _get(conn, message_id)

    async def messages(
        self,
        mailbox: str | None,
        include_deleted: bool,
        limit: int,
        before: datetime | None,
        within: Collection[str] | None = None,
    ) -> list[Message]:
        """Newest first; ``within`` (when given) keeps the messages of those mailboxes only."""
        table = voicemail_messages
        query = select(table).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        if mailbox is not None:
            query = query.where(table.c.mailbox == mailbox)
        if within is not None:
            query = query.where(table.c.mailbox.in_(sorted(within)))
        if not include_deleted:
            query = query.where(table.c.deleted_at.is_(None))
        if before is not None:
            query = query.where(table.c.created_at < before)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_message(r) for r in rows]

    async def mark_heard(self, message_id: str, by: str, at: datetime) -> Message:
        table = voicemail_messages
        async with self._db.transaction() as conn:
            await _get(conn, message_id)
            await conn.execute(
                update(table)
                .where(table.c.id == message_id, table.c.heard_at.is_(None))
                .values(heard_at=at, heard_by=clean_text(by, AGENT_LENGTH))
            )
            return await _get(conn, message_id)

    async def mark_deleted(self, message_id: str, by: str, at: datetime) -> Message:
        """Keep the row with who deleted it; deliveries not made yet are cancelled."""
        table, outbox = voicemail_messages, voicemail_outbox
        async with self._db.transaction() as conn:
            message = await _get(conn, message_id)
            if message.deleted_at is not None:
                return message
            await conn.execute(
                update(table)
                .where(table.c.id == message_id)
                .values(deleted_at=at, deleted_by=clean_text(by, AGENT_LENGTH))
            )
            await conn.execute(
                update(outbox)
                .where(
                    outbox.c.message_id == message_id,
                    outbox.c.status == DeliveryStatus.PENDING.value,
                )
                .values(status=DeliveryStatus.CANCELLED.value, next_at=at)
            )
            return await _get(conn, message_id)

    async def set_transcript(self, message_id: str, text: str) -> None:
        table = voicemail_messages
        async with self._db.transaction() as conn:
            await conn.execute(
                update(table).where(table.c.id == message_id).values(transcript=text)
            )

    async def created_before(self, cutoff: datetime, limit: int) -> list[str]:
        table = voicemail_messages
        query = select(table.c.id).where(table.c.created_at < cutoff).limit(limit)
        async with self._db.transaction() as conn:
            return list((await conn.scalars(query)).all())

    async def remove(self, message_ids: Sequence[str]) -> None:
        """Remove messages and their deliveries for good (the retention purge)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                delete(voicemail_outbox).where(voicemail_outbox.c.message_id.in_(message_ids))
            )
            await conn.execute(
                delete(voicemail_messages).where(voicemail_messages.c.id.in_(message_ids))
            )

    # --- the outbox ----------------------------------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        outbox = voicemail_outbox
        query = (
            select(outbox)
            .where(outbox.c.status == DeliveryStatus.PENDING.value, outbox.c.next_at <= now)
            .order_by(outbox.c.next_at, outbox.c.id)
            .limit(limit)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(r) for r in rows]

    async def next_due(self) -> datetime | None:
        outbox = voicemail_outbox
        query = select(outbox.c.next_at).where(outbox.c.status == DeliveryStatus.PENDING.value)
        async with self._db.transaction() as conn:
            return await conn.scalar(query.order_by(outbox.c.next_at).limit(1))

    async def deliveries(self, message_id: str) -> list[Delivery]:
        outbox = voicemail_outbox
        query = select(outbox).where(outbox.c.message_id == message_id).order_by(outbox.c.id)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(r) for r in rows]

    async def record(self, delivery: Delivery, outcome: Outcome) -> bool:
        """Apply one attempt's outcome if the row is still as read; False when it was not."""
        outbox = voicemail_outbox
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == delivery.id,
                    outbox.c.status == delivery.status.value,
                    outbox.c.attempts == delivery.attempts,
                )
                .values(
                    status=outcome.status.value,
                    attempts=outcome.attempts,
                    next_at=outcome.next_at,
                    last_error=clean_text(outcome.last_error, 500),
                    delivered_at=outcome.delivered_at,
                )
            )
        return bool(changed.rowcount == 1)


async def _get(conn: AsyncConnection, message_id: str) -> Message:
    table = voicemail_messages
    row = (await conn.execute(select(table).where(table.c.id == message_id))).first()
    if row is None:
        raise MessageNotFound(f"no voicemail message {message_id[:40]!r}")
    return _message(row)


def _row(message: NewMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "mailbox": message.mailbox,
        "caller": clean_text(message.caller, CALLER_LENGTH),
        "caller_name": clean_text(message.caller_name, CALLER_LENGTH),
        "customer_id": message.customer_id,
        "queue": clean_text(message.queue, AGENT_LENGTH),
        "call": clean_text(message.call, LINKEDID_LENGTH),
        "ivr_path": json.dumps(list(message.ivr_path)),
        "duration": round(message.duration, 3),
        "created_at": message.created_at,
        "heard_by": "",
        "deleted_by": "",
    }


def _message(row: Any) -> Message:
    new = NewMessage(
        id=row.id,
        mailbox=row.mailbox,
        caller=row.caller,
        caller_name=row.caller_name,
        customer_id=row.customer_id,
        queue=row.queue,
        call=row.call,
        ivr_path=tuple(json.loads(row.ivr_path)),
        duration=row.duration,
        created_at=row.created_at,
    )
    return Message(new, row.heard_at, row.heard_by, row.deleted_at, row.deleted_by, row.transcript)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        message_id=row.message_id,
        channel=Channel(row.channel),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_at=row.next_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )
