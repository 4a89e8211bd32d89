"""The channels a message is delivered on, behind one small interface.

A channel either delivers (returns), fails for now (:class:`TryLater`: the dispatcher keeps the
delivery and tries again on the retry schedule), or refuses for good (:class:`Refused`).
Foreign errors (smtplib, OS, storage) are translated here, once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from callcenter.callbacks.model import CallbackRequest
from callcenter.errors import CallcenterError, StorageUnavailable
from callcenter.voicemail.model import Message
from callcenter.voicemail.settings import MailboxSettings, SmtpSettings

log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TryLater(Exception):
    """The channel is down or busy: the delivery is tried again later."""


class Refused(Exception):
    """The channel refused the delivery for good."""


class Sender(Protocol):
    async def deliver(self, message: Message, mailbox: MailboxSettings) -> None: ...


def plain(text: str, length: int = 128) -> str:
    """A value for a header or a line of text: no control characters (no CR/LF injection)."""
    return _CONTROL.sub(" ", text)[:length]


def audio_link(api_url: str, message_id: str) -> str:
    return f"{api_url.rstrip('/')}/api/v1/voicemail/messages/{message_id}/audio"


class SmtpSender:
    """E-mail with the message's WAV attached and a link to it in the API (smtplib, in a
    thread: the event loop never waits on the mail server)."""

    def __init__(self, settings: SmtpSettings, audio: Callable[[str], Path], api_url: str) -> None:
        self._settings = settings
        self._audio = audio
        self._api_url = api_url

    def compose(self, message: Message, mailbox: MailboxSettings, audio: bytes) -> EmailMessage:
        new = message.new
        caller = plain(new.caller) or "unknown"
        mail = EmailMessage()
        mail["From"] = self._settings.sender
        mail["To"] = ", ".join(mailbox.email_to)
        mail["Subject"] = f"Voicemail in {new.mailbox} from {caller} ({new.duration:.0f} s)"
        mail["Date"] = formatdate(new.created_at.timestamp(), localtime=False)
        mail["Message-ID"] = f"<voicemail-{new.id}@callcenter>"  # the same on every retry
        lines = [
            f"A new message in mailbox {new.mailbox}.",
            f"Caller: {caller} {plain(new.caller_name)}".rstrip(),
            f"Queue: {plain(new.queue) or '-'}",
            f"Duration: {new.duration:.1f} s",
            f"Received: {new.created_at.isoformat()}",
            f"Listen: {audio_link(self._api_url, new.id)}",
        ]
        mail.set_content("\n".join(lines) + "\n")
        mail.add_attachment(audio, maintype="audio", subtype="wav", filename=f"{new.id}.wav")
        return mail

    async def deliver(self, message: Message, mailbox: MailboxSettings) -> None:
        if not mailbox.email_to:
            return
        try:
            audio = await asyncio.to_thread(self._audio(message.id).read_bytes)
        except OSError as exc:
            raise Refused(f"the message's audio cannot be read: {exc}") from None
        mail = self.compose(message, mailbox, audio)
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: EmailMessage) -> None:
        send_mail(self._settings, mail)


def send_mail(settings: SmtpSettings, mail: EmailMessage) -> None:
    """Blocking (run it in a thread). A permanent refusal (5xx) is :class:`Refused`, anything
    that may work later (4xx, the server unreachable) :class:`TryLater`."""
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password.get_secret_value())
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise Refused(f"every recipient refused: {codes}") from None
        raise TryLater(f"recipients refused for now: {codes}") from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise Refused(f"mail server answered {exc.smtp_code}") from None
        raise TryLater(f"mail server answered {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TryLater(f"mail server unreachable: {exc}") from None


class FeedSender:
    """A websocket event to the mailbox's group (:class:`~callcenter.voicemail.feed.Feed`)."""

    def __init__(self, publish: Callable[[str, str], None]) -> None:
        self._publish = publish

    async def deliver(self, message: Message, mailbox: MailboxSettings) -> None:
        new = message.new
        event = {
            "type": "voicemail",
            "id": new.id,
            "mailbox": new.mailbox,
            "group": mailbox.group,
            "caller": new.caller,
            "caller_name": new.caller_name,
            "queue": new.queue,
            "duration": new.duration,
            "created_at": new.created_at.isoformat(),
        }
        self._publish(mailbox.group, json.dumps(event, ensure_ascii=False))


class CallbackBooker(Protocol):
    async def book(self, request: CallbackRequest) -> object: ...


class CallbackSender:
    """The message as a callback task (idempotent key ``voicemail:<id>``)."""

    def __init__(self, callbacks: CallbackBooker) -> None:
        self._callbacks = callbacks

    async def deliver(self, message: Message, mailbox: MailboxSettings) -> None:
        new = message.new
        if not new.caller:
            raise Refused("the caller's number is withheld")
        request = CallbackRequest(
            key=f"voicemail:{new.id}",
            number=new.caller,
            name=new.caller_name,
            call=new.call,
            queue=mailbox.group or new.queue or new.mailbox,
            source="voicemail",
            note=f"voicemail {new.id} ({new.duration:.0f} s) in {new.mailbox}",
            requested_at=new.created_at,
        )
        try:
            await self._callbacks.book(request)
        except StorageUnavailable as exc:
            raise TryLater(str(exc)) from None
        except CallcenterError as exc:
            raise Refused(str(exc)) from None
