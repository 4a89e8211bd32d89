"""The fax FastAGI routes and the IVR's ``fax`` node, carried out on a call.

* On the caller's own call (the IVR's ``same_call`` mode): documents checked (a ``pin``
  document asks for its PIN, a ``customers`` one looks the caller up), the job committed with
  its image made, then "press start" and ``SendFAX`` on the caller's channel. The result is
  read from Asterisk's ``FAXSTATUS``, ``FAXPAGES``, ``REMOTESTATIONID``, ``FAXERROR``.
* ``to_number`` from the IVR: the same checks, then a queued job (the dispatcher sends it).
* ``fax-send`` (``cc-fax-send`` in the dialplan, the answered half of an outbound fax call):
  the attempt is found by the engine-made ``CC_FAX_ATTEMPT`` and its file sent.
* ``fax-receive`` (the fax number, ``cc-fax-receive``): ``ReceiveFAX`` into the spool, then the
  TIFF and a PDF of it go into the store and a row is written.

File names and every application argument are engine-made; the caller's number and name are
read from the AGI environment, filtered, and only stored or printed on the cover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid

from callcenter.asterisk.fastagi import AgiSession
from callcenter.errors import AgiError, AgiHangup, CallcenterError
from callcenter.fod.catalogue import Access, Document, Requester, refusal
from callcenter.fod.dialer import ATTEMPT_VARIABLE, AmiFaxDialer
from callcenter.fod.model import AttemptResult, JobStatus, Transmission
from callcenter.fod.repository import ReceivedFax
from callcenter.fod.service import FaxService
from callcenter.ivr.agi_driver import CustomerLookup
from callcenter.ivr.commands import KEYS, FaxMode

log = logging.getLogger(__name__)

SEND_PATH = "fax-send"
RECEIVE_PATH = "fax-receive"
HANDLED_VARIABLE = "CC_HANDLED"
_CALLER = re.compile(r"[^0-9+*#]")
PIN_DIGIT_TIMEOUT_MS = 5000


class FaxDesk:
    """What the fax feature does on calls (the IVR driver and the two AGI routes)."""

    def __init__(
        self,
        service: FaxService,
        customers: CustomerLookup | None,
        dialer: AmiFaxDialer | None,
    ) -> None:
        self.service = service
        self._customers = customers
        self._dialer = dialer

    # --- the IVR's fax node ----------------------------------------------------------------------

    async def on_call(
        self,
        session: AgiSession,
        documents: tuple[str, ...],
        mode: FaxMode,
        number: str,
        linkedid: str,
    ) -> str | None:
        """Carry out a ``FaxOnDemand`` command: "sent" / "queued", or None when refused or
        failed (the flow takes its failure branch)."""
        caller = _caller(session.caller_num)
        try:
            customer = await self._customer(caller)
            wanted = [await self.service.document(code) for code in documents]
            requester = await self._requester(session, wanted, customer is not None)
            allowed = await self.service.allowed_documents(documents, requester)
            if mode is FaxMode.TO_NUMBER:
                await self.service.request(
                    documents,
                    number,
                    requester,
                    caller=caller,
                    customer_id=customer[0] if customer else None,
                    call=linkedid,
                    requested_by="ivr",
                )
                return "queued"
            _, sending = await self.service.open_same_call(allowed, caller, customer, linkedid)
        except AgiHangup:
            raise
        except CallcenterError as exc:
            log.info("fax: call %s: %s refused: %s", linkedid, ",".join(documents), exc)
            return None
        hung_up = False
        try:
            file = await asyncio.to_thread(self.service.images.stage, sending.id)
            await _play(session, self.service.settings.prompts.start)
            outcome = await send_fax(session, file, self.service.settings.station_id)
        except AgiHangup:
            hung_up = True
            outcome = Transmission(AttemptResult.INTERRUPTED, "the caller hung up before the fax")
        except OSError as exc:
            outcome = Transmission(AttemptResult.ERROR, f"staging the image failed: {exc}")
        finally:
            await asyncio.to_thread(self.service.images.unstage, sending.id)
        after = await self.service.close_attempt(sending, outcome)
        if hung_up:
            raise AgiHangup("fax: the caller hung up")
        return "sent" if after.status is JobStatus.SENT else None

    async def _customer(self, caller: str) -> tuple[int, str] | None:
        if not caller or self._customers is None:
            return None
        try:
            found = await self._customers.by_phone(caller)
        except CallcenterError as exc:
            log.info("fax: customer look-up failed: %s", exc)
            return None
        if found is None:
            return None
        attributes = found.attributes()
        raw = attributes.get("id", "")
        return (int(raw), attributes.get("name", "")) if raw.isdigit() else None

    async def _requester(
        self, session: AgiSession, documents: list[Document], known: bool
    ) -> Requester:
        """Ask for the PIN of each ``pin`` document the caller cannot have without it."""
        pins: dict[str, str] = {}
        prompts = self.service.settings.prompts
        for document in documents:
            if document.access is not Access.PIN or not document.has_pin:
                continue
            for _ in range(self.service.settings.pin_attempts):
                typed = await _collect(session, prompts.pin)
                if typed and refusal(document, Requester({document.code: typed})) is None:
                    pins[document.code] = typed
                    break
                await _play(session, prompts.pin_wrong)
        return Requester(pins, known_customer=known)

    # --- fax-send: the answered half of an outbound call ---------------------------------------

    async def handle_send(self, session: AgiSession) -> None:
        key = await session.get_variable(ATTEMPT_VARIABLE) or ""
        file = self._dialer.claim(key) if self._dialer is not None else None
        if file is None or self._dialer is None:
            raise AgiError(f"fax: no running attempt {key[:60]!r}")
        outcome = await send_fax(session, file, self.service.settings.station_id)
        self._dialer.report(key, outcome)
        await _handled(session)

    # --- fax-receive: the fax number -------------------------------------------------------------

    async def handle_receive(self, session: AgiSession) -> None:
        fax_id = uuid.uuid4().hex
        file = self.service.images.reception(fax_id)
        started = self.service.now()
        await _set(session, "FAXOPT(localstationid)", self.service.settings.station_id)
        with contextlib.suppress(AgiHangup):
            await session.exec(
                "ReceiveFAX", file, response_timeout=self.service.settings.send_timeout
            )
        status = await _variable(session, "FAXSTATUS")
        error = await _variable(session, "FAXERROR")
        station = await _variable(session, "REMOTESTATIONID")
        pages = await self.service.images.keep_received(fax_id)
        ok = status == "SUCCESS" and pages > 0
        fax = ReceivedFax(
            id=fax_id,
            caller=_caller(session.caller_num),
            call=await _linkedid(session),
            status="received" if ok else "failed",
            pages=pages,
            remote_station=station[:64],
            error="" if ok else (error or status or "nothing received")[:500],
            created_at=started,
        )
        await self.service.keep_received(fax)
        await _handled(session)


async def send_fax(session: AgiSession, file: str, station_id: str) -> Transmission:
    """``SendFAX`` on the session's channel; the result as Asterisk reports it."""
    await _set(session, "FAXOPT(localstationid)", station_id)
    try:
        await session.exec("SendFAX", file, response_timeout=7200)
    except AgiHangup:
        pass  # the far end hangs up at the end of a fax too: the variables tell
    except AgiError as exc:
        return Transmission(AttemptResult.ERROR, f"SendFAX failed: {exc}")
    status = await _variable(session, "FAXSTATUS")
    error = await _variable(session, "FAXERROR")
    text = await _variable(session, "FAXSTATUSSTRING")
    pages = await _variable(session, "FAXPAGES")
    station = await _variable(session, "REMOTESTATIONID")
    return classify(status, error, text, int(pages) if pages.isdigit() else 0, station)


