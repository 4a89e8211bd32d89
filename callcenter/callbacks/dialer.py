"""One-click dial of a callback over AMI: the agent's phone first, then the customer.

AMI ``Originate`` of the agent's endpoint (``PJSIP/<agent>``, as the ACD rings agent legs)
into ``cc-callback`` (dialplans/extensions_callbacks.conf): once the agent answers, the
dialplan dials the customer through the outside trunk. The engine names the agent leg
(``ChannelId`` ``CB-<task>-<random>``) so it can be found in the event stream, and passes the
number and the trunk as channel variables, which the dialplan checks again with ``FILTER()``.

Only engine-made or checked values reach the action: the agent id matches the agents' name
rule, the number is digits (:func:`callcenter.callbacks.dialing.dialable`), the trunk comes
from validated settings, and :mod:`callcenter.asterisk.sanitize` refuses anything else.
"""

from __future__ import annotations

import re
import secrets
from typing import Protocol

from callcenter.asterisk.sanitize import FieldValue
from callcenter.errors import AmiError, CallcenterError

CONTEXT = "cc-callback"
_AGENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,32}")


class DialFailed(CallcenterError):
    """Asterisk did not take the call (no AMI session, the action refused)."""

    code = "callback_dial_failed"


class Ami(Protocol):
    async def send_action(
        self,
        action: str,
        fields: dict[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
    ) -> object: ...


class AmiCallbackDialer:
    def __init__(self, ami: Ami, trunk: str, ring_timeout: float) -> None:
        self._ami = ami
        self._trunk = trunk
        self._ring = ring_timeout

    async def dial(self, task: int, agent: str, number: str) -> str:
        """Ring ``agent``'s phone; once answered it calls ``number``. The agent leg's id."""
        if not _AGENT.fullmatch(agent) or not _DIGITS.fullmatch(number):
            raise DialFailed("the agent or the number is not fit to dial")
        leg = f"CB-{task}-{secrets.token_hex(4)}"
        fields: dict[str, FieldValue] = {
            "Channel": f"PJSIP/{agent}",
            "ChannelId": leg,
            "Context": CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(round(self._ring * 1000)),
            "Async": "true",
            "CallerID": f'"Callback {task}" <{number}>',
            "Variable": [
                f"CC_CB_NUMBER={number}",
                f"CC_CB_TRUNK={self._trunk}",
                f"CC_CB_TASK={task}",
            ],
        }
        try:
            await self._ami.send_action("Originate", fields, as_list=False)
        except AmiError as exc:
            raise DialFailed(f"the phone system did not take the call: {exc}") from None
        return leg
