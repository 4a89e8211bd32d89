"""Callback tasks: a caller asked to be called back (a queue's overflow, the IVR, a message).

Theory of operation. A request becomes a task exactly once: its ``key`` (the call and where it
came from) is unique, so a write retried after a storage fault cannot make a second task. A
task is a work item offered to the agents who serve its queue. One of them *claims* it (the
claim is exclusive: a second claim is an illegal transition, so it answers 409), dials the
customer with one click, and marks it ``done`` with a note; a claimed task can be given back
(``release``) or ``cancelled`` by a supervisor. The table below is the only way a status
changes; :func:`check_actor` is the only rule about who may ask for which change.

Escalation is not a status: a task still unhandled (open or claimed, never closed)
``escalate_after`` seconds after it was requested is marked ``escalated_at`` once and
announced to supervisors; it can still be claimed and done as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from callcenter.errors import Conflict, Forbidden


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskAction(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    COMPLETE = "complete"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[TaskStatus, TaskAction], TaskStatus] = MappingProxyType(
    {
        (TaskStatus.OPEN, TaskAction.CLAIM): TaskStatus.CLAIMED,
        (TaskStatus.CLAIMED, TaskAction.RELEASE): TaskStatus.OPEN,
        (TaskStatus.OPEN, TaskAction.COMPLETE): TaskStatus.DONE,
        (TaskStatus.CLAIMED, TaskAction.COMPLETE): TaskStatus.DONE,
        (TaskStatus.OPEN, TaskAction.CANCEL): TaskStatus.CANCELLED,
        (TaskStatus.CLAIMED, TaskAction.CANCEL): TaskStatus.CANCELLED,
    }
)
UNHANDLED = frozenset({TaskStatus.OPEN, TaskStatus.CLAIMED})
"""Statuses of a task nobody has finished: it is offered, and it escalates when overdue."""


class IllegalTaskTransition(Conflict):
    code = "callback_illegal_transition"

    def __init__(self, task: int, status: TaskStatus, action: TaskAction) -> None:
        super().__init__(f"callback {task}: cannot {action.value} a task that is {status.value}")


class NotYourQueue(Forbidden):
    code = "callback_not_your_queue"


class ClaimedByAnother(Conflict):
    code = "callback_claimed_by_another"


class NotClaimed(Conflict):
    code = "callback_not_claimed"


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
    claimed_by: str = ""
    claimed_at: datetime | None = None
    escalated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change: the agent acting (or acted for), whether the asker is a
    supervisor (or admin: every queue, every agent), and the queues that agent serves."""

    agent: str
    supervisor: bool
    queues: frozenset[str] = frozenset()


DIAL = "dial"
"""Not a status change, but checked by the same rule: only the claimer dials."""


def check_actor(task: CallbackTask, action: TaskAction | str, actor: Actor) -> None:
    """Raise unless ``actor`` may ``action`` (or :data:`DIAL`) ``task``.

    An agent acts only on tasks of the queues they serve and only as themselves; a claimed task
    is released, completed and dialled by its claimer alone; cancelling needs a supervisor.
    Supervisors may do everything for anyone, except dial a task nobody claimed (the call goes
    to the claimer's phone).
    """
    if action == DIAL and task.status is not TaskStatus.CLAIMED:
        raise NotClaimed(f"callback {task.id} is {task.status.value}: claim it first")
    if actor.supervisor:
        return
    if task.request.queue not in actor.queues:
        raise NotYourQueue(f"callback {task.id} belongs to a queue {actor.agent} does not serve")
    if action == TaskAction.CANCEL:
        raise Forbidden("cancelling a callback needs the supervisor role")
    needs_claimer = action in (TaskAction.RELEASE, DIAL) or (
        action == TaskAction.COMPLETE and task.status is TaskStatus.CLAIMED
    )
    if needs_claimer and task.claimed_by != actor.agent:
        raise ClaimedByAnother(f"callback {task.id} is claimed by {task.claimed_by or 'nobody'}")


def escalation_due(task: CallbackTask, after: float) -> datetime | None:
    """When ``task`` escalates; None when it never will (closed, or escalated already)."""
    if task.status not in UNHANDLED or task.escalated_at is not None:
        return None
    return task.request.requested_at + timedelta(seconds=after)
