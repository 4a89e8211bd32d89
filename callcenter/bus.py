"""In-process publish/subscribe: the one place telephony and domain events are published.

Publishing never blocks and never awaits: every subscriber is a non-blocking sink (typically
``queue.put_nowait`` of a component that drains its own inbox in its own task), so a slow
subscriber (the ledger during a database outage, say) delays only itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class EventBus(Generic[T]):
    def __init__(self) -> None:
        self._sinks: list[Callable[[T], None]] = []

    def subscribe(self, sink: Callable[[T], None]) -> None:
        self._sinks.append(sink)

    def publish(self, event: T) -> None:
        for sink in self._sinks:
            sink(event)
