"""The ``phone`` channel on both backends: a mailbox with an on-duty number gets one more
outbox row; the dispatcher calls the number (AMI Originate into cc-voicemail-play with the
message staged where Asterisk plays it), retries while it is busy or AMI is down, and marks
the delivery sent once it answered: one answered call per message."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.asterisk.sanitize import FieldValue, sanitize_action
from callcenter.clock import SystemClock
from callcenter.errors import AmiNotConnected
from callcenter.storage.db import Database
from callcenter.voicemail.dispatcher import Dispatcher
from callcenter.voicemail.model import Channel, DeliveryStatus
from callcenter.voicemail.phone import PhoneSender
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import MailboxSettings
from tests.adapter.test_voicemail import until
from tests.adapter.voicemail_parts import build, free_port, message, take, voicemail_settings

ON_DUTY = "13900000000"


@dataclass
class Ami:
    """Answers each Originate with the next scripted outcome: an OriginateResponse
    (Success: answered; Failure: busy) or an exception; records what was sent and whether
    the staged audio was there to be played at that moment."""

    outcomes: list[str | Exception]
    sent: list[dict[str, Any]] = field(default_factory=list)
    staged: list[bytes] = field(default_factory=list)
    sounds: Path = Path()

    async def send_action(
        self,
        action: str,
        fields: dict[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        as_list: bool | None = None,
    ) -> object:
        headers = sanitize_action(action, fields or {})
        self.sent.append(headers)
        sound = str(headers["Variable"][0]).partition("=")[2]
        self.staged.append((self.sounds / f"{sound}.wav").read_bytes())
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return [
            {"Response": "Success", "Message": "Originate successfully queued"},
            {"Event": "OriginateResponse", "Response": outcome, "Reason": "4"},
        ]


async def test_the_on_duty_number_is_called_until_it_answers_then_never_again(
    database: Database, tmp_path: Path
) -> None:
    base = voicemail_settings(tmp_path, free_port())
    boxes = {"repair": MailboxSettings(group="repair", on_duty=ON_DUTY), "quiet": MailboxSettings()}
    settings = base.model_copy(update={"mailboxes": boxes})
    parts = build(database, settings, tmp_path)
    sounds = tmp_path / "root/usr/share/asterisk/sounds"
    ami = Ami(["Failure", AmiNotConnected("down (test)"), "Success"], sounds=sounds)
    sender = PhoneSender(ami, parts.store, "callers", 10)
    dispatcher = Dispatcher(
        parts.repository,
        {Channel.PHONE: sender},  # the other channels are proven elsewhere
        lambda name: settings.mailboxes.get(name) or MailboxSettings(),
        SystemClock(),
        retry_min=0.05,
        retry_max=0.1,
        poll=0.05,
    )
    service = VoicemailService(
        parts.repository, parts.store, settings, SystemClock(), dispatcher, email=False, phone=True
    )
    await service.keep(message("a" * 32), take(tmp_path, 2.0, "one"))
    await service.keep(message("b" * 32, mailbox="quiet"), take(tmp_path, 2.0, "two"))
    runner = asyncio.create_task(dispatcher.run())
    try:
        await until(lambda: dispatcher.attempts[Channel.PHONE] >= 3)
        await asyncio.sleep(0.3)  # time for a fourth call, if there were one
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    (phone,) = [d for d in await service.deliveries("a" * 32) if d.channel is Channel.PHONE]
    assert (phone.status, phone.attempts) == (DeliveryStatus.SENT, 3)
    assert Channel.PHONE not in {d.channel for d in await service.deliveries("b" * 32)}
    assert len(ami.sent) == 3 and ami.outcomes == []
    first = ami.sent[0]
    assert (first["Channel"], first["Context"], first["Exten"], first["Async"]) == (
        f"PJSIP/{ON_DUTY}@callers",
        "cc-voicemail-play",
        "s",
        "true",
    )
    assert first["Variable"] == [f"CC_VM_SOUND=callcenter-voicemail/d_{'a' * 32}"]
    audio = parts.store.path("a" * 32).read_bytes()
    assert ami.staged == [audio, audio, audio]  # the message itself was there to be played
    assert sender.staged == 1  # one copy, removed once the call can no longer need it
    copies = list(ami.sounds.rglob("d_*.wav"))
    assert len(copies) == 1
    sender.close()  # shutdown: the copy goes at once, its timer would never fire
    assert sender.staged == 0 and not copies[0].exists()
