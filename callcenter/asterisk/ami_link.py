"""One TCP connection to the Asterisk Manager Interface, built on panoramisk's AMIProtocol.

panoramisk's ``AMIProtocol`` is kept for what it does well: ``Message`` parsing, writing
actions, and matching answers to actions by ActionID (including event lists that end with a
``...Complete`` event). Its ``Manager`` is not used: it re-sends unanswered actions after a
reconnect, never checks its pings, and reconnects at a fixed pace.
:class:`~callcenter.asterisk.ami.AmiClient` owns the lifecycle instead; this module
gives it one connection at a time.

- :class:`AmiLink` is the ``factory`` AMIProtocol calls back into (``dispatch``,
  ``connection_lost``, ``forgetable_actions``, ``awaiting_actions``). Every action counts as
  "forgettable", so panoramisk never queues one for re-sending; ``awaiting_actions`` stays
  empty. When the connection ends, every action still waiting for its answer fails with
  :class:`~callcenter.errors.AmiActionLost`: whether it ran is unknown, so the caller
  reconciles against Asterisk's state instead of anything being re-sent.
- :class:`AmiProtocol` replaces the receive path: bytes are decoded as UTF-8 incrementally
  (panoramisk decodes ASCII and drops other bytes, so "Zoë" would arrive as "Zo"; here a
  character split across two reads survives and invalid bytes become U+FFFD), the banner
  line is taken off, and the bytes waiting for a message end are bounded: a peer that sends
  more than :data:`MAX_PENDING` characters without an empty line is cut off. A block that is
  not a message, or that upsets panoramisk, is ignored with a debug log. Nothing here blocks:
  complete messages are parsed and handed to ``dispatch`` synchronously, at most
  :data:`BATCH` per loop callback; when more are waiting (a flood arrives 256 kB at a time),
  reading pauses and the rest follow in later callbacks, in order, so the event loop never
  stalls for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callcenter.asterisk.sanitize import Headers
from callcenter.errors import AmiActionLost, AmiNotConnected, AmiTimeout

log = logging.getLogger(__name__)

MAX_PENDING = 1_048_576
"""Characters kept while waiting for the end of a message (1 MiB)."""
BATCH = 100
"""Messages handled per loop callback (about 2 ms); the rest wait with reading paused."""
BANNER = "Asterisk Call Manager/"
EOL = "\r\n"
EVENT = "Event: "
QUOTED = frozenset(key.lower() for key in Message.quoted_keys)
ERROR_RESPONSES = frozenset({"error", "fail", "failure"})

AmiAnswer = Any
"""A panoramisk ``Message``, or a list of them for an action answered by an event list."""


class _EveryAction:
    """``forgetable_actions`` for AMIProtocol.close(): no action is ever kept for re-sending."""

    def __contains__(self, name: object) -> bool:
        return True


class _Action(actions.Action):  # type: ignore[misc]
    """panoramisk's Action with two fixes: an error answer also ends an action expecting a
    list, and an Originate without an ``Async`` header (answered "successfully queued") is
    a single answer instead of a KeyError inside panoramisk."""

    @property
    def multi(self) -> bool:
        if self.as_list is None and "async" not in self:
            text = str(self.responses[0].message).lower()
            if text.endswith("successfully queued"):
                return False
        return bool(super().multi)

    def add_message(self, message: Message) -> bool:
        if not self.responses and str(message.response).lower() in ERROR_RESPONSES:
            self.responses.append(message)
            if not self.future.done():
                self.future.set_result(message)
            return True
        return bool(super().add_message(message))


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    encoding = "utf-8"

    def __init__(self, link: AmiLink, max_pending: int = MAX_PENDING) -> None:
        super().__init__()
        self._link = link
        self._max_pending = max_pending

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self._link
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._banner_checked = False
        self._blocks: deque[str] = deque()
        self._draining = False

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            return
        self._pending += self._decoder.decode(data)
        if not self._banner_checked and not self._take_banner():
            return
        if EOL * 2 in self._pending:
            *blocks, self._pending = self._pending.split(EOL * 2)
            self._blocks.extend(blocks)
        if len(self._pending) > self._max_pending:
            self._pending = ""
            self._blocks.clear()
            self._link.abort(f"peer sent over {self._max_pending} characters without a message end")
            return
        if not self._draining:
            self._drain()

    @property
    def _stopped(self) -> bool:
        return bool(self.closed) or self._link.is_lost

    def _drain(self) -> None:
        """Handle up to BATCH messages, then yield to the loop with reading paused."""
        self._draining = False
        for _ in range(BATCH):
            if not self._blocks or self._stopped:
                break
            self._handle_block(self._blocks.popleft())
        if self._stopped:
            self._blocks.clear()
        elif self._blocks:
            self.transport.pause_reading()
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)
        else:
            self.transport.resume_reading()

    def _take_banner(self) -> bool:
        line, eol, rest = self._pending.partition(EOL)
        if not eol:
            if len(self._pending) > self._max_pending:
                self._link.abort("no AMI banner")
            return False
        self._banner_checked = True
        if line.startswith(BANNER):
            self.version = line[len(BANNER) :].strip()[:40]
            self._pending = rest
        return True

    def _handle_block(self, block: str) -> None:
        self._link.heard += 1
        try:
            block = block.strip()
            message = event_message(block) if block.startswith(EVENT) else Message.from_line(block)
            if message is None:
                log.debug("AMI block without Event or Response ignored (%d chars)", len(block))
                return
            self.handle_message(message)
        except Exception:
            log.debug("AMI message ignored: panoramisk could not handle it", exc_info=True)


class EventMessage(Message):  # type: ignore[misc]  # panoramisk is untyped
    """A panoramisk Message whose look-ups go straight to its store: the engine reads a dozen
    headers of every event, and the generic ``Mapping.get`` (a ``KeyError`` caught for each
    header an event lacks) cost more than the reading itself."""

    def get(self, key: str, default: Any = None) -> Any:
        item = self._store.get(key.lower())
        return default if item is None else item[1]


def event_message(block: str) -> Message:
    """An event block as the panoramisk Message ``Message.from_line`` makes of it, built
    directly: events are most of what Asterisk sends, and from_line's generic path (a dict,
    then a second one through ``update``) was the costliest step of reading them. A header
    that comes again (``ChanVariable``) becomes a list, ``Result`` is unquoted, and there is
    no body, as from_line has it for events."""
    store: dict[str, tuple[str, Any]] = {}
    for line in block.split(EOL):
        key, colon, value = line.partition(": ")
        if not colon:
            continue
        lower = key.lower()
        if lower in QUOTED:
            value = unquote(value).strip()
        held = store.get(lower)
        if held is None:
            store[lower] = (key, value)
        else:
            values = held[1] if isinstance(held[1], list) else [held[1]]
            store[lower] = (held[0], [*values, value])
    store["content"] = ("content", "")
    message: Message = EventMessage.__new__(EventMessage)
    message._store = store
    message.manager = None
    return message


class AmiLink:
    """One connection: sends actions, correlates answers, reports its own end once."""

    forgetable_actions = _EveryAction()

    def __init__(self, on_event: Callable[[AmiLink, Message], None]) -> None:
        self.awaiting_actions: list[Any] = []  # stays empty: see _EveryAction
        self._on_event = on_event
        self._waiting: set[asyncio.Future[Any]] = set()
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.protocol: AmiProtocol | None = None
        self.heard = 0
        """Messages received so far: a link that answered anything lately is alive."""

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_event: Callable[[AmiLink, Message], None],
        *,
        timeout: float,  # noqa: ASYNC109
        max_pending: int = MAX_PENDING,
    ) -> AmiLink:
        link = cls(on_event)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            _, protocol = await loop.create_connection(
                lambda: AmiProtocol(link, max_pending), host, port
            )
        link.protocol = protocol
        return link

    @property
    def is_lost(self) -> bool:
        return self.lost.done()

    async def request(
        self,
        headers: Headers,
        *,
        timeout: float,  # noqa: ASYNC109 (each action has its own limit)
        as_list: bool | None = None,
    ) -> AmiAnswer:
        """Send ``headers`` (already sanitised) and wait for the answer.

        Raises AmiNotConnected (the link is gone: nothing sent), AmiActionLost (the link ended
        before the answer) or AmiTimeout. An error answer is returned, not raised.
        """
        if self.protocol is None or self.is_lost:
            raise AmiNotConnected("the AMI link is down; the action was not sent")
        action = _Action(headers, as_list=as_list)
        future: asyncio.Future[Any] = self.protocol.send(action, as_list=as_list)
        self._waiting.add(future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise AmiTimeout(f"{headers['Action']}: no answer within {timeout:g} s") from None
        finally:
            self._waiting.discard(future)
            self._forget(action)

    def abort(self, reason: str) -> None:
        """Drop the connection now (no FIN handshake) and fail what is waiting."""
        if self.protocol is not None and not self.is_lost:
            log.debug("AMI link aborted: %s", reason)
            self.protocol.transport.abort()
        self._end(reason)

    # The protocol's factory interface.

    def dispatch(self, message: Message) -> None:
        if not self.is_lost:
            self._on_event(self, message)

    def connection_lost(self, exc: object) -> None:
        if isinstance(exc, Message):
            self._end("Asterisk announced a shutdown")
        else:
            self._end(f"connection closed ({exc})" if exc else "connection closed by peer")

    def _end(self, reason: str) -> None:
        if not self.lost.done():
            self.lost.set_result(reason)
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(AmiActionLost(f"AMI link lost before the answer: {reason}"))
        self._waiting.clear()

    def _forget(self, action: Any) -> None:
        if self.protocol is not None:
            self.protocol.responses.pop(action.id, None)
