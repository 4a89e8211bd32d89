"""Recording a message over FastAGI: the ``voicemail`` route and the IVR's voicemail node.

Two ways in, one recorder:

* ``AGI(agi://.../voicemail)`` from ``cc-elsewhere`` (a queue's overflow or exit key): the
  mailbox is the engine-set ``CC_TARGET`` and the queue ``CC_QUEUE``, both checked again here
  (names only). A mailbox the engine does not know ends the session with FAILURE, so the
  dialplan falls back to Asterisk's own VoiceMail(): the caller still leaves a message.
* the IVR's ``voicemail`` node: :class:`~callcenter.ivr.agi_driver` hands its session to
  :meth:`VoicemailRecorder.take` with the caller's IVR path.

The flow (:mod:`callcenter.voicemail.flow`) decides; :class:`_Take` carries its commands out.
The take's name and the message id are engine-made; the caller's number and name are read
from the AGI environment and only stored, never passed to Asterisk.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import uuid
from pathlib import Path

from callcenter.asterisk.fastagi import AgiSession
from callcenter.clock import Clock
from callcenter.errors import AgiError, AgiHangup, CallcenterError
from callcenter.ivr.agi_driver import CustomerLookup
from callcenter.voicemail.flow import (
    HUNG_UP,
    Command,
    PlayBack,
    Record,
    Recorded,
    Result,
    Save,
    Say,
    WaitKey,
    message_flow,
)
from callcenter.voicemail.model import NewMessage
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import NAME
from callcenter.voicemail.store import seconds

log = logging.getLogger(__name__)

AGI_PATH = "voicemail"
HANDLED_VARIABLE = "CC_HANDLED"
_CALLER = re.compile(r"[^0-9+*#]")


class VoicemailRecorder:
    def __init__(
        self, service: VoicemailService, customers: CustomerLookup | None, clock: Clock
    ) -> None:
        self.service = service
        self.clock = clock
        self._customers = customers

    def knows(self, mailbox: str) -> bool:
        return self.service.mailbox(mailbox) is not None and self.service.store.can_record

    async def handle(self, session: AgiSession) -> None:
        """The ``voicemail`` route (cc-elsewhere)."""
        mailbox = await session.get_variable("CC_TARGET") or ""
        queue = await session.get_variable("CC_QUEUE") or ""
        if not NAME.fullmatch(mailbox) or not self.knows(mailbox):
            raise AgiError(f"voicemail: no mailbox {mailbox[:64]!r} here")
        queue = queue if NAME.fullmatch(queue) else ""
        await self.take(session, mailbox, await session.linkedid(), queue, ())
        await session.set_variable(HANDLED_VARIABLE, "1")
        if not session.hung_up:
            await session.hangup()

    async def take(
        self,
        session: AgiSession,
        mailbox: str,
        linkedid: str,
        queue: str,
        ivr_path: tuple[str, ...],
    ) -> str:
        """Let the caller leave a message; how it ended (``kept``, ``too_short``, ...)."""
        settings = self.service.mailbox(mailbox)
        if settings is None:
            raise AgiError(f"voicemail: no mailbox {mailbox[:64]!r}")
        take = _Take(self, session, mailbox, linkedid, queue, ivr_path)
        flow = message_flow(settings)
        try:
            command = next(flow)
            while True:
                command = flow.send(await take.do(command))
        except StopIteration as stop:
            outcome = str(stop.value)
        finally:
            flow.close()
            await take.discard()
        log.info("voicemail: call %s in %s: %s", linkedid, mailbox, outcome)
        return outcome

    async def customer_id(self, caller: str) -> int | None:
        if not caller or self._customers is None:
            return None
        try:
            found = await self._customers.by_phone(caller)
        except CallcenterError as exc:
            log.info("voicemail: customer look-up failed: %s", exc)
            return None
        raw = found.attributes().get("id", "") if found is not None else ""
        return int(raw) if raw.isdigit() else None


class _Take:
    """One caller leaving one message: carries out the flow's commands over AGI."""

    def __init__(
        self,
        recorder: VoicemailRecorder,
        session: AgiSession,
        mailbox: str,
        linkedid: str,
        queue: str,
        ivr_path: tuple[str, ...],
    ) -> None:
        self.recorder = recorder
        self.store = recorder.service.store
        self.session = session
        self.mailbox = mailbox
        self.linkedid = linkedid
        self.queue = queue
        self.ivr_path = ivr_path
        self.take = f"m_{secrets.token_hex(8)}"
        self.sound = self.store.take_name(self.take)
        self.path: Path | None = None
        self.started = recorder.clock.now()

    async def do(self, command: Command) -> Result:
        if isinstance(command, Save):
            return await self.save()
        if isinstance(command, Record):
            return await self.record(command)
        try:
            match command:
                case Say():
                    return await self.session.stream_file(command.sound, command.digits)
                case PlayBack():
                    return await self.session.stream_file(self.sound, command.digits)
                case WaitKey():
                    return await self.session.wait_for_digit(int(command.seconds * 1000))
        except AgiHangup:
            return HUNG_UP
        return None

    async def record(self, command: Record) -> Recorded:
        path = await asyncio.to_thread(self.store.take_path, self.take)
        self.path = path
        await asyncio.to_thread(path.unlink, missing_ok=True)
        self.started = self.recorder.clock.now()
        hung_up = False
        try:
            await self.session.record_file(
                self.sound,
                "wav",
                "#",
                command.max_seconds * 1000,
                beep=True,
                silence_s=command.silence_seconds or None,
                response_timeout=command.max_seconds + 30,
            )
        except AgiHangup:
            hung_up = True
        return Recorded(await asyncio.to_thread(seconds, path), hung_up)

    async def save(self) -> bool:
        if self.path is None:
            return False
        session = self.session
        caller = _caller(session.caller_num)
        message = NewMessage(
            id=uuid.uuid4().hex,
            mailbox=self.mailbox,
            caller=caller,
            caller_name=session.caller_name if session.caller_name != "unknown" else "",
            customer_id=await self.recorder.customer_id(caller),
            queue=self.queue,
            call=self.linkedid,
            ivr_path=self.ivr_path,
            duration=round(await asyncio.to_thread(seconds, self.path), 3),
            created_at=self.started,
        )
        try:
            await self.recorder.service.keep(message, self.path)
        except (OSError, CallcenterError) as exc:
            log.error("voicemail: message from call %s not kept: %s", self.linkedid, exc)
            return False
        self.path = None
        return True

    async def discard(self) -> None:
        if self.path is not None:
            await asyncio.to_thread(self.path.unlink, missing_ok=True)


def _caller(raw: str) -> str:
    return _CALLER.sub("", raw)[:32] if raw not in ("", "unknown") else ""
