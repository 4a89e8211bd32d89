"""A fake Asterisk Manager Interface: an asyncio TCP server speaking AMI's wire protocol.

It reads actions the way Asterisk does (a line ends at LF, with or without CR; an empty line
ends an action) and records every one it receives, raw bytes included, so a test can prove
what reached "Asterisk". It answers:

- the banner, ``Login`` (checks username and secret; a refusal answers
  ``Authentication failed`` and closes, as Asterisk does), ``Ping``, ``Logoff``;
- ``CoreShowChannels`` and ``DeviceStateList`` from :attr:`FakeAmi.channels` and
  :attr:`FakeAmi.devices`, in Asterisk 22's formats (see ``tests/transcripts/ami/``), with
  :attr:`FakeAmi.during_resync` events slipped between the channel list's first answer
  and its entries;
- anything in :attr:`FakeAmi.responders`; other actions get ``Response: Success``
  (``Originate``: ``Originate successfully queued``); names in :attr:`FakeAmi.held` get no
  answer at all.

And it misbehaves on demand: :meth:`go_silent` (the current connections stop answering and
sending but stay open: a half-open link), :meth:`drop` (reset every connection),
:meth:`push_raw` (malformed or huge input). :meth:`play` pushes the events of a recorded
transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Pairs = list[tuple[str, str]]
EventHeaders = Mapping[str, str] | Sequence[tuple[str, str]]
Responder = Callable[["ReceivedAction"], Iterable[EventHeaders]]

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts" / "ami"
DEFAULT_SECRET = "test-secret"
BANNER = "Asterisk Call Manager/11.0.0"
_COMPLETE = {
    "CoreShowChannel": "CoreShowChannelsComplete",
    "DeviceStateChange": "DeviceStateListComplete",
}


@dataclass
class ReceivedAction:
    connection: int
    headers: Pairs
    raw: bytes

    def get(self, key: str) -> str | None:
        for name, value in self.headers:
            if name.lower() == key.lower():
                return value
        return None

    @property
    def name(self) -> str:
        return (self.get("Action") or "").lower()

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


@dataclass(eq=False)
class _Connection:
    number: int
    writer: asyncio.StreamWriter
    authenticated: bool = False
    events: bool = True
    silent: bool = False
    pending: bytearray = field(default_factory=bytearray)
    headers: Pairs = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)


def wire(headers: EventHeaders) -> bytes:
    """One AMI message as Asterisk writes it."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"


def load_transcript(path: Path) -> list[Pairs]:
    """Messages of a transcript file: blocks of ``Key: value`` lines split by empty lines;
    lines starting with ``#`` before the first block are comments."""
    messages: list[Pairs] = []
    current: Pairs = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.rstrip("\r")
        if not line:
            if current:
                messages.append(current)
            current = []
        elif line.startswith("#") and not current:
            continue
        else:
            key, _, value = line.partition(": ")
            current.append((key, value))
    if current:
        messages.append(current)
    return messages


def channel_row(
    uniqueid: str,
    *,
    linkedid: str | None = None,
    channel: str | None = None,
    state: str = "Up",
    caller_num: str = "5551234",
    caller_name: str = "Test Caller",
    context: str = "hotline",
    exten: str = "100",
    duration: str = "00:00:07",
) -> dict[str, str]:
    """One ``CoreShowChannel`` entry with the fields Asterisk 22 sends."""
    return {
        "Channel": channel or f"PJSIP/caller-{uniqueid.replace('.', '')}",
        "ChannelState": {"Up": "6", "Ring": "4", "Ringing": "5"}.get(state, "0"),
        "ChannelStateDesc": state,
        "CallerIDNum": caller_num,
        "CallerIDName": caller_name,
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": context,
        "Exten": exten,
        "Priority": "1",
        "Uniqueid": uniqueid,
        "Linkedid": linkedid or uniqueid,
        "Application": "MusicOnHold",
        "ApplicationData": "default",
        "Duration": duration,
        "BridgeId": "",
    }


