"""Voicemail as use cases: keep a recorded message durably, list, play, mark heard, delete,
purge old messages; the outbox dispatcher runs beside it.

Keeping a message (:meth:`VoicemailService.keep`), in this order: the take is installed in the
store (synced); the message row and its deliveries are committed in one unit of work; only
then is the dispatcher woken. If the database is down at that moment the row's values are
synced beside the audio (a sidecar) and committed by :meth:`run` as soon as the database is
back (and at start-up, for a sidecar left by a crash): nothing recorded is lost, and nobody
is told of a message before it is committed.

A pluggable transcription hook (``transcriber``: the audio's path to text, or None) runs
after the commit; there is none by default (no speech service is assumed).

Who may read what: supervisors every mailbox; an agent the mailboxes whose ``group`` is a
queue they serve (``queues_of``: the ACD configuration). The reading methods take the set of
mailboxes allowed (:meth:`VoicemailService.readable`; None: all) and refuse the others with
403; deleting is left to supervisors by the API's roles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from callcenter.clock import Clock
from callcenter.errors import Forbidden, StorageUnavailable
from callcenter.voicemail.dispatcher import Dispatcher
from callcenter.voicemail.model import (
    Delivery,
    MailboxNotFound,
    Message,
    MessageNotFound,
    NewMessage,
    channels_for,
)
from callcenter.voicemail.repository import SqlVoicemailRepository
from callcenter.voicemail.settings import MailboxSettings, VoicemailSettings
from callcenter.voicemail.store import MessageStore

log = logging.getLogger(__name__)

Transcriber = Callable[[Path], Awaitable[str | None]]
PURGE_BATCH = 500


class VoicemailService:
    def __init__(
        self,
        repository: SqlVoicemailRepository,
        store: MessageStore,
        settings: VoicemailSettings,
        clock: Clock,
        dispatcher: Dispatcher,
        *,
        email: bool,
        transcriber: Transcriber | None = None,
        queues_of: Callable[[str], frozenset[str]] | None = None,
        phone: bool = False,
    ) -> None:
        self._repository = repository
        self._store = store
        self._settings = settings
        self._clock = clock
        self._dispatcher = dispatcher
        self._email = email
        self._phone = phone
        self._transcriber = transcriber
        self._queues_of = queues_of or (lambda _agent: frozenset())
        self._pending: asyncio.Queue[NewMessage] = asyncio.Queue()
        self._uncommitted: set[str] = set()
        self._listeners: list[Callable[[NewMessage], None]] = []
        self._background: set[asyncio.Task[None]] = set()

    @property
    def store(self) -> MessageStore:
        return self._store

    @property
    def backlog(self) -> int:
        """Messages recorded whose row is not committed yet (the database was down)."""
        return len(self._uncommitted)

    def now(self) -> datetime:
        return self._clock.now()

    def mailbox(self, name: str) -> MailboxSettings | None:
        return self._settings.mailboxes.get(name)

    def mailbox_or_default(self, name: str) -> MailboxSettings:
        return self._settings.mailboxes.get(name) or MailboxSettings()

    def mailboxes(self) -> Mapping[str, MailboxSettings]:
        return self._settings.mailboxes

    def readable(self, agent: str) -> frozenset[str]:
        """The mailboxes ``agent`` may read: those whose group is a queue they serve."""
        queues = self._queues_of(agent) if agent else frozenset()
        return frozenset(
            name for name, box in self._settings.mailboxes.items() if box.group in queues
        )

    # --- keeping a message ---------------------------------------------------------------------

    async def keep(self, message: NewMessage, take: Path) -> None:
        """Install the take as the message's audio, then commit its row and deliveries."""
        await asyncio.to_thread(self._store.install, take, message.id)
        try:
            await self._commit(message)
        except StorageUnavailable as exc:
            log.warning("voicemail: %s kept on disk, row pending (%s)", message.id, exc)
            self._uncommitted.add(message.id)
            await asyncio.to_thread(self._store.write_pending, message.id, _pending_row(message))
            self._pending.put_nowait(message)

    async def _commit(self, message: NewMessage) -> None:
        mailbox = self.mailbox_or_default(message.mailbox)
        channels = channels_for(
            self._email and bool(mailbox.email_to),
            bool(message.caller),
            self._phone and bool(mailbox.on_duty),
        )
        added = await self._repository.add(message, channels)
        await asyncio.to_thread(self._store.clear_pending, message.id)
        self._uncommitted.discard(message.id)
        if added:
            log.info(
                "voicemail: message %s in %s from %r, %.1f s",
                message.id,
                message.mailbox,
                message.caller,
                message.duration,
            )
            self._dispatcher.wake()
            self._transcribe(message)
            for listener in self._listeners:
                try:
                    listener(message)
                except Exception:
                    log.exception("voicemail: a listener failed on %s", message.id)

    def on_saved(self, listener: Callable[[NewMessage], None]) -> None:
        """``listener`` gets each message once, when its row is committed (the customer's
        contact history); it must not block."""
        self._listeners.append(listener)

    def _transcribe(self, message: NewMessage) -> None:
        if self._transcriber is None:
            return
        task = asyncio.create_task(self._run_transcriber(self._transcriber, message.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_transcriber(self, transcriber: Transcriber, message_id: str) -> None:
        try:
            text = await transcriber(self._store.path(message_id))
            if text is not None:
                await self._repository.set_transcript(message_id, text)
        except Exception:
            log.exception("voicemail: transcription of %s failed", message_id)

    # --- background work -----------------------------------------------------------------------

    async def run(self) -> None:
        """Commit pending rows (sidecars first), deliver the outbox, purge old messages."""
        for row in await asyncio.to_thread(self._store.pending):
            message = _from_pending(row)
            self._uncommitted.add(message.id)
            self._pending.put_nowait(message)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._commit_pending(), name="voicemail-pending")
            group.create_task(self._dispatcher.run(), name="voicemail-outbox")
            group.create_task(self._purge_forever(), name="voicemail-purge")

    async def drained(self) -> None:
        """Every pending row committed (tests)."""
        await self._pending.join()

    async def _commit_pending(self) -> None:
        while True:
            message = await self._pending.get()
            try:
                while True:
                    try:
                        await self._commit(message)
                        break
                    except StorageUnavailable as exc:
                        log.warning("voicemail: row of %s still pending (%s)", message.id, exc)
                        await asyncio.sleep(self._settings.retry_min)
            finally:
                self._pending.task_done()

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge()
            except StorageUnavailable as exc:
                log.warning("voicemail: purge postponed: %s", exc)
            await asyncio.sleep(self._settings.purge_interval)

    async def purge(self) -> int:
        """Remove messages older than ``retention_days`` (rows, deliveries, audio); logged."""
        cutoff = self._clock.now() - timedelta(days=self._settings.retention_days)
        removed = 0
        while ids := await self._repository.created_before(cutoff, PURGE_BATCH):
            await self._repository.remove(ids)
            for message_id in ids:
                await asyncio.to_thread(self._store.delete, message_id)
            removed += len(ids)
        if removed:
            log.info("voicemail: purged %d messages older than %s", removed, cutoff.isoformat())
        return removed

    # --- reading and managing ------------------------------------------------------------------

    async def messages(
        self,
        mailbox: str | None,
        include_deleted: bool,
        limit: int,
        before: datetime | None,
        allowed: frozenset[str] | None = None,
    ) -> list[Message]:
        if mailbox is not None and mailbox not in self._settings.mailboxes:
            raise MailboxNotFound(f"no mailbox {mailbox[:64]!r}")
        if mailbox is not None:
            _may_read(mailbox, allowed)
        return await self._repository.messages(mailbox, include_deleted, limit, before, allowed)

    async def get(self, message_id: str, allowed: frozenset[str] | None = None) -> Message:
        message = await self._repository.get(_checked(message_id))
        _may_read(message.new.mailbox, allowed)
        return message

    async def audio(self, message_id: str, allowed: frozenset[str] | None = None) -> Path:
        message = await self.get(message_id, allowed)
        path = self._store.path(message.id)
        if message.deleted_at is not None or not await asyncio.to_thread(path.is_file):
            raise MessageNotFound(f"the audio of {message_id} is gone")
        return path

    async def mark_heard(
        self, message_id: str, by: str, allowed: frozenset[str] | None = None
    ) -> Message:
        if allowed is not None:
            await self.get(message_id, allowed)
        return await self._repository.mark_heard(_checked(message_id), by, self._clock.now())

    async def delete(self, message_id: str, by: str) -> Message:
        """Delete the audio; the row stays with who deleted it and when (the audit)."""
        message = await self._repository.mark_deleted(_checked(message_id), by, self._clock.now())
        await asyncio.to_thread(self._store.delete, message.id)
        log.info("voicemail: message %s deleted by %r", message.id, by)
        return message

    async def deliveries(
        self, message_id: str, allowed: frozenset[str] | None = None
    ) -> list[Delivery]:
        if allowed is not None:
            await self.get(message_id, allowed)
        return await self._repository.deliveries(_checked(message_id))


def _may_read(mailbox: str, allowed: frozenset[str] | None) -> None:
    if allowed is not None and mailbox not in allowed:
        raise Forbidden(f"mailbox {mailbox[:64]!r} belongs to a queue you do not serve")


def _checked(message_id: str) -> str:
    if len(message_id) != 32 or not all(c in "0123456789abcdef" for c in message_id):
        raise MessageNotFound(f"no voicemail message {message_id[:40]!r}")
    return message_id


def _pending_row(message: NewMessage) -> dict[str, Any]:
    row = asdict(message)
    row["ivr_path"] = list(message.ivr_path)
    row["created_at"] = message.created_at.isoformat()
    return row


def _from_pending(row: dict[str, Any]) -> NewMessage:
    return NewMessage(
        **{
            **row,
            "ivr_path": tuple(row["ivr_path"]),
            "created_at": datetime.fromisoformat(row["created_at"]),
        }
    )
