"""Parts the voicemail adapter tests share: a real SMTP server (aiosmtpd), a callback booker
that remembers what it was asked, and a voicemail service built as the engine builds it."""

from __future__ import annotations

import email
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from callcenter.callbacks.model import CallbackRequest
from callcenter.clock import Clock, SystemClock
from callcenter.errors import StorageUnavailable
from callcenter.storage.db import Database
from callcenter.voicemail.delivery import CallbackSender, FeedSender, Sender, SmtpSender
from callcenter.voicemail.dispatcher import Dispatcher
from callcenter.voicemail.feed import Feed
from callcenter.voicemail.model import Channel, NewMessage
from callcenter.voicemail.repository import SqlVoicemailRepository
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import MailboxSettings, VoicemailSettings
from callcenter.voicemail.store import MessageStore
from tests.unit.prompts.samples import tone_wav

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MESSAGE_ID = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the SMTP server received, parsed."""

    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(email.message_from_bytes(envelope.content))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@dataclass
class Bookings:
    """The callback service's side, remembered; ``down`` makes it fail as storage would."""

    requests: list[CallbackRequest] = field(default_factory=list)
    down: bool = False

    async def book(self, request: CallbackRequest) -> object:
        if self.down:
            raise StorageUnavailable("database unavailable: test")
        if request.key not in {r.key for r in self.requests}:
            self.requests.append(request)
        return request


class FlakyRepository(SqlVoicemailRepository):
    """The SQL repository whose commits of new messages fail, as in an outage, while ``down``."""

    down = False

    async def add(self, message: NewMessage, channels: Sequence[Channel]) -> bool:
        if self.down:
            raise StorageUnavailable("database unavailable: test")
        return await super().add(message, channels)


def voicemail_settings(tmp: Path, smtp_port: int, retention_days: int = 36500) -> VoicemailSettings:
    return VoicemailSettings.model_validate(
        {
            "mailboxes": {
                "repair": {"email_to": ["service@example.com"], "group": "repair"},
                "quiet": {},
            },
            "store": str(tmp / "store"),
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout": 2},
            "api_url": "http://cc.example.com:8080",
            "retry_min": 0.05,
            "retry_max": 0.2,
            "poll_interval": 0.05,
            "retention_days": retention_days,
        }
    )


@dataclass
class Parts:
    service: VoicemailService
    repository: FlakyRepository
    dispatcher: Dispatcher
    feed: Feed
    bookings: Bookings
    store: MessageStore


def build(
    database: Database, settings: VoicemailSettings, tmp: Path, clock: Clock | None = None
) -> Parts:
    clock = clock or SystemClock()
    repository = FlakyRepository(database)
    store = MessageStore(Path(settings.store), tmp / "root/usr/share/asterisk/sounds/callcenter")
    feed = Feed()
    bookings = Bookings()
    senders: dict[Channel, Sender] = {
        Channel.WEBSOCKET: FeedSender(feed.publish),
        Channel.CALLBACK: CallbackSender(bookings),
        Channel.EMAIL: SmtpSender(settings.smtp, store.path, settings.api_url),
    }
    dispatcher = Dispatcher(
        repository,
        senders,
        lambda name: settings.mailboxes.get(name) or MailboxSettings(),
        clock,
        retry_min=settings.retry_min,
        retry_max=settings.retry_max,
        poll=settings.poll_interval,
    )
    service = VoicemailService(repository, store, settings, clock, dispatcher, email=True)
    return Parts(service, repository, dispatcher, feed, bookings, store)


def message(message_id: str = MESSAGE_ID, **changes: Any) -> NewMessage:
    values: dict[str, Any] = {
        "id": message_id,
        "mailbox": "repair",
        "caller": "13800138000",
        "caller_name": "Wang\r\nBcc: evil@example.com",
        "customer_id": 7,
        "queue": "repair",
        "call": "1700000000.1",
        "ivr_path": ("script:hotline:1", "menu", "key:9"),
        "duration": 9.5,
        "created_at": T0,
    }
    return NewMessage(**(values | changes))


def take(tmp: Path, seconds: float = 9.5, name: str = "take") -> Path:
    path = tmp / f"{name}.wav"
    path.write_bytes(tone_wav(seconds, rate=8000, channels=1))
    return path
