"""The outbox dispatcher: every pending delivery is made once, retried while its channel is down.

Theory of operation. One task reads the due deliveries (``pending`` and ``next_at`` passed),
gives each to its channel's sender, and writes the outcome through the state table of
:mod:`callcenter.voicemail.model` (a row is only changed if it is still as read). Channels are
worked on side by side, so a mail server that hangs does not hold up the websocket event. The
task wakes when a message is committed (:meth:`Dispatcher.wake`), when the next retry is due,
and at least every ``poll`` seconds; while the database is down it waits and reads again.

Exactly once, and its one limit: a delivery is marked ``sent`` right after its channel accepted
it; if the engine dies between the two, that delivery is made again at the next start. For
e-mail the Message-ID is the same on every attempt, so a mail system can drop the duplicate;
the callback task is idempotent by its key; a websocket client sees the message's id twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping

from callcenter.clock import Clock
from callcenter.errors import CallcenterError, StorageUnavailable
from callcenter.voicemail.delivery import Refused, Sender, TryLater
from callcenter.voicemail.model import Channel, Delivery, DeliveryEvent, after_attempt
from callcenter.voicemail.repository import SqlVoicemailRepository
from callcenter.voicemail.settings import MailboxSettings

log = logging.getLogger(__name__)
BATCH = 100


class Dispatcher:
    def __init__(
        self,
        repository: SqlVoicemailRepository,
        senders: Mapping[Channel, Sender],
        mailbox: Callable[[str], MailboxSettings],
        clock: Clock,
        *,
        retry_min: float,
        retry_max: float,
        poll: float,
    ) -> None:
        self._repository = repository
        self._senders = senders
        self._mailbox = mailbox
        self._clock = clock
        self._low, self._high, self._poll = retry_min, retry_max, poll
        self._wake = asyncio.Event()
        self._down = False  # the outbox could not be read: said once, not at every poll
        self.attempts: dict[Channel, int] = defaultdict(int)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatch_due()
                wait = await self._until_next()
                if self._down:
                    log.info("voicemail: outbox available again")
                self._down = False
            except StorageUnavailable as exc:
                level = logging.DEBUG if self._down else logging.WARNING
                log.log(level, "voicemail: outbox unavailable (%s); retrying", exc)
                self._down = True
                wait = self._poll
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def dispatch_due(self) -> int:
        """Attempt every due delivery once; the number attempted."""
        due = await self._repository.due(self._clock.now(), BATCH)
        by_channel: dict[Channel, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_channel[delivery.channel].append(delivery)
        async with asyncio.TaskGroup() as group:
            for deliveries in by_channel.values():
                group.create_task(self._channel(deliveries))
        return len(due)

    async def _until_next(self) -> float:
        next_at = await self._repository.next_due()
        if next_at is None:
            return self._poll
        return max(0.0, min(self._poll, (next_at - self._clock.now()).total_seconds()))

    async def _channel(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            try:
                await self._attempt(delivery)
            except StorageUnavailable as exc:
                log.warning("voicemail: delivery %s not recorded: %s", delivery.id, exc)
                return
            except CallcenterError as exc:  # e.g. the message was purged meanwhile
                log.warning("voicemail: delivery %s skipped: %s", delivery.id, exc)

    async def _attempt(self, delivery: Delivery) -> None:
        message = await self._repository.get(delivery.message_id)
        sender = self._senders.get(delivery.channel)
        error = ""
        if message.deleted_at is not None:
            event = DeliveryEvent.CANCEL
        elif sender is None:
            event, error = DeliveryEvent.REFUSED, f"channel {delivery.channel.value} is off"
        else:
            self.attempts[delivery.channel] += 1
            try:
                await sender.deliver(message, self._mailbox(message.new.mailbox))
                event = DeliveryEvent.DELIVERED
            except TryLater as exc:
                event, error = DeliveryEvent.RETRY, str(exc)
            except Refused as exc:
                event, error = DeliveryEvent.REFUSED, str(exc)
            except Exception as exc:  # a sender's bug must not stop the others: retried
                log.exception("voicemail: %s sender failed", delivery.channel.value)
                event, error = DeliveryEvent.RETRY, f"{type(exc).__name__}: {exc}"
        outcome = after_attempt(delivery, event, self._clock.now(), error, self._low, self._high)
        await self._repository.record(delivery, outcome)
        level = logging.INFO if event is not DeliveryEvent.RETRY else logging.WARNING
        log.log(
            level,
            "voicemail: %s of message %s: %s%s",
            delivery.channel.value,
            delivery.message_id,
            outcome.status.value,
            f" (attempt {outcome.attempts}: {error})" if error else "",
        )
