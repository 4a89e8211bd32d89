"""Voicemail messages and their deliveries (the outbox), as plain values and one state table.

Theory of operation. A message is durable before anyone hears of it: its audio is in the
engine's store (written and synced) and its row is committed together with one delivery row
per channel (e-mail, websocket, callback task, a call to the on-duty number), in one unit of
work. A dispatcher then works
through the deliveries: each is ``pending`` until it is ``sent`` (once), ``failed`` for good (a
permanent refusal, e.g. an address the mail server rejects), or ``cancelled`` (the message was
deleted first). A transient failure keeps it ``pending`` with a later ``next_at``: the retry
schedule doubles from ``retry_min`` up to ``retry_max``, so a channel that is down is tried
again and again, never given up on, and never flooded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from callcenter.backoff import retry_delay
from callcenter.errors import Conflict, NotFound


class Channel(StrEnum):
    EMAIL = "email"
    WEBSOCKET = "websocket"
    CALLBACK = "callback"
    PHONE = "phone"  # a call to the mailbox's on-duty number that plays the message


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryEvent(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a transient failure: try again later
    REFUSED = "refused"  # a permanent failure
    CANCEL = "cancel"  # the message is gone


TRANSITIONS: Mapping[tuple[DeliveryStatus, DeliveryEvent], DeliveryStatus] = MappingProxyType(
    {
        (DeliveryStatus.PENDING, DeliveryEvent.DELIVERED): DeliveryStatus.SENT,
        (DeliveryStatus.PENDING, DeliveryEvent.RETRY): DeliveryStatus.PENDING,
        (DeliveryStatus.PENDING, DeliveryEvent.REFUSED): DeliveryStatus.FAILED,
        (DeliveryStatus.PENDING, DeliveryEvent.CANCEL): DeliveryStatus.CANCELLED,
    }
)


class IllegalDeliveryTransition(Conflict):
    code = "voicemail_illegal_delivery_transition"


class MessageNotFound(NotFound):
    code = "voicemail_message_not_found"


class MailboxNotFound(NotFound):
    code = "voicemail_mailbox_not_found"


def next_status(status: DeliveryStatus, event: DeliveryEvent) -> DeliveryStatus:
    new = TRANSITIONS.get((status, event))
    if new is None:
        raise IllegalDeliveryTransition(f"a {status.value} delivery cannot take {event.value}")
    return new


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of one message on one channel (an outbox row)."""

    id: int
    message_id: str
    channel: Channel
    status: DeliveryStatus
    attempts: int
    next_at: datetime
    last_error: str
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt changes on its delivery row (computed by :func:`after_attempt`)."""

    status: DeliveryStatus
    attempts: int
    next_at: datetime
    last_error: str
    delivered_at: datetime | None


def after_attempt(
    delivery: Delivery, event: DeliveryEvent, now: datetime, error: str, low: float, high: float
) -> Outcome:
    status = next_status(delivery.status, event)
    attempts = delivery.attempts + (event is not DeliveryEvent.CANCEL)
    wait = retry_delay(attempts, low, high) if event is DeliveryEvent.RETRY else 0.0
    return Outcome(
        status=status,
        attempts=attempts,
        next_at=now + timedelta(seconds=wait),
        last_error=error[:500],
        delivered_at=now if status is DeliveryStatus.SENT else None,
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What the recorder knows when a message is saved (``id`` is engine-made, also the file
    name in the store)."""

    id: str
    mailbox: str
    caller: str
    caller_name: str
    customer_id: int | None
    queue: str
    call: str  # Linkedid
    ivr_path: tuple[str, ...]
    duration: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    new: NewMessage
    heard_at: datetime | None
    heard_by: str
    deleted_at: datetime | None
    deleted_by: str
    transcript: str | None

    @property
    def id(self) -> str:
        return self.new.id


def channels_for(email: bool, callback: bool, phone: bool = False) -> tuple[Channel, ...]:
    """The outbox rows of a new message: the websocket always; e-mail and the callback task
    when the mailbox has recipients and a group; the phone call when it names an on-duty
    number."""
    chosen = [Channel.WEBSOCKET]
    if email:
        chosen.append(Channel.EMAIL)
    if callback:
        chosen.append(Channel.CALLBACK)
    if phone:
        chosen.append(Channel.PHONE)
    return tuple(chosen)
