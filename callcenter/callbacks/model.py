"""Callback tasks: a caller asked to be called back (a queue's overflow, the IVR, a message).

Theory of operation. A request becomes a task exactly once: its ``key`` (the call and where it
came from) is unique, so a write retried after a storage fault cannot make a second task. A
task is ``open`` until an agent marks it ``done`` or it is ``cancelled``; the table below is
the only way its status changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from callcenter.errors import Conflict


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskAction(StrEnum):
    COMPLETE = "complete"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[TaskStatus, TaskAction], TaskStatus] = MappingProxyType(
    {
        (TaskStatus.OPEN, TaskAction.COMPLETE): TaskStatus.DONE,
        (TaskStatus.OPEN, TaskAction.CANCEL): TaskStatus.CANCELLED,
    }
)


class IllegalTaskTransition(Conflict):
    code = "callback_illegal_transition"

    def __init__(self, task: int, status: TaskStatus, action: TaskAction) -> None:
        super().__init__(f"callback {task}: cannot {action.value} a task that is {status.value}")


def next_status(task: int, status: TaskStatus, action: TaskAction) -> TaskStatus:
    new = TRANSITIONS.get((status, action))
    if new is None:
        raise IllegalTaskTransition(task, status, action)
    return new


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """What a caller asked for. ``key`` makes the request idempotent (e.g. ``<call>:overflow``)."""

    key: str
    number: str  # where to call back (the caller ID, or a number the caller entered)
    name: str
    call: str  # the Linkedid of the call that asked, or "" (booked by an agent)
    queue: str  # the queue whose agents call back
    source: str  # overflow:<reason>, ivr, voicemail, agent
    note: str
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class CallbackTask:
    id: int
    request: CallbackRequest
    status: TaskStatus
    done_at: datetime | None
    done_by: str
    outcome_note: str
