"""The outbox's state table and retry schedule, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.backoff import retry_delay
from callcenter.voicemail.model import (
    TRANSITIONS,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    IllegalDeliveryTransition,
    after_attempt,
    channels_for,
    next_status,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def pending(attempts: int = 0) -> Delivery:
    return Delivery(1, "a" * 32, Channel.EMAIL, DeliveryStatus.PENDING, attempts, T0, "", None)


def test_only_a_pending_delivery_moves() -> None:
    for status in DeliveryStatus:
        for event in DeliveryEvent:
            if status is DeliveryStatus.PENDING:
                assert next_status(status, event) == TRANSITIONS[(status, event)]
            else:
                with pytest.raises(IllegalDeliveryTransition):
                    next_status(status, event)


def test_a_sent_delivery_cannot_be_sent_again() -> None:
    sent = after_attempt(pending(), DeliveryEvent.DELIVERED, T0, "", 1, 300)
    assert (sent.status, sent.attempts, sent.delivered_at) == (DeliveryStatus.SENT, 1, T0)
    with pytest.raises(IllegalDeliveryTransition):
        next_status(sent.status, DeliveryEvent.DELIVERED)


def test_the_retry_schedule_doubles_up_to_its_cap() -> None:
    assert [retry_delay(n, 1.0, 30.0) for n in range(0, 8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert retry_delay(10_000, 1.0, 300.0) == 300.0  # no overflow however long it is down


def test_a_transient_failure_stays_pending_until_later() -> None:
    outcome = after_attempt(pending(2), DeliveryEvent.RETRY, T0, "refused", 1, 300)
    assert outcome.status is DeliveryStatus.PENDING
    assert outcome.attempts == 3
    assert outcome.next_at == T0 + timedelta(seconds=4)
    assert (outcome.last_error, outcome.delivered_at) == ("refused", None)


def test_a_refusal_is_final_and_a_cancel_is_not_an_attempt() -> None:
    refused = after_attempt(pending(), DeliveryEvent.REFUSED, T0, "550", 1, 300)
    assert (refused.status, refused.attempts) == (DeliveryStatus.FAILED, 1)
    cancelled = after_attempt(pending(), DeliveryEvent.CANCEL, T0, "", 1, 300)
    assert (cancelled.status, cancelled.attempts) == (DeliveryStatus.CANCELLED, 0)


def test_channels_of_a_message() -> None:
    assert channels_for(email=True, callback=True) == (
        Channel.WEBSOCKET,
        Channel.EMAIL,
        Channel.CALLBACK,
    )
    assert channels_for(email=False, callback=False) == (Channel.WEBSOCKET,)
