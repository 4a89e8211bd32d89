"""Websocket plumbing shared by the live feeds: the Origin check and a sender per client.

A browser sends ``Origin`` with every websocket handshake; a page of another site must not be
able to open the feed with a user's token, so the origin must be this server's own (the Host
the client addressed) or one the settings allow. Tools that send no Origin (not a browser) are
let through: they authenticate with the token like any API client.

:class:`FeedClient` writes each push's ready-made frame to a client's transport: a slow or
stalled client misses intermediate frames (and then gets the whole state again) and never
delays the others, nor grows the engine's memory.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import weakref
from collections.abc import Collection
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from callcenter.errors import Forbidden

log = logging.getLogger(__name__)


_FEEDS = web.AppKey("feed_sockets", weakref.WeakSet[web.WebSocketResponse])


def close_feeds_at_shutdown(app: web.Application) -> None:
    """Every websocket registered with :func:`track_feed` is closed when the app shuts down
    (clients reconnect to the next engine). Safe to call once per feed."""
    if _FEEDS not in app:
        app[_FEEDS] = weakref.WeakSet()
        app.on_shutdown.append(_close_feeds)


def track_feed(request: web.Request, ws: web.WebSocketResponse) -> None:
    request.app[_FEEDS].add(ws)


async def _close_feeds(app: web.Application) -> None:
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[_FEEDS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def check_origin(request: web.Request, allowed: Collection[str] = ()) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == request.host:
        return
    if origin.rstrip("/") in allowed:
        return
    raise Forbidden(f"websocket origin {origin[:80]!r} is not allowed")


class DeltaFrame(Protocol):
    """A push that a client up to date takes as a patch, anyone else as a whole snapshot, both
    as ready-made websocket frames (encoded once per push, not once per client)."""

    patch_wire: bytes | None

    def snapshot_wire(self) -> bytes: ...


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final websocket text frame (RFC 6455 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class FeedClient:
    """One websocket client of a feed, written to directly.

    A push costs one ``transport.write`` of bytes shared by every client: no task switch, no
    encoding per client. A client whose unsent data passes ``limit`` bytes (it reads slower
    than the feed) is skipped and marked behind; once it has caught up it gets the whole
    snapshot. One stalled for ``stall_timeout`` seconds is disconnected. So a slow client
    never delays the others and the engine never holds more than ``limit`` bytes for it.
    The feed's websocket must be made without compression (frames go out as they are).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        *,
        limit: int = 256 * 1024,
        stall_timeout: float = 5.0,
    ) -> None:
        self._ws = ws
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self._limit = limit
        self._stall_timeout = stall_timeout
        self._behind = True  # the first frame a client gets is a snapshot
        self._stalled_since: float | None = None
        self.dropped = 0

    def offer(self, frame: DeltaFrame) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._ws.closed:
            return
        now = time.monotonic()
        if transport.get_write_buffer_size() > self._limit:
            self.dropped += 1
            self._behind = True
            if self._stalled_since is None:
                self._stalled_since = now
            elif now - self._stalled_since > self._stall_timeout:
                log.info("websocket client stalled for %.0f s: dropped", self._stall_timeout)
                transport.abort()
            return
        self._stalled_since = None
        whole = self._behind or frame.patch_wire is None
        self._behind = False
        transport.write(
            frame.snapshot_wire() if whole or frame.patch_wire is None else frame.patch_wire
        )
