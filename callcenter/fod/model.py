"""Fax jobs as plain values and one state table; attempts, their results and the retry rule.

Theory of operation. A job is the engine's promise to fax some documents once: to the caller
on the call itself (``same_call``), or to a number (``to_number``: from the IVR, an agent,
the API, at once or at a set time). A job is ``queued`` until it is due; a send takes it to
``sending``; each attempt ends in one :class:`AttemptResult`. ``sent`` and ``failed`` are
final: a job never leaves them, and every job reaches one of them (or ``cancelled``, before
any attempt). A transient result (busy, no answer, no fax tones, a broken transmission) puts
the job back in ``queued`` with a later ``next_at`` (doubling from ``retry_min`` up to
``retry_max``) until ``max_attempts`` is used up; then it is ``failed`` with the last reason.
A same-call job has one attempt: the caller is on the line now or never.

An attempt that was running when the engine stopped is ``lost``: counted, and retried like a
transient failure (the far end may have received part of it; a fax machine prints what came).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from callcenter.backoff import retry_delay
from callcenter.errors import Conflict, NotFound


class Mode(StrEnum):
    SAME_CALL = "same_call"
    TO_NUMBER = "to_number"


class JobStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobStatus.SENT, JobStatus.FAILED, JobStatus.CANCELLED})


class JobEvent(StrEnum):
    START = "start"  # an attempt begins
    DELIVERED = "delivered"  # the far end confirmed every page
    RETRY = "retry"  # a transient failure with attempts left
    GIVE_UP = "give_up"  # a permanent failure, or none left
    REFUSE = "refuse"  # refused before any attempt (document gone, number no longer allowed)
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[JobStatus, JobEvent], JobStatus] = MappingProxyType(
    {
        (JobStatus.QUEUED, JobEvent.START): JobStatus.SENDING,
        (JobStatus.QUEUED, JobEvent.REFUSE): JobStatus.FAILED,
        (JobStatus.QUEUED, JobEvent.CANCEL): JobStatus.CANCELLED,
        (JobStatus.SENDING, JobEvent.DELIVERED): JobStatus.SENT,
        (JobStatus.SENDING, JobEvent.RETRY): JobStatus.QUEUED,
        (JobStatus.SENDING, JobEvent.GIVE_UP): JobStatus.FAILED,
    }
)


class AttemptResult(StrEnum):
    SENT = "sent"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    NO_FAX = "no_fax"  # answered, but no fax machine trained with us (voice, silence)
    INTERRUPTED = "interrupted"  # the transmission broke off (hang-up, line errors)
    LOST = "lost"  # the engine stopped during the attempt
    ERROR = "error"  # our side failed (files, Asterisk refused the call)


TRANSIENT = frozenset(
    {
        AttemptResult.BUSY,
        AttemptResult.NO_ANSWER,
        AttemptResult.CONGESTION,
        AttemptResult.NO_FAX,
        AttemptResult.INTERRUPTED,
        AttemptResult.LOST,
    }
)


class IllegalJobTransition(Conflict):
    code = "fax_illegal_job_transition"


class JobNotFound(NotFound):
    code = "fax_job_not_found"


def next_status(status: JobStatus, event: JobEvent) -> JobStatus:
    new = TRANSITIONS.get((status, event))
    if new is None:
        raise IllegalJobTransition(f"a {status.value} fax job cannot take {event.value}")
    return new


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The backoff between attempts (the number of attempts is the job's own)."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    mode: Mode
    status: JobStatus
    documents: tuple[str, ...]
    number: str  # the destination (to_number); the caller's number on a same-call job
    caller: str  # who asked (caller ID), "" for the API
    customer_id: int | None
    call: str  # Linkedid of the call that asked, "" for the API
    requested_by: str  # "ivr", or the API user / agent
    pages: int  # pages to send, the cover included (0 until the image is made)
    attempts: int
    max_attempts: int
    next_at: datetime
    last_result: str  # an AttemptResult value, "" before any attempt
    last_error: str
    pages_sent: int
    remote_station: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one job (a row of the attempts log)."""

    job_id: str
    number: int  # 1, 2, ...
    started_at: datetime
    ended_at: datetime | None
    result: str  # an AttemptResult value, "" while running
    detail: str
    pages_sent: int
    remote_station: str


@dataclass(frozen=True, slots=True)
class Transmission:
    """What one attempt reported: its result and the far end's confirmation."""

    result: AttemptResult
    detail: str = ""
    pages: int = 0
    remote_station: str = ""


def start(job: Job) -> Job:
    """The job as it is while an attempt runs (the attempt counted at its start)."""
    return replace(job, status=next_status(job.status, JobEvent.START), attempts=job.attempts + 1)


def after_attempt(job: Job, outcome: Transmission, now: datetime, policy: RetryPolicy) -> Job:
    """The job once the running attempt ended with ``outcome``."""
    if outcome.result is AttemptResult.SENT:
        event = JobEvent.DELIVERED
    elif outcome.result in TRANSIENT and job.attempts < job.max_attempts:
        event = JobEvent.RETRY
    else:
        event = JobEvent.GIVE_UP
    status = next_status(job.status, event)
    wait = retry_delay(job.attempts, policy.low, policy.high) if event is JobEvent.RETRY else 0.0
    return replace(
        job,
        status=status,
        next_at=now + timedelta(seconds=wait),
        last_result=outcome.result.value,
        last_error=outcome.detail[:500],
        pages_sent=outcome.pages,
        remote_station=outcome.remote_station[:64],
        finished_at=now if status in FINAL else None,
    )


def refuse(job: Job, reason: str, now: datetime) -> Job:
    status = next_status(job.status, JobEvent.REFUSE)
    return replace(
        job,
        status=status,
        last_result=AttemptResult.ERROR.value,
        last_error=reason[:500],
        finished_at=now,
    )


def cancel(job: Job, now: datetime) -> Job:
    return replace(job, status=next_status(job.status, JobEvent.CANCEL), finished_at=now)


def documents_text(codes: tuple[str, ...]) -> str:
    return json.dumps(list(codes))


def documents_of(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    return tuple(str(code) for code in value) if isinstance(value, list) else ()
