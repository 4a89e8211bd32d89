"""The screen-pop: what an agent's desk shows about a call offered to them.

Pure data and its JSON form. A pop is identified by the offer (``CALL-o3``): the same call
offered to another agent later (a transfer, a re-queue) makes a new pop from the same call
context, so the pop follows the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class PopStatus(StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    WITHDRAWN = "withdrawn"  # the offer ended before the agent answered
    ENDED = "ended"  # the call with the agent ended

    @property
    def live(self) -> bool:
        return self in (PopStatus.RINGING, PopStatus.CONNECTED)


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the IVR learnt about a call before handing it to a queue."""

    call: str
    path: tuple[str, ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()  # the flow's variables (customer.*, account, ...)
    language: str = ""
    caller: tuple[str, str] = ("", "")  # (number, name), kept for the pops after a transfer

    def input(self, name: str) -> str:
        return dict(self.inputs).get(name, "")


@dataclass(slots=True)
class Pop:
    id: str  # the offer
    agent: str
    call: str
    queue: str
    caller: str
    caller_name: str
    offered_at: datetime
    waited: float  # seconds the caller waited in the queue before this offer
    context: CallContext
    customer: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    status: PopStatus = PopStatus.RINGING
    acked: bool = False
    ready: bool = False  # the customer record and history are in

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent,
            "call": self.call,
            "queue": self.queue,
            "caller": {"number": self.caller, "name": self.caller_name},
            "offered_at": self.offered_at.isoformat(),
            "waited": round(self.waited, 3),
            "customer": self.customer,
            "history": self.history,
            "ivr": {
                "path": list(self.context.path),
                "inputs": dict(self.context.inputs),
                "language": self.context.language,
            },
            "status": self.status.value,
            "acked": self.acked,
        }
