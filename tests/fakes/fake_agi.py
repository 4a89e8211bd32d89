"""The Asterisk side of a FastAGI connection, scripted: the fake beside the FastAGI server.

It connects like Asterisk does, sends an ``agi_*`` environment (by default the same variables,
in the same order, as Asterisk 22 sends them), then answers each command from a script of
:class:`Step` values and records every line it receives. It can also stall, send ``HANGUP``,
or send garbage. :func:`load_transcript` turns a recorded session
(``tests/transcripts/agi/*.jsonl``) into an environment and a script, so a real Asterisk
conversation can be replayed against the server byte for byte.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

Env = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Step:
    """Expect a command starting with ``expect`` (or equal to it when ``exact``) and answer
    with ``replies``, one line each; ``replies=None`` stalls: the command is never answered."""

    expect: str
    replies: tuple[str, ...] | None
    exact: bool = False

    def matches(self, line: str) -> bool:
        return line == self.expect if self.exact else line.startswith(self.expect)


def step(expect: str, *replies: str) -> Step:
    return Step(expect, replies)


def stall(expect: str) -> Step:
    return Step(expect, None)


def asterisk_env(
    path: str = "hotline",
    *,
    channel: str = "PJSIP/caller-00000001",
    uniqueid: str = "1700000000.1",
    callerid: str = "0612345678",
    calleridname: str = "Caller",
    args: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """An environment as Asterisk 22.10 sends it for ``AGI(agi://127.0.0.1:4573/PATH,args)``."""
    env = [("agi_network", "yes")]
    if path:
        env.append(("agi_network_script", path))
    env += [
        ("agi_request", f"agi://127.0.0.1:4573/{path}"),
        ("agi_channel", channel),
        ("agi_language", "en"),
        ("agi_type", channel.partition("/")[0]),
        ("agi_uniqueid", uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", callerid),
        ("agi_calleridname", calleridname),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", "hotline"),
        ("agi_extension", "s"),
        ("agi_priority", "4"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140000000000000"),
    ]
    env += [(f"agi_arg_{n}", value) for n, value in enumerate(args, start=1)]
    return env


def env_lines(env: Env) -> list[str]:
    return [f"{key}: {value}" for key, value in env] + [""]


@dataclass
class Transcript:
    """A recorded session: the environment lines, then the command/response exchange."""

    env: list[str]
    steps: list[Step]

    def engine_lines(self) -> list[str]:
        return [s.expect for s in self.steps]


def load_transcript(path: Path) -> Transcript:
    """Read JSON lines ``{"t": seconds, "from": "asterisk"|"engine"|"note", "line": text}``;
    notes (how the transcript was recorded) are skipped."""
    records = [json.loads(raw) for raw in path.read_text("utf-8").splitlines() if raw.strip()]
    env: list[str] = []
    steps: list[Step] = []
    command: str | None = None
    replies: list[str] = []
    for record in records:
        line = str(record["line"])
        if record["from"] == "note":
            continue
        if record["from"] == "engine":
            if command is not None:
                steps.append(Step(command, tuple(replies), exact=True))
            command, replies = line, []
        elif command is None:
            env.append(line)
        else:
            replies.append(line)
    if command is not None:
        steps.append(Step(command, tuple(replies), exact=True))
    return Transcript(env, steps)


class FakeAgiClient:
    """Plays Asterisk against a FastAGI server on ``host:port``."""

    def __init__(
        self,
        port: int,
        script: Sequence[Step] = (),
        *,
        env: Env | None = None,
        raw_env: Sequence[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self.host = host
        self.script = list(script)
        self.env = (
            env_lines(asterisk_env() if env is None else env) if raw_env is None else list(raw_env)
        )
        self.received: list[str] = []
        """Every line the server sent, newline removed (commands and any ``FAILURE``)."""
        self.eof = False
        self.send_failed = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    def from_transcript(cls, port: int, transcript: Transcript) -> FakeAgiClient:
        return cls(port, transcript.steps, raw_env=transcript.env)

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def send_line(self, line: str) -> None:
        await self.send_raw(line.encode("utf-8") + b"\n")

    async def send_raw(self, data: bytes) -> None:
        """Write; a connection the server already dropped is noted in ``send_failed``."""
        assert self._writer is not None, "connect() first"
        try:
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError:
            self.send_failed = True

    async def send_hangup(self) -> None:
        """What Asterisk writes between two commands when the channel hangs up."""
        await self.send_line("HANGUP")

    async def send_env(self) -> None:
        await self.send_raw("".join(line + "\n" for line in self.env).encode("utf-8"))

    async def read_line(self) -> str | None:
        """The next line from the server, recorded; None once the server closed."""
        assert self._reader is not None, "connect() first"
        try:
            raw = await self._reader.readuntil(b"\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof = True
            return None
        line = raw[:-1].decode("utf-8", "replace")
        self.received.append(line)
        return line

    async def drain_until_closed(self) -> None:
        """Record whatever the server still sends until it closes the connection."""
        while await self.read_line() is not None:
            pass

    async def serve(self) -> None:
        """Answer the script; a command the script did not expect fails the test."""
        for expected in self.script:
            line = await self.read_line()
            if line is None:
                return
            if not expected.matches(line):
                raise AssertionError(f"expected {expected.expect!r}, got {line!r}")
            if expected.replies is None:
                break
            for reply in expected.replies:
                await self.send_line(reply)
        await self.drain_until_closed()

    async def run(self, timeout: float = 5.0) -> list[str]:
        """Connect, send the environment, serve the script, wait for the server to close."""
        try:
            async with asyncio.timeout(timeout):
                await self.connect()
                await self.send_env()
                await self.serve()
        finally:
            await self.close()
        return self.received

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
