"""The ``phone`` channel: a call to the mailbox's on-duty number that plays the new message.

One attempt: the message's audio is staged where Asterisk can play it (its sounds tree, under
an engine-made name), then AMI ``Originate`` of ``PJSIP/<on-duty number>@<trunk>`` into
``cc-voicemail-play`` (dialplans/extensions_voicemail_phone.conf), which answers with a beep and
plays the staged file. The action is sent with ``Async`` and its ``OriginateResponse`` says
whether the number answered: answered is delivered; busy, no answer, an unreachable trunk or
no AMI session are :class:`~callcenter.voicemail.delivery.TryLater` (the outbox retries with its
backoff, and marks the delivery sent once, so the number hears the message once). The staged
copy is removed once the call can no longer need it.

The number is digits (settings) and the sound name is engine-made; the dialplan checks the
name again with ``FILTER()``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from callcenter.asterisk.sanitize import FieldValue
from callcenter.asterisk.translate import headers_of
from callcenter.errors import AmiError
from callcenter.voicemail.delivery import Refused, TryLater
from callcenter.voicemail.model import Message
from callcenter.voicemail.settings import MailboxSettings
from callcenter.voicemail.store import MessageStore

log = logging.getLogger(__name__)

CONTEXT = "cc-voicemail-play"
SOUND_VARIABLE = "CC_VM_SOUND"
_DIGITS = re.compile(r"[0-9]{3,20}")
KEEP_AFTER = 60.0
"""Seconds the staged copy outlives the longest the call can take (ring and message)."""


class Ami(Protocol):
    async def send_action(
        self,
        action: str,
        fields: dict[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
    ) -> object: ...


class PhoneSender:
    def __init__(self, ami: Ami, store: MessageStore, trunk: str, ring_timeout: float) -> None:
        self._ami = ami
        self._store = store
        self._trunk = trunk
        self._ring = ring_timeout
        self._staged: dict[Path, asyncio.TimerHandle] = {}

    async def deliver(self, message: Message, mailbox: MailboxSettings) -> None:
        number = mailbox.on_duty
        if not _DIGITS.fullmatch(number):
            raise Refused("the mailbox has no on-duty number")
        take = f"d_{message.id}"
        try:
            staged = await asyncio.to_thread(self._stage, message.id, take)
        except (OSError, ValueError) as exc:
            raise Refused(f"the message's audio cannot be staged: {exc}") from None
        try:
            answered = await self._call(number, self._store.take_name(take), message.id)
        finally:
            self._remove_later(staged, self._ring + message.new.duration + KEEP_AFTER)
        if not answered:
            raise TryLater(f"{number} did not answer")

    def _stage(self, message_id: str, take: str) -> Path:
        target = self._store.take_path(take)
        shutil.copyfile(self._store.path(message_id), target)
        target.chmod(0o644)
        return target

    async def _call(self, number: str, sound: str, message_id: str) -> bool:
        fields: dict[str, FieldValue] = {
            "Channel": f"PJSIP/{number}@{self._trunk}",
            "ChannelId": f"VM-{message_id}-{int(asyncio.get_running_loop().time() * 1000)}",
            "Context": CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(round(self._ring * 1000)),
            "Async": "true",
            "CallerID": '"Voicemail" <0>',
            "Variable": [f"{SOUND_VARIABLE}={sound}"],
        }
        try:
            answer = await self._ami.send_action(
                "Originate", fields, timeout=self._ring + 15, as_list=True
            )
        except AmiError as exc:
            raise TryLater(f"the call was not placed: {exc}") from None
        return _answered(answer)

    @property
    def staged(self) -> int:
        """Copies waiting to be removed (tests)."""
        return len(self._staged)

    def _remove_later(self, path: Path, delay: float) -> None:
        old = self._staged.pop(path, None)
        if old is not None:
            old.cancel()
        self._staged[path] = asyncio.get_running_loop().call_later(delay, self._remove, path)

    def _remove(self, path: Path) -> None:
        self._staged.pop(path, None)
        path.unlink(missing_ok=True)

    def close(self) -> None:
        """At shutdown: the staged copies go now (their timers would never fire)."""
        for path, handle in list(self._staged.items()):
            handle.cancel()
            self._remove(path)


def _answered(answer: object) -> bool:
    """True when the ``OriginateResponse`` among the answers says Success (answered)."""
    for item in answer if isinstance(answer, list) else [answer]:
        if not isinstance(item, Mapping):
            continue
        fields = headers_of(item)
        if str(fields.get("event", "")).lower() == "originateresponse":
            return str(fields.get("response", "")).lower() == "success"
    return False
