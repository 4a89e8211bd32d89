"""Carries out an IVR flow's commands over a FastAGI session.

The driver owns the only side effects of a flow: AGI commands to Asterisk, look-ups (customer
records, HTTP), callback requests and reports to the call ledger. Each command's result goes
back into the flow, as the interpreter's tests send them from a list.

Hand-offs. ``Enqueue`` and ``Transfer`` end the AGI session without hanging up: the driver
sets the channel variables the dialplan reads after ``AGI()`` (``CC_NEXT`` = ``queue`` or
``transfer``, and for a queue the inheritable ``CC_QUEUE``, ``CC_PRIORITY``, ``CC_SKILLS``,
``CC_ENQUEUED`` that ``cc-queue-wait`` announces to the ACD), then ``CC_HANDLED=1``. Values
are engine-made (names checked by the commands), never the caller's text.

When the caller hangs up mid-flow the flow is closed and the ledger is left to close the call
from Asterisk's Hangup event, with the outcome ``abandoned`` reported here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Protocol

from callcenter.asterisk.fastagi import AgiSession, Handler
from callcenter.callbacks.model import CallbackRequest
from callcenter.calls.model import Outcome
from callcenter.clock import Clock
from callcenter.errors import AgiError, AgiHangup, CallcenterError
from callcenter.ivr.commands import (
    KEYS,
    CollectDigits,
    Command,
    Enqueue,
    FaxMode,
    FaxOnDemand,
    Finish,
    HttpLookup,
    LookupBy,
    LookupCustomer,
    Play,
    RecordStep,
    RequestCallback,
    Result,
    Say,
    SayKind,
    SetLanguage,
    StoreSurvey,
    Transfer,
    TransferKind,
    Voicemail,
    WaitDigit,
)
from callcenter.ivr.interpreter import CallContext, Flow, run
from callcenter.ivr.library import ScriptLibrary

log = logging.getLogger(__name__)

HANDLED_VARIABLE = "CC_HANDLED"
"""Set on the channel when the engine has finished with a call: the dialplan falls back when
AGI() returns without it (the engine's connection ended early)."""
NEXT_VARIABLE = "CC_NEXT"
VOICEMAIL_CONTEXT = "callcenter"
_CALLER = re.compile(r"[^0-9+*#]")


class CallHandoff(Protocol):
    """Told when a call enters the IVR and when the IVR queues it (the agent's desk shows what
    the IVR learnt, and looks the caller up in the meantime)."""

    def ivr_started(self, linkedid: str, caller: str) -> None: ...

    def handoff(
        self,
        linkedid: str,
        caller: str,
        path: tuple[str, ...],
        inputs: tuple[tuple[str, str], ...],
        language: str,
    ) -> None: ...


class CallReports(Protocol):
    def report_outcome(self, linkedid: str, outcome: Outcome) -> None: ...

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None: ...


class CustomerRecord(Protocol):
    def attributes(self) -> dict[str, str]: ...


class CustomerLookup(Protocol):
    async def by_phone(self, number: str) -> CustomerRecord | None: ...

    async def by_account(self, account: str) -> CustomerRecord | None: ...


class CallbackSink(Protocol):
    def request(self, request: CallbackRequest) -> None: ...


class HttpGetter(Protocol):
    async def get_json(
        self, url: str, params: Mapping[str, str], seconds: float
    ) -> dict[str, str] | None:
        """The answer's JSON object, flattened to text; None on any failure or timeout."""
        ...


class VoicemailTaker(Protocol):
    """The engine's voicemail recorder (:mod:`callcenter.voicemail.recorder`)."""

    def knows(self, mailbox: str) -> bool: ...

    async def take(
        self,
        session: AgiSession,
        mailbox: str,
        linkedid: str,
        queue: str,
        ivr_path: tuple[str, ...],
    ) -> str: ...


class FaxDesk(Protocol):
    """The engine's fax on demand (:mod:`callcenter.fod.routes`)."""

    async def on_call(
        self,
        session: AgiSession,
        documents: tuple[str, ...],
        mode: FaxMode,
        number: str,
        linkedid: str,
    ) -> str | None: ...


@dataclass(frozen=True)
class IvrServices:
    reports: CallReports
    customers: CustomerLookup
    callbacks: CallbackSink
    http: HttpGetter
    clock: Clock
    transfer_numbers: frozenset[str] = frozenset()
    http_timeout_max: float = 5.0
    voicemail: VoicemailTaker | None = None
    fax: FaxDesk | None = None
    # Told what the IVR learnt when it queues a call (the agent's screen-pop shows it).
    handoff: CallHandoff | None = None


class _Ended(Exception):
    """The flow handed the call over (queue, transfer) or finished it."""


class _Call:
    """One call through one flow: the session, its path, and how each command is done."""

    def __init__(self, session: AgiSession, services: IvrServices, linkedid: str) -> None:
        self.session = session
        self.services = services
        self.linkedid = linkedid
        self.path: list[str] = []

    async def do(self, command: Command) -> Result:
        session = self.session
        match command:
            case Play():
                return await session.stream_file(command.prompt, command.digits)
            case WaitDigit():
                return await session.wait_for_digit(int(command.timeout * 1000))
            case RecordStep():
                self.step(command.step)
                return None
            case CollectDigits():
                return await self.collect(command)
            case Say():
                await self.say(command)
                return None
            case SetLanguage():
                await session.set_variable("CHANNEL(language)", command.language)
                return None
            case LookupCustomer():
                return await self.lookup(command)
            case HttpLookup():
                timeout = min(command.timeout, self.services.http_timeout_max)
                return await self.services.http.get_json(command.url, dict(command.params), timeout)
            case Voicemail():
                await self.voicemail(command)
                return None
            case FaxOnDemand():
                return await self.fax(command)
            case RequestCallback():
                self.callback(command)
                return None
            case StoreSurvey():
                self.step(f"survey:{command.survey}:{command.score}")
                return None
            case Enqueue():
                await self.enqueue(command)
            case Transfer():
                await self.transfer(command)
            case Finish():
                await self.finish(command.outcome, hangup=command.hangup)
        raise _Ended

    def step(self, step: str) -> None:
        self.path.append(step)
        self.services.reports.report_path(self.linkedid, tuple(self.path))

    async def collect(self, command: CollectDigits) -> str | None:
        digits = ""
        for prompt in command.prompts:
            pressed = await self.session.stream_file(prompt, KEYS)
            if pressed is not None:
                digits = pressed
                break
        timeout_ms = int(command.timeout * 1000)
        while True:
            if command.terminator and digits.endswith(command.terminator):
                return digits[: -len(command.terminator)]
            if len(digits) >= command.max_length:
                return digits
            pressed = await self.session.wait_for_digit(timeout_ms)
            if pressed is None:
                return digits or None
            digits += pressed

    async def say(self, command: Say) -> None:
        session = self.session
        match command.kind:
            case SayKind.NUMBER:
                await session.say_number(int(command.value))
            case SayKind.DIGITS:
                await session.say_digits(command.value)
            case SayKind.DATE:
                day = date.fromisoformat(command.value)
                noon = datetime.combine(day, time(12), tzinfo=self.services.clock.now().tzinfo)
                await session.say_date(int(noon.timestamp()))
            case SayKind.AMOUNT:
                amount = Decimal(command.value).quantize(Decimal("0.01"))
                whole, cents = divmod(abs(amount) * 100, 100)
                await session.say_number(int(whole) * (-1 if amount < 0 else 1))
                if cents:
                    await session.say_number(int(cents))

    async def lookup(self, command: LookupCustomer) -> dict[str, str] | None:
        customers = self.services.customers
        try:
            if command.by is LookupBy.CALLER_ID:
                found = await customers.by_phone(command.value)
            else:
                found = await customers.by_account(command.value)
        except CallcenterError as exc:  # storage down: the flow takes its not-found branch
            log.warning("ivr: customer look-up failed: %s", exc)
            return None
        return found.attributes() if found is not None else None

    async def voicemail(self, command: Voicemail) -> None:
        """The engine records the message when it has the mailbox; else Asterisk's VoiceMail()."""
        taker = self.services.voicemail
        if taker is not None and taker.knows(command.mailbox):
            await taker.take(self.session, command.mailbox, self.linkedid, "", tuple(self.path))
            return
        try:
            await self.session.exec("VoiceMail", f"{command.mailbox}@{VOICEMAIL_CONTEXT}")
        except AgiHangup:
            raise
        except AgiError as exc:
            log.warning("ivr: voicemail for %s failed: %s", command.mailbox, exc)

    async def fax(self, command: FaxOnDemand) -> str | None:
        """Fax on demand: "sent" or "queued" when accepted, None when refused or failed."""
        desk = self.services.fax
        if desk is None:
            log.warning("ivr: fax on demand is not available; %s refused", command.documents)
            return None
        return await desk.on_call(
            self.session, command.documents, command.mode, command.number, self.linkedid
        )

    def callback(self, command: RequestCallback) -> None:
        self.services.callbacks.request(
            CallbackRequest(
                key=f"{self.linkedid}:ivr",
                number=command.number,
                name=_caller(self.session.caller_name, 128),
                call=self.linkedid,
                queue=command.queue,
                source="ivr",
                note=command.reason,
                requested_at=self.services.clock.now(),
            )
        )

    async def enqueue(self, command: Enqueue) -> None:
        session = self.session
        skills = ";".join(f"{skill}:{level}" for skill, level in command.skills)
        enqueued = f"{self.services.clock.now().timestamp():.3f}"
        await session.set_variable("__CC_QUEUE", command.queue)
        await session.set_variable("__CC_PRIORITY", str(command.priority))
        await session.set_variable("__CC_SKILLS", skills)
        await session.set_variable("__CC_ENQUEUED", enqueued)
        await session.set_variable(NEXT_VARIABLE, "queue")
        await session.set_variable(HANDLED_VARIABLE, "1")
        if self.services.handoff is not None:
            self.services.handoff.handoff(
                self.linkedid,
                _caller(session.caller_num, 32),
                tuple(self.path),
                command.attributes,
                command.language,
            )

    async def transfer(self, command: Transfer) -> None:
        allowed = self.services.transfer_numbers
        if command.kind is TransferKind.OUTSIDE and command.destination not in allowed:
            log.error("ivr: transfer to %s refused: not on the allow-list", command.destination)
            await self.finish(Outcome.FAILED, hangup=True)
            return
        await self.session.set_variable("CC_DEST_KIND", command.kind.value)
        await self.session.set_variable("CC_DEST", command.destination)
        await self.session.set_variable(NEXT_VARIABLE, "transfer")
        self.services.reports.report_outcome(self.linkedid, Outcome.TRANSFERRED)
        await self.session.set_variable(HANDLED_VARIABLE, "1")

    async def finish(self, outcome: Outcome, *, hangup: bool) -> None:
        self.services.reports.report_outcome(self.linkedid, outcome)
        await self.session.set_variable(HANDLED_VARIABLE, "1")
        if hangup:
            await self.session.hangup()


async def run_flow(
    session: AgiSession, flow: Flow, services: IvrServices, linkedid: str | None = None
) -> None:
    """Drive ``flow`` until it ends, the caller hangs up, or the session fails."""
    linkedid = linkedid or await session.linkedid()
    if services.handoff is not None:
        services.handoff.ivr_started(linkedid, _caller(session.caller_num, 32))
    call = _Call(session, services, linkedid)
    try:
        command = next(flow)
        while True:
            result = await call.do(command)
            command = flow.send(result)
    except (StopIteration, _Ended):
        return
    except AgiHangup:
        log.debug("caller hung up during the flow (linkedid %s)", linkedid)
        services.reports.report_outcome(linkedid, Outcome.ABANDONED)
    finally:
        flow.close()


class IvrDriver:
    """FastAGI handlers for the library's entry points."""

    def __init__(self, library: ScriptLibrary, services: IvrServices) -> None:
        self._library = library
        self._services = services

    def handlers(self) -> dict[str, Handler]:
        return {entry: self._handler(entry) for entry in self._library.entries()}

    def _handler(self, entry: str) -> Handler:
        async def handle(session: AgiSession) -> None:
            published = self._library.current(entry)
            linkedid = await session.linkedid()
            context = CallContext(
                caller=_caller(session.caller_num, 32),
                now=self._services.clock.now(),
                transfer_numbers=self._services.transfer_numbers,
            )
            call_step = f"script:{entry}:{published.version}"
            await run_flow(
                session, _after(call_step, run(published.script, context)), self._services, linkedid
            )

        return handle


def _after(first: str, flow: Flow) -> Flow:
    """The flow with ``RecordStep(first)`` in front (which script version the call runs)."""
    yield RecordStep(first)
    yield from flow


def _caller(raw: str, length: int) -> str:
    """Caller ID as the flow sees it: digits, +, * and # only; "" when withheld."""
    return _CALLER.sub("", raw)[:length] if raw not in ("", "unknown") else ""
