"""Outbound fax calls over AMI, and the hand-over to the ``fax-send`` FastAGI route.

One attempt: AMI ``Originate`` of ``Local/<number>@cc-fax-dial`` (the dialplan dials the
number) whose answered half runs ``cc-fax-send``, which calls back into the engine over
FastAGI (:mod:`callcenter.fod.routes`). The engine chooses the channel's Uniqueid
(``FAX-<job>-<attempt>``): the ``OriginateResponse`` for it says whether the far end answered
(else busy, no answer, congestion, from its ``Reason``), and the same value, set on the channel
as ``CC_FAX_ATTEMPT``, lets the AGI route find the attempt's file and report the result here.

The number is digits (and a leading '+') checked by the allow-list before it gets here, and
AMI's structural headers refuse anything else again (:mod:`callcenter.asterisk.sanitize`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

from panoramisk.message import Message

from callcenter.asterisk.ami import RawCallback
from callcenter.asterisk.sanitize import FieldValue
from callcenter.asterisk.translate import headers_of
from callcenter.errors import AmiError
from callcenter.fod.model import AttemptResult, Transmission

log = logging.getLogger(__name__)

DIAL_CONTEXT = "cc-fax-dial"
SEND_CONTEXT = "cc-fax-send"
ATTEMPT_VARIABLE = "CC_FAX_ATTEMPT"
ATTEMPT = re.compile(r"^FAX-[a-f0-9]{32}-[0-9]{1,3}$")
REASONS = {
    1: AttemptResult.NO_ANSWER,  # hung up before answering
    3: AttemptResult.NO_ANSWER,  # rang out
    5: AttemptResult.BUSY,
    8: AttemptResult.CONGESTION,
    0: AttemptResult.CONGESTION,  # no channel could be made (unreachable)
}


class Ami(Protocol):
    async def send_action(
        self,
        action: str,
        fields: dict[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
    ) -> object: ...

    def subscribe(self, pattern: str, callback: RawCallback) -> object: ...


@dataclass
class _Attempt:
    file: str  # the image as Asterisk names it
    answered: asyncio.Future[int]  # the OriginateResponse Reason (4: answered)
    result: asyncio.Future[Transmission] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AmiFaxDialer:
    def __init__(self, ami: Ami, ring_timeout: float, send_timeout: float, caller_id: str) -> None:
        self._ami = ami
        self._ring = ring_timeout
        self._send = send_timeout
        self._caller_id = caller_id
        self._attempts: dict[str, _Attempt] = {}
        ami.subscribe("OriginateResponse", self._on_response)

    async def send(self, job_id: str, attempt: int, number: str, file: str) -> Transmission:
        """Call ``number`` and send ``file``; how it went."""
        key = f"FAX-{job_id}-{attempt}"
        loop = asyncio.get_running_loop()
        pending = _Attempt(file, loop.create_future())
        self._attempts[key] = pending
        fields: dict[str, FieldValue] = {
            "Channel": f"Local/{number}@{DIAL_CONTEXT}",
            "ChannelId": key,
            "OtherChannelId": f"{key}-2",
            "Context": SEND_CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(round(self._ring * 1000)),
            "Async": "true",
            "Variable": [f"{ATTEMPT_VARIABLE}={key}"],
        }
        if self._caller_id:
            fields["CallerID"] = self._caller_id
        try:
            try:
                await self._ami.send_action("Originate", fields, as_list=False)
            except AmiError as exc:
                return Transmission(AttemptResult.ERROR, f"originate refused: {exc}")
            try:
                async with asyncio.timeout(self._ring + 15):
                    reason = await pending.answered
            except TimeoutError:
                return Transmission(AttemptResult.NO_ANSWER, "no answer to the originate")
            if reason != 4:
                result = REASONS.get(reason, AttemptResult.CONGESTION)
                return Transmission(result, f"not answered (originate reason {reason})")
            try:
                async with asyncio.timeout(self._send):
                    return await pending.result
            except TimeoutError:
                return Transmission(AttemptResult.INTERRUPTED, "no result from the fax call")
        finally:
            self._attempts.pop(key, None)

    def claim(self, key: str) -> str | None:
        """The file of a running attempt (the AGI route asks); None when there is none."""
        if not ATTEMPT.fullmatch(key):
            return None
        pending = self._attempts.get(key)
        if pending is None or pending.result.done():
            return None
        if not pending.answered.done():  # the AGI may run before the response arrives
            pending.answered.set_result(4)
        return pending.file

    def report(self, key: str, outcome: Transmission) -> None:
        pending = self._attempts.get(key)
        if pending is not None and not pending.result.done():
            pending.result.set_result(outcome)

    def _on_response(self, message: Message) -> None:
        fields = headers_of(message)
        key = str(fields.get("uniqueid", ""))
        pending = self._attempts.get(key)
        if pending is None or pending.answered.done():
            return
        raw = str(fields.get("reason", ""))
        reason = int(raw) if raw.isdigit() else 0
        if str(fields.get("response", "")).lower() == "success":
            reason = 4
        pending.answered.set_result(reason)
        log.debug("fax: %s originate response reason %d", key, reason)
