"""The fax job state table, the retry rule and its backoff (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.backoff import retry_delay
from callcenter.fod.model import (
    TRANSITIONS,
    AttemptResult,
    IllegalJobTransition,
    Job,
    JobEvent,
    JobStatus,
    Mode,
    RetryPolicy,
    Transmission,
    after_attempt,
    cancel,
    next_status,
    refuse,
    start,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(low=60, high=600)


def queued(max_attempts: int = 3, mode: Mode = Mode.TO_NUMBER) -> Job:
    return Job(
        id="a" * 32,
        mode=mode,
        status=JobStatus.QUEUED,
        documents=("101", "102"),
        number="5550100",
        caller="13800138000",
        customer_id=None,
        call="",
        requested_by="api",
        pages=4,
        attempts=0,
        max_attempts=max_attempts,
        next_at=NOW,
        last_result="",
        last_error="",
        pages_sent=0,
        remote_station="",
        created_at=NOW,
        finished_at=None,
    )


def test_every_pair_outside_the_table_is_refused() -> None:
    for status in JobStatus:
        for event in JobEvent:
            if (status, event) in TRANSITIONS:
                assert next_status(status, event) is TRANSITIONS[(status, event)]
            else:
                with pytest.raises(IllegalJobTransition):
                    next_status(status, event)


def test_final_states_take_no_event() -> None:
    for status in (JobStatus.SENT, JobStatus.FAILED, JobStatus.CANCELLED):
        assert not [pair for pair in TRANSITIONS if pair[0] is status]


def test_a_delivered_fax_is_sent_with_the_far_ends_confirmation() -> None:
    sending = start(queued())
    assert (sending.status, sending.attempts) == (JobStatus.SENDING, 1)
    done = after_attempt(sending, Transmission(AttemptResult.SENT, "", 4, "FAR END"), NOW, POLICY)
    assert (done.status, done.pages_sent, done.remote_station) == (JobStatus.SENT, 4, "FAR END")
    assert done.finished_at == NOW and done.final


@pytest.mark.parametrize(
    "result",
    [
        AttemptResult.BUSY,
        AttemptResult.NO_ANSWER,
        AttemptResult.CONGESTION,
        AttemptResult.NO_FAX,
        AttemptResult.INTERRUPTED,
        AttemptResult.LOST,
    ],
)
def test_transient_failures_are_retried_with_backoff_then_fail(result: AttemptResult) -> None:
    job, waits = queued(max_attempts=3), []
    for _ in range(3):
        job = after_attempt(start(job), Transmission(result, "why"), NOW, POLICY)
        waits.append((job.next_at - NOW).total_seconds())
    assert (job.status, job.attempts, job.last_result) == (JobStatus.FAILED, 3, result.value)
    assert waits == [60, 120, 0]
    assert job.finished_at == NOW and job.last_error == "why"


def test_a_local_error_is_not_retried() -> None:
    job = after_attempt(start(queued()), Transmission(AttemptResult.ERROR, "no file"), NOW, POLICY)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)


def test_a_same_call_job_has_one_attempt() -> None:
    job = queued(max_attempts=1, mode=Mode.SAME_CALL)
    job = after_attempt(start(job), Transmission(AttemptResult.NO_FAX), NOW, POLICY)
    assert job.status is JobStatus.FAILED


def test_a_failed_job_is_never_sent_afterwards() -> None:
    failed = after_attempt(
        start(queued(max_attempts=1)), Transmission(AttemptResult.NO_FAX), NOW, POLICY
    )
    with pytest.raises(IllegalJobTransition):
        start(failed)
    with pytest.raises(IllegalJobTransition):
        after_attempt(failed, Transmission(AttemptResult.SENT, "", 4), NOW, POLICY)


def test_refuse_and_cancel_only_before_an_attempt() -> None:
    assert refuse(queued(), "document gone", NOW).status is JobStatus.FAILED
    assert cancel(queued(), NOW).status is JobStatus.CANCELLED
    with pytest.raises(IllegalJobTransition):
        cancel(start(queued()), NOW)


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 60, 1800) for n in range(0, 8)] == [
        0.0,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]
    assert retry_delay(10_000, 1, 5) == 5


def test_the_retry_uses_the_attempt_count_of_the_job() -> None:
    job = replace(start(queued(max_attempts=5)), attempts=3)
    after = after_attempt(job, Transmission(AttemptResult.BUSY), NOW, POLICY)
    assert after.next_at - NOW == timedelta(seconds=240)
