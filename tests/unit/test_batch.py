"""Write-behind batches: the first item at once, what comes within the window with it."""

from __future__ import annotations

import asyncio

from callcenter.storage.batch import take_batch


async def test_items_arriving_within_the_window_ride_with_the_first() -> None:
    inbox: asyncio.Queue[int] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    inbox.put_nowait(1)
    loop.call_later(0.01, inbox.put_nowait, 2)
    loop.call_later(0.5, inbox.put_nowait, 3)
    assert await take_batch(inbox, 10, 0.1) == [1, 2]
    assert await take_batch(inbox, 10, 0.1) == [3]


async def test_a_full_batch_does_not_wait_and_the_limit_holds() -> None:
    inbox: asyncio.Queue[int] = asyncio.Queue()
    for n in range(5):
        inbox.put_nowait(n)
    began = asyncio.get_running_loop().time()
    assert await take_batch(inbox, 3, 10) == [0, 1, 2]
    assert asyncio.get_running_loop().time() - began < 1
    assert await take_batch(inbox, 10, 0) == [3, 4]
