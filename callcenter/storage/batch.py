"""Write-behind batches: the one rule every background writer follows to group its rows.

A writer (the call ledger, the statistics log, agents' sessions, contact history) waits for its
first item, then lets ``window`` seconds pass before it takes everything queued by then (at most
``limit`` items) and writes it as one unit of work. At one call a minute that is one transaction
per item, ``window`` later; at a hundred calls a second it is one transaction for dozens of
calls instead of several per call, which is what keeps the engine's thread and the database
free for the calls themselves (``bench/acd_max_rate`` counts the statements per step).
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")

DEFAULT_WINDOW = 0.25
"""Seconds a writer gathers items after the first (``database.batch_window``)."""


async def take_batch(inbox: asyncio.Queue[T], limit: int, window: float) -> list[T]:
    """The next batch from ``inbox``: its first item as soon as there is one, then what came
    within ``window`` seconds (no waiting when ``limit`` items are already there)."""
    items = [await inbox.get()]
    if window > 0 and inbox.qsize() < limit - 1:
        await asyncio.sleep(window)
    while len(items) < limit and not inbox.empty():
        items.append(inbox.get_nowait())
    return items
