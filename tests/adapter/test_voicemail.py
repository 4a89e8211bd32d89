"""Voicemail on both backends: a message and its outbox in one unit of work, delivered once on
every channel (a real SMTP server), through a mail server outage, a database outage and a
deletion; retention purge."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from callcenter.clock import FixedClock
from callcenter.prompts.model import parse_wav
from callcenter.storage.db import Database
from callcenter.storage.tables import voicemail_messages, voicemail_outbox
from callcenter.voicemail.model import Channel, DeliveryStatus, MessageNotFound
from callcenter.voicemail.store import PENDING
from tests.adapter.voicemail_parts import (
    MESSAGE_ID,
    T0,
    Parts,
    SmtpServer,
    build,
    free_port,
    message,
    take,
    voicemail_settings,
)

OTHER_ID = "fedcba9876543210fedcba9876543210"


@contextlib.asynccontextmanager
async def running(parts: Parts) -> AsyncIterator[None]:
    task = asyncio.create_task(parts.service.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def statuses(parts: Parts, message_id: str = MESSAGE_ID) -> dict[Channel, DeliveryStatus]:
    return {d.channel: d.status for d in await parts.service.deliveries(message_id)}


async def test_a_message_and_its_deliveries_are_one_unit_of_work(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path)
    channels = (Channel.WEBSOCKET, Channel.EMAIL, Channel.CALLBACK)
    # A failure after the message row was written (here a second e-mail delivery breaks the
    # outbox's unique key) leaves neither the row nor any delivery.
    with pytest.raises(IntegrityError):
        await parts.repository.add(message(), [*channels, Channel.EMAIL])
    async with database.transaction() as conn:
        assert await conn.scalar(select(func.count()).select_from(voicemail_messages)) == 0
        assert await conn.scalar(select(func.count()).select_from(voicemail_outbox)) == 0
    assert await parts.repository.add(message(), channels) is True
    assert await parts.repository.add(message(duration=1.0), channels) is False  # a retry
    stored = await parts.service.get(MESSAGE_ID)
    assert stored.new == message()
    assert await statuses(parts) == dict.fromkeys(channels, DeliveryStatus.PENDING)


async def test_each_channel_gets_the_message_exactly_once(
    database: Database, tmp_path: Path
) -> None:
    settings = voicemail_settings(tmp_path, free_port())
    parts = build(database, settings, tmp_path)
    smtp = SmtpServer(settings.smtp.port)
    await asyncio.to_thread(smtp.start)
    subscriber, _ = parts.feed.subscribe("repair")
    elsewhere, _ = parts.feed.subscribe("billing")
    try:
        async with running(parts):
            await parts.service.keep(message(), take(tmp_path))
            await until(lambda: len(smtp.inbox.mails) == 1 and len(parts.bookings.requests) == 1)
            await until(lambda: subscriber.inbox.qsize() == 1)
            await asyncio.sleep(0.5)  # several dispatcher rounds: nothing is sent twice
    finally:
        await asyncio.to_thread(smtp.stop)
    assert len(smtp.inbox.mails) == 1 and subscriber.inbox.qsize() == 1
    assert elsewhere.inbox.qsize() == 0
    assert await statuses(parts) == {
        Channel.WEBSOCKET: DeliveryStatus.SENT,
        Channel.EMAIL: DeliveryStatus.SENT,
        Channel.CALLBACK: DeliveryStatus.SENT,
    }
    mail = smtp.inbox.mails[0]
    assert mail["To"] == "service@example.com"
    assert mail["Message-ID"] == f"<voicemail-{MESSAGE_ID}@callcenter>"
    assert mail["Bcc"] is None  # the caller's name could not add a header
    (attachment,) = [part for part in mail.walk() if part.get_filename()]
    assert attachment.get_content_type() == "audio/wav"
    audio = attachment.get_payload(decode=True)
    assert isinstance(audio, bytes) and abs(parse_wav(audio).seconds - 9.5) < 0.01
    body = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    text = body.get_payload(decode=True)
    assert isinstance(text, bytes)
    assert f"http://cc.example.com:8080/api/v1/voicemail/messages/{MESSAGE_ID}/audio" in (
        text.decode()
    )
    (request,) = parts.bookings.requests
    assert (request.key, request.source, request.number, request.queue) == (
        f"voicemail:{MESSAGE_ID}",
        "voicemail",
        "13800138000",
        "repair",
    )
    # The audio was installed in the store, the take removed.
    assert parts.store.path(MESSAGE_ID).is_file() and not (tmp_path / "take.wav").exists()


async def test_mail_server_down_then_up_gives_exactly_one_mail(
    database: Database, tmp_path: Path
) -> None:
    settings = voicemail_settings(tmp_path, free_port())
    parts = build(database, settings, tmp_path)
    smtp = SmtpServer(settings.smtp.port)
    async with running(parts):
        await parts.service.keep(message(), take(tmp_path))
        await until(lambda: parts.dispatcher.attempts[Channel.EMAIL] >= 3)
        (email,) = [d for d in await parts.service.deliveries(MESSAGE_ID) if d.channel == "email"]
        assert email.status is DeliveryStatus.PENDING and "unreachable" in email.last_error
        # The other channels were not held up by the mail server.
        assert (await statuses(parts))[Channel.WEBSOCKET] is DeliveryStatus.SENT
        await asyncio.to_thread(smtp.start)
        try:
            await until(lambda: len(smtp.inbox.mails) == 1)
            await asyncio.sleep(0.6)  # longer than the longest retry delay
        finally:
            await asyncio.to_thread(smtp.stop)
    assert len(smtp.inbox.mails) == 1
    assert (await statuses(parts))[Channel.EMAIL] is DeliveryStatus.SENT


async def test_a_message_recorded_while_the_database_is_down_is_kept_and_notified_once(
    database: Database, tmp_path: Path
) -> None:
    settings = voicemail_settings(tmp_path, free_port())
    parts = build(database, settings, tmp_path)
    parts.repository.down = True
    saved: list[object] = []
    parts.service.on_saved(saved.append)  # the customer's history hears of it once
    async with running(parts):
        await parts.service.keep(message(), take(tmp_path))
        assert saved == []
        # On disk, synced, with its row beside it; nobody told yet.
        assert parts.store.path(MESSAGE_ID).is_file()
        assert (Path(settings.store) / f"{MESSAGE_ID}{PENDING}").is_file()
        assert parts.service.backlog == 1 and parts.feed.published == 0
        parts.repository.down = False
        await asyncio.wait_for(parts.service.drained(), 5)
        await until(lambda: parts.feed.published == 1)
        await asyncio.sleep(0.3)
    assert parts.feed.published == 1
    assert not (Path(settings.store) / f"{MESSAGE_ID}{PENDING}").exists()
    assert saved == [message()]
    assert (await parts.service.get(MESSAGE_ID)).new == message()


async def test_a_pending_row_left_by_a_crash_is_committed_at_start(
    database: Database, tmp_path: Path
) -> None:
    settings = voicemail_settings(tmp_path, free_port())
    first = build(database, settings, tmp_path)
    first.repository.down = True
    await first.service.keep(message(), take(tmp_path))  # the engine then dies
    second = build(database, settings, tmp_path)
    async with running(second):
        await until(lambda: second.feed.published == 1)
    assert (await second.service.get(MESSAGE_ID)).new == message()


async def test_a_message_deleted_before_delivery_is_not_sent_and_the_audit_stays(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path)
    await parts.service.keep(message(), take(tmp_path))
    deleted = await parts.service.delete(MESSAGE_ID, "supervisor1")
    assert (deleted.deleted_by, deleted.deleted_at is not None) == ("supervisor1", True)
    assert set((await statuses(parts)).values()) == {DeliveryStatus.CANCELLED}
    assert not parts.store.path(MESSAGE_ID).exists()
    with pytest.raises(MessageNotFound):
        await parts.service.audio(MESSAGE_ID)
    assert await parts.service.messages("repair", False, 10, None) == []
    (kept,) = await parts.service.messages("repair", True, 10, None)
    assert kept.deleted_by == "supervisor1"
    async with running(parts):
        await asyncio.sleep(0.3)
    assert parts.feed.published == 0 and parts.bookings.requests == []


async def test_heard_is_recorded_once(database: Database, tmp_path: Path) -> None:
    clock = FixedClock(T0)
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, clock)
    await parts.service.keep(message(), take(tmp_path))
    heard = await parts.service.mark_heard(MESSAGE_ID, "agent1001")
    clock.at = T0 + timedelta(minutes=5)
    again = await parts.service.mark_heard(MESSAGE_ID, "agent1002")
    assert (again.heard_at, again.heard_by) == (heard.heard_at, "agent1001") == (T0, "agent1001")


async def test_retention_purges_old_messages_with_their_audio(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock(T0 + timedelta(days=31))
    settings = voicemail_settings(tmp_path, free_port(), retention_days=30)
    parts = build(database, settings, tmp_path, clock)
    await parts.service.keep(message(), take(tmp_path, name="old"))
    recent = replace(message(OTHER_ID), created_at=T0 + timedelta(days=2))
    await parts.service.keep(recent, take(tmp_path, name="recent"))
    with caplog.at_level("INFO", logger="callcenter.voicemail.service"):
        assert await parts.service.purge() == 1
    assert "purged 1 messages" in caplog.text
    with pytest.raises(MessageNotFound):
        await parts.service.get(MESSAGE_ID)
    assert not parts.store.path(MESSAGE_ID).exists()
    assert await parts.service.deliveries(MESSAGE_ID) == []
    assert (await parts.service.get(OTHER_ID)).new == recent
    assert parts.store.path(OTHER_ID).is_file()


async def test_a_transcriber_adds_its_text(database: Database, tmp_path: Path) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path)

    async def transcribe(audio: Path) -> str:
        return f"{audio.stat().st_size} bytes of speech"

    parts.service._transcriber = transcribe
    await parts.service.keep(message(), take(tmp_path))
    await until(lambda: bool(parts.service._background) is False, 5)
    for _ in range(50):
        if (await parts.service.get(MESSAGE_ID)).transcript:
            break
        await asyncio.sleep(0.02)
    assert (await parts.service.get(MESSAGE_ID)).transcript == (
        f"{parts.store.path(MESSAGE_ID).stat().st_size} bytes of speech"
    )
