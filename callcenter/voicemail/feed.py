"""Live voicemail events for the agents of a group (the websocket feed's subscribers).

Each subscriber names a group (or none: every group) and gets every event for it, in order,
through a bounded inbox: a client too slow to keep up with :data:`INBOX` events is closed (it
reconnects and reads the list from the API) rather than growing the engine's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

INBOX = 100


class Subscriber:
    def __init__(self, group: str) -> None:
        self.group = group
        self.inbox: asyncio.Queue[str] = asyncio.Queue(INBOX)
        self.overflowed = False

    def offer(self, text: str) -> None:
        try:
            self.inbox.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True


class Feed:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self.published = 0

    def subscribe(self, group: str) -> tuple[Subscriber, Callable[[], None]]:
        subscriber = Subscriber(group)
        self._subscribers.add(subscriber)
        return subscriber, lambda: self._subscribers.discard(subscriber)

    def publish(self, group: str, text: str) -> None:
        self.published += 1
        for subscriber in list(self._subscribers):
            if subscriber.group in ("", group):
                subscriber.offer(text)
