"""A read-only AMI session for tests: records every raw event Asterisk sends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from callcenter.asterisk.ami import AmiClient
from callcenter.clock import SystemClock
from callcenter.settings import AmiSettings

RECEIVED = "_received"
"""Key added to every recorded event: when the observer received it (``time.time()``)."""


class AmiObserver:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def record(self, message: Any) -> None:
        self.events.append({**{str(k): v for k, v in message.items()}, RECEIVED: time.time()})
        self._changed.set()

    def matching(self, **fields: str) -> list[dict[str, Any]]:
        return [e for e in self.events if all(e.get(k) == v for k, v in fields.items())]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def observing(secret: str) -> AsyncIterator[AmiObserver]:
    observer = AmiObserver()
    client = AmiClient(
        AmiSettings.model_validate({"username": "observer", "secret": secret}),
        SystemClock(),
        on_event=lambda _e: None,
    )
    client.subscribe("*", observer.record)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(15)
        yield observer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