class FakeAmi:
    def __init__(self, *, username: str = "callcenter", secret: str = DEFAULT_SECRET) -> None:
        self.username = username
        self.secret = secret
        self.channels: list[dict[str, str]] = []
        self.devices: dict[str, str] = {}
        self.during_resync: list[EventHeaders] = []
        self.responders: dict[str, Responder] = {}
        self.held: set[str] = set()
        self.actions: list[ReceivedAction] = []
        self.connections = 0
        self.connected_at: list[float] = []
        self.logins_ok = 0
        self.logins_failed = 0
        self._server: asyncio.Server | None = None
        self._open: list[_Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # Lifecycle.

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    # What a test looks at.

    def named(self, name: str) -> list[ReceivedAction]:
        return [a for a in self.actions if a.name == name.lower()]

    @property
    def live_connections(self) -> int:
        return len(self._open)

    # Misbehaviour and pushed traffic.

    def go_silent(self) -> None:
        """The current connections stop answering and sending; their sockets stay open."""
        for conn in self._open:
            conn.silent = True

    def drop(self) -> None:
        """Reset every connection at once."""
        for conn in list(self._open):
            with contextlib.suppress(Exception):
                conn.writer.transport.abort()
        self._open.clear()

    def push_event(self, headers: EventHeaders) -> None:
        self._broadcast(wire(headers), events_only=True)

    def push_raw(self, data: bytes) -> None:
        self._broadcast(data, events_only=False)

    def play(self, messages: Iterable[Pairs]) -> int:
        """Push the events of a transcript (answers to actions, with an ActionID, are skipped)."""
        pushed = 0
        for message in messages:
            keys = {k.lower() for k, _ in message}
            if "event" in keys and "actionid" not in keys:
                self.push_event(message)
                pushed += 1
        return pushed

    def _broadcast(self, data: bytes, *, events_only: bool) -> None:
        for conn in self._open:
            if conn.silent or (events_only and not (conn.authenticated and conn.events)):
                continue
            conn.writer.write(data)

    # Serving.

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.connected_at.append(asyncio.get_running_loop().time())
        conn = _Connection(self.connections, writer)
        self._open.append(conn)
        writer.write(f"{BANNER}\r\n".encode())
        try:
            while data := await reader.read(65536):
                if not conn.silent:
                    self._feed(conn, data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            if conn in self._open:
                self._open.remove(conn)
            writer.transport.abort()

    def _feed(self, conn: _Connection, data: bytes) -> None:
        conn.pending += data
        while (end := conn.pending.find(b"\n")) >= 0:
            line = bytes(conn.pending[: end + 1])
            del conn.pending[: end + 1]
            conn.raw += line
            text = line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
            if text:
                key, _, value = text.partition(": ")
                conn.headers.append((key, value))
            elif conn.headers:
                action = ReceivedAction(conn.number, conn.headers, bytes(conn.raw))
                conn.headers, conn.raw = [], bytearray()
                self.actions.append(action)
                self._answer(conn, action)
            else:
                conn.raw.clear()

    def _answer(self, conn: _Connection, action: ReceivedAction) -> None:
        if action.name == "login":
            self._login(conn, action)
        elif not conn.authenticated:
            self._reply(conn, action, {"Response": "Error", "Message": "Permission denied"})
        elif action.name in self.held:
            return
        elif action.name in self.responders:
            for message in self.responders[action.name](action):
                self._reply(conn, action, message)
        elif action.name == "ping":
            stamp = f"{time.time():.6f}"
            self._reply(conn, action, {"Response": "Success", "Ping": "Pong", "Timestamp": stamp})
        elif action.name == "coreshowchannels":
            self._list(conn, action, "Channels will follow", "CoreShowChannel", self.channels)
        elif action.name == "devicestatelist":
            rows = [{"Device": d, "State": s} for d, s in self.devices.items()]
            self._list(conn, action, "Device State Changes will follow", "DeviceStateChange", rows)
        elif action.name == "logoff":
            self._reply(
                conn, action, {"Response": "Goodbye", "Message": "Thanks for all the fish."}
            )
            conn.writer.close()
        elif action.name == "originate":
            self._reply(
                conn, action, {"Response": "Success", "Message": "Originate successfully queued"}
            )
        else:
            self._reply(conn, action, {"Response": "Success"})

    def _login(self, conn: _Connection, action: ReceivedAction) -> None:
        if action.get("Username") == self.username and action.get("Secret") == self.secret:
            self.logins_ok += 1
            conn.authenticated = True
            conn.events = (action.get("Events") or "on").lower() != "off"
            self._reply(conn, action, {"Response": "Success", "Message": "Authentication accepted"})
            if conn.events:
                conn.writer.write(
                    wire(
                        {
                            "Event": "FullyBooted",
                            "Privilege": "system,all",
                            "Uptime": "42",
                            "LastReload": "42",
                            "Status": "Fully Booted",
                        }
                    )
                )
            return
        self.logins_failed += 1
        self._reply(conn, action, {"Response": "Error", "Message": "Authentication failed"})
        conn.writer.close()

    def _list(
        self,
        conn: _Connection,
        action: ReceivedAction,
        message: str,
        item: str,
        rows: Sequence[Mapping[str, str]],
    ) -> None:
        self._reply(conn, action, {"Response": "Success", "EventList": "start", "Message": message})
        if item == "CoreShowChannel":
            for event in self.during_resync:
                conn.writer.write(wire(event))
        for row in rows:
            self._reply(conn, action, {"Event": item, **row})
        self._reply(
            conn,
            action,
            {"Event": _COMPLETE[item], "EventList": "Complete", "ListItems": str(len(rows))},
        )

    def _reply(self, conn: _Connection, action: ReceivedAction, headers: EventHeaders) -> None:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if action.action_id is not None:
            pairs.insert(1, ("ActionID", action.action_id))
        conn.writer.write(wire(pairs))


async def eventually(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)


async def never(predicate: Callable[[], bool], duration: float) -> bool:
    """True when ``predicate()`` stayed false for ``duration`` seconds."""
    deadline = asyncio.get_running_loop().time() + duration
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return False
        await asyncio.sleep(0.01)
    return True