def classify(status: str, error: str, text: str, pages: int, station: str) -> Transmission:
    """One attempt's result from Asterisk's fax variables. A failure before any page and
    without the far end's station id means no fax machine answered (voice, silence)."""
    detail = " ".join(dict.fromkeys(part for part in (error, text) if part))[:500]
    if status == "SUCCESS" and pages > 0:
        return Transmission(AttemptResult.SENT, detail, pages, station)
    if pages == 0 and not station:
        return Transmission(AttemptResult.NO_FAX, detail or "no fax answered", 0, "")
    return Transmission(AttemptResult.INTERRUPTED, detail or status or "no result", pages, station)


async def _collect(session: AgiSession, prompt: str) -> str:
    """Digits up to '#' (or 12 of them, or a pause)."""
    digits = ""
    try:
        pressed = await session.stream_file(prompt, KEYS)
    except AgiError as exc:
        if isinstance(exc, AgiHangup):
            raise
        pressed = None
    while True:
        if pressed is not None:
            if pressed == "#":
                return digits
            digits += pressed
        if len(digits) >= 12:
            return digits
        pressed = await session.wait_for_digit(PIN_DIGIT_TIMEOUT_MS)
        if pressed is None:
            return digits


async def _play(session: AgiSession, prompt: str) -> None:
    try:
        await session.stream_file(prompt)
    except AgiHangup:
        raise
    except AgiError as exc:
        log.warning("fax: prompt %s not played: %s", prompt, exc)


async def _set(session: AgiSession, name: str, value: str) -> None:
    if value:
        try:
            await session.set_variable(name, value)
        except AgiHangup:
            raise
        except AgiError as exc:
            log.debug("fax: %s not set: %s", name, exc)


async def _variable(session: AgiSession, name: str) -> str:
    try:
        return (await session.get_variable(name) or "").strip()
    except AgiError:
        return ""


async def _linkedid(session: AgiSession) -> str:
    try:
        return await session.linkedid()
    except AgiError:
        return ""


async def _handled(session: AgiSession) -> None:
    with contextlib.suppress(AgiError):
        await session.set_variable(HANDLED_VARIABLE, "1")


def _caller(raw: str) -> str:
    return _CALLER.sub("", raw)[:32] if raw not in ("", "unknown") else ""
