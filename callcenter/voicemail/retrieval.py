"""Listening to a mailbox by phone: mailbox number and PIN, then each message with its keys.

The call (``*98`` from an agent phone, ``dialplans/extensions_voicemail.conf``):

1. "Mailbox?" then "Password?": the mailbox's ``number`` and ``pin`` (settings). A wrong pair
   is refused ("Login incorrect") and asked again, at most :data:`MAX_LOGINS` times.
2. "You have N messages"; new (unheard) messages first, then the old ones.
3. Each message plays; then, or during it: 5 repeat, 6 next, 7 delete, 9 save, 2 call the
   caller back (the call is handed to ``cc-transfer`` with the caller's number), # goodbye.
   A message that has played is marked heard (by ``phone:<mailbox>``); a deletion is audited
   the same way.

As elsewhere, :func:`retrieval_flow` decides and yields commands; :class:`MailboxByPhone`, the
FastAGI handler, carries them out. Digits the caller types are compared with the settings and
never reach Asterisk; the message audio is copied into Asterisk's sounds tree under an
engine-made name to be played, and removed at the end of the call.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

from callcenter.asterisk.fastagi import AgiSession
from callcenter.errors import AgiHangup, CallcenterError
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import MailboxSettings

log = logging.getLogger(__name__)

AGI_PATH = "voicemail-main"
MAX_LOGINS = 3
KEYS = "25679#"
REPEAT, NEXT, DELETE, SAVE, CALL_BACK, EXIT = "5", "6", "7", "9", "2", "#"
PHONE_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True, slots=True)
class Ask:
    """Play ``sound`` and read up to 12 digits (# ends). Result: the digits ("" if none)."""

    sound: str


@dataclass(frozen=True, slots=True)
class Login:
    """Check a mailbox number and PIN. Result: the mailbox's name, or None."""

    number: str
    pin: str


@dataclass(frozen=True, slots=True)
class Summary:
    id: str
    heard: bool


@dataclass(frozen=True, slots=True)
class Load:
    """The mailbox's messages. Result: a tuple of :class:`Summary`, newest first."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class Say:
    """Play an Asterisk sound; ``digits`` may interrupt it. Result: the digit, or None."""

    sound: str
    digits: str = ""


@dataclass(frozen=True, slots=True)
class SayNumber:
    number: int


@dataclass(frozen=True, slots=True)
class Play:
    """Play a message; ``digits`` may interrupt it. Result: the digit, or None."""

    message: str
    digits: str = KEYS


@dataclass(frozen=True, slots=True)
class WaitKey:
    seconds: float


@dataclass(frozen=True, slots=True)
class MarkHeard:
    message: str


@dataclass(frozen=True, slots=True)
class Delete:
    message: str


@dataclass(frozen=True, slots=True)
class CallBack:
    """Hand the call to the caller's number. Result: True when the number can be dialled."""

    message: str


Command = Ask | Login | Load | Say | SayNumber | Play | WaitKey | MarkHeard | Delete | CallBack
Result = str | bool | tuple[Summary, ...] | None
RetrievalFlow = Generator[Command, Result, str]
"""Returns ``refused``, ``done``, ``timeout`` or ``callback``."""


def retrieval_flow() -> RetrievalFlow:
    mailbox = yield from _login()
    if mailbox is None:
        yield Say("vm-goodbye")
        return "refused"
    found = yield Load(mailbox)
    summaries = found if isinstance(found, tuple) else ()
    ordered = [s for s in summaries if not s.heard] + [s for s in summaries if s.heard]
    yield Say("vm-youhave")
    if ordered:
        yield SayNumber(len(ordered))
    else:
        yield Say("vm-no")
    yield Say("vm-message" if len(ordered) == 1 else "vm-messages")
    for summary in ordered:
        outcome = yield from _message(summary)
        if outcome is not None:
            if outcome != "callback":
                yield Say("vm-goodbye")
            return outcome
    yield Say("vm-nomore")
    yield Say("vm-goodbye")
    return "done"


def _login() -> Generator[Command, Result, str | None]:
    for attempt in range(MAX_LOGINS):
        if attempt:
            yield Say("vm-incorrect")
        number = yield Ask("vm-login")
        pin = yield Ask("vm-password")
        if isinstance(number, str) and isinstance(pin, str) and number and pin:
            mailbox = yield Login(number, pin)
            if isinstance(mailbox, str):
                return mailbox
    return None


def _message(summary: Summary) -> Generator[Command, Result, str | None]:
    """One message: None to go on with the next, else how the call ends."""
    key = yield Play(summary.id)
    if not summary.heard:
        yield MarkHeard(summary.id)
    for _ in range(3):
        if key is None:
            key = yield Say("vm-opts", KEYS)
        if key is None:
            key = yield WaitKey(5.0)
        match key:
            case "5":
                key = yield Play(summary.id)
                continue
            case "6" | "9":
                if key == SAVE:
                    yield Say("vm-saved")
                return None
            case "7":
                yield Delete(summary.id)
                yield Say("vm-deleted")
                return None
            case "2":
                if (yield CallBack(summary.id)) is True:
                    return "callback"
                key = None
                continue
            case "#":
                return "done"
        key = None
    return "timeout"


class MailboxByPhone:
    """The FastAGI handler of ``AGI(agi://.../voicemail-main)``."""

    def __init__(self, service: VoicemailService) -> None:
        self._service = service

    async def handle(self, session: AgiSession) -> None:
        call = _Call(self._service, session)
        flow = retrieval_flow()
        try:
            command = next(flow)
            while True:
                command = flow.send(await call.do(command))
        except StopIteration as stop:
            log.info("voicemail: mailbox by phone on %s: %s", session.channel, stop.value)
            await session.set_variable("CC_HANDLED", "1")
        except AgiHangup:
            log.info("voicemail: mailbox by phone on %s: hung up", session.channel)
        finally:
            flow.close()
            await call.discard()


class _Call:
    def __init__(self, service: VoicemailService, session: AgiSession) -> None:
        self.service = service
        self.session = session
        self.mailbox = ""
        self.staged: dict[str, Path] = {}

    async def do(self, command: Command) -> Result:
        session = self.session
        match command:
            case Ask():
                return await session.get_data(command.sound, 6000, 12)
            case Login():
                return self.login(command.number, command.pin)
            case Load():
                found = await self.service.messages(command.mailbox, False, 100, None)
                return tuple(Summary(m.id, m.heard_at is not None) for m in found)
            case Say():
                return await session.stream_file(command.sound, command.digits)
            case SayNumber():
                await session.say_number(command.number)
                return None
            case Play():
                return await session.stream_file(await self.stage(command.message), command.digits)
            case WaitKey():
                return await session.wait_for_digit(int(command.seconds * 1000))
            case MarkHeard():
                await self.service.mark_heard(command.message, f"phone:{self.mailbox}")
                return None
            case Delete():
                await self.service.delete(command.message, f"phone:{self.mailbox}")
                return None
            case CallBack():
                return await self.call_back(command.message)

    def login(self, number: str, pin: str) -> str | None:
        found = _by_number(self.service.mailboxes(), number, pin)
        log.info("voicemail: mailbox login %s", f"to {found}" if found else "refused")
        if found:
            self.mailbox = found
        return found

    async def stage(self, message_id: str) -> str:
        """The message's audio where Asterisk can play it; the name to play it by."""
        take = f"p_{secrets.token_hex(8)}"
        source = await self.service.audio(message_id)
        target = await asyncio.to_thread(self.service.store.take_path, take)
        await asyncio.to_thread(target.write_bytes, await asyncio.to_thread(source.read_bytes))
        self.staged[take] = target
        return self.service.store.take_name(take)

    async def call_back(self, message_id: str) -> bool:
        try:
            message = await self.service.get(message_id)
        except CallcenterError:
            return False
        number = message.new.caller
        if not PHONE_NUMBER.fullmatch(number):
            return False
        await self.session.set_variable("CC_DEST_KIND", "outside")
        await self.session.set_variable("CC_DEST", number)
        await self.session.set_variable("CC_NEXT", "transfer")
        return True

    async def discard(self) -> None:
        for path in self.staged.values():
            await asyncio.to_thread(path.unlink, missing_ok=True)


def _by_number(mailboxes: Mapping[str, MailboxSettings], number: str, pin: str) -> str | None:
    """The mailbox whose number and PIN match (compared in constant time), or None."""
    found = None
    for name, box in mailboxes.items():
        expected = box.pin.get_secret_value()
        if not box.number or not expected:
            continue
        number_ok = hmac.compare_digest(box.number.encode(), number.encode())
        pin_ok = hmac.compare_digest(expected.encode(), pin.encode())
        if number_ok and pin_ok:
            found = name
    return found
