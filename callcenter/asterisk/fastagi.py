"""The FastAGI server: Asterisk's ``AGI(agi://host:port/PATH)`` calls, on asyncio streams.

Theory of operation. Asterisk opens one TCP connection per ``AGI()`` call. The server checks
the peer against ``allowed_peers`` (FastAGI has no authentication) and the number of running
sessions against ``max_connections``, reads the ``agi_*`` environment within
``header_timeout``, picks the handler registered for the ``agi_network_script`` path and runs
it with an :class:`AgiSession`. The handler drives the call with commands; each response must
arrive within ``command_timeout``. Lines longer than ``max_line_bytes`` end the session.

How a session ends decides ``AGISTATUS`` in the dialplan (verified on Asterisk 22):

* the handler returns, or the engine simply closes the socket: ``SUCCESS``, even when nothing
  was read; closing alone can therefore never make the dialplan fall back;
* the engine sends a line starting with ``FAILURE``: ``FAILURE``. The server sends it when it
  refuses a call (too many sessions, unknown path, bad or late environment) and when a session
  fails (handler exception, protocol error, command timeout, shutdown), so the dialplan's
  ``${AGISTATUS}`` check sends the caller to its fallback instead of dead air;
* the caller hangs up: ``HANGUP``, and the dialplan stops anyway.

Peers outside ``allowed_peers`` are not Asterisk: their connection is dropped unread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import MappingProxyType
from typing import Literal

from callcenter.asterisk import agi_protocol as proto
from callcenter.asterisk.agi_protocol import AgiCommand, AgiResult, Arg, HangupNotice
from callcenter.errors import AgiError, AgiHangup
from callcenter.settings import FastAgiSettings

log = logging.getLogger(__name__)

Handler = Callable[["AgiSession"], Awaitable[None]]
Outcome = Literal["ok", "hangup", "failed"]

REJECT_LOG_INTERVAL = 60.0
"""At most one warning per interval for refused connections; the rest are counted."""


@dataclass(frozen=True, slots=True)
class FastAgiStats:
    """Counters for the health endpoint; ``total`` counts accepted sessions."""

    active: int
    total: int
    rejected_peer: int
    rejected_limit: int
    rejected_route: int
    errors: int


class AgiSession:
    """One ``AGI()`` call: its environment and the commands that drive the channel.

    Caller ID values are exposed raw (``caller_num`` is ``"unknown"`` when absent): cleaning
    them is the core's job. Commands run one at a time. The first command that learns of the
    hang-up (Asterisk's ``HANGUP`` line, a ``511`` or a closed connection) raises
    :class:`AgiHangup`; later commands still run where Asterisk allows them on a dead channel
    (``SET VARIABLE``, ``GET VARIABLE``, ``VERBOSE``, ``EXEC``). A timeout or protocol error
    closes the session: every later command raises :class:`AgiError`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: Mapping[str, str],
        command_timeout: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._command_timeout = command_timeout
        self._parser = proto.ResponseParser()
        self._busy = False
        self._closed = False
        self._hung_up = False
        self._hangup_reported = False
        self._linkedid: str | None = None
        self.env: Mapping[str, str] = MappingProxyType(dict(env))
        route = proto.parse_script(env.get("agi_network_script", ""))
        self.path = route.path
        self.query = route.query
        self.args = proto.script_args(env)
        self.channel = env.get("agi_channel", "")
        self.uniqueid = env.get("agi_uniqueid", "")
        self.caller_num = env.get("agi_callerid", "")
        self.caller_name = env.get("agi_calleridname", "")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    # --- raw commands -------------------------------------------------------------------

    async def command(
        self, verb: str, *args: Arg, response_timeout: float | None = None
    ) -> AgiResult:
        """Send ``verb "arg" ...`` and return the response (any code but 511)."""
        return await self.run(proto.command(verb, *args), response_timeout)

    async def run(self, cmd: AgiCommand, response_timeout: float | None = None) -> AgiResult:
        """Execute a prepared command; ``response_timeout`` overrides ``command_timeout``
        (long ``EXEC``s such as ``Queue`` or ``Dial``, ``WAIT FOR DIGIT -1``)."""
        if self._closed:
            raise AgiError(f"{cmd.verb}: the AGI session is closed")
        if self._busy:
            raise AgiError(f"{cmd.verb}: another command is still running on this session")
        self._busy = True
        try:
            result = await self._exchange(cmd, response_timeout or self._command_timeout)
        finally:
            self._busy = False
        if self._hung_up and not self._hangup_reported:
            self._hangup_reported = True
            raise AgiHangup(f"{cmd.verb}: the channel hung up")
        if result.code == 511:
            raise AgiHangup(f"{cmd.verb}: refused on a dead channel ({result.data})")
        return result

    async def _exchange(self, cmd: AgiCommand, limit: float) -> AgiResult:
        in_sync = False
        try:
            async with asyncio.timeout(limit):
                self._writer.write(cmd.encode())
                await self._writer.drain()
                result = await self._read_response()
            in_sync = True
            return result
        except TimeoutError:
            raise AgiError(f"{cmd.verb}: no response within {limit:g} s") from None
        except (ConnectionError, OSError) as exc:
            self._hung_up = self._hangup_reported = True
            raise AgiHangup(f"{cmd.verb}: connection lost ({exc})") from None
        finally:
            if not in_sync:
                self.abort(failed=not self._hung_up)

    async def _read_response(self) -> AgiResult:
        while True:
            response = self._parser.feed(await self._read_line())
            if isinstance(response, HangupNotice):
                self._hung_up = True
            elif response is not None:
                return response

    async def _read_line(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            self._hung_up = self._hangup_reported = True
            raise AgiHangup("Asterisk closed the AGI connection") from None
        except asyncio.LimitOverrunError:
            raise AgiError("AGI response line too long") from None
        return raw[:-1].decode("utf-8", "replace").removesuffix("\r")

    def abort(self, *, failed: bool) -> None:
        """Close the connection now; ``failed`` first sends ``FAILURE`` (see module notes)."""
        if self._closed:
            return
        self._closed = True
        if failed and not self._hung_up:
            with suppress(ConnectionError, OSError, RuntimeError):
                self._writer.write(proto.FAILURE_LINE)
        self._writer.close()

    async def _expect_success(
        self, cmd: AgiCommand, response_timeout: float | None = None
    ) -> AgiResult:
        """Run; raise on 5xx, and on result -1 tell a hang-up from a failed command."""
        result = await self.run(cmd, response_timeout)
        if not result.ok:
            raise AgiError(f"{cmd.verb}: Asterisk answered {result.code} {result.data[:200]}")
        if result.result == -1:
            await self._failed(cmd.verb)
        return result

    async def _failed(self, verb: str) -> None:
        """A -1 means "hung up" or "failed" (e.g. a missing prompt). After a hang-up Asterisk
        writes ``HANGUP`` before it reads the next command, so a ``NOOP`` tells them apart."""
        if self._hung_up:
            raise AgiHangup(f"{verb}: the channel hung up")
        await self.run(proto.noop())
        raise AgiError(f"{verb} failed (result -1) on a live channel; see the Asterisk log")

    # --- typed helpers --------------------------------------------------------------------

    async def answer(self) -> None:
        await self._expect_success(proto.answer())

    async def hangup(self) -> None:
        await self._expect_success(proto.hangup())

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        """Play a prompt; the digit that interrupted it, or None if it played to the end."""
        result = await self._expect_success(proto.stream_file(prompt, escape_digits))
        return proto.dtmf_digit(_int(result))

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Play a prompt and collect up to ``max_digits`` (``#`` ends); "" when none came."""
        result = await self._expect_success(proto.get_data(prompt, timeout_ms, max_digits))
        if not set(result.value) <= set("0123456789*#ABCD"):
            raise AgiError(f"GET DATA returned {result.value[:20]!r}, not DTMF digits")
        return result.value

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        result = await self._expect_success(proto.wait_for_digit(timeout_ms))
        return proto.dtmf_digit(_int(result))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        result = await self._expect_success(proto.say_digits(digits, escape_digits))
        return proto.dtmf_digit(_int(result))

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        result = await self._expect_success(proto.say_number(number, escape_digits))
        return proto.dtmf_digit(_int(result))

    async def say_date(self, epoch: int, escape_digits: str = "") -> str | None:
        result = await self._expect_success(proto.say_date(epoch, escape_digits))
        return proto.dtmf_digit(_int(result))

    async def set_variable(self, name: str, value: str) -> None:
        await self._expect_success(proto.set_variable(name, value))

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function (``CHANNEL(linkedid)``); None when unset."""
        result = await self._expect_success(proto.get_variable(name))
        return result.data if result.result == 1 else None

    async def linkedid(self) -> str:
        """The call's linkedid (not in the AGI environment); asked once, then remembered."""
        if self._linkedid is None:
            value = await self.get_variable("CHANNEL(linkedid)")
            if not value:
                raise AgiError("CHANNEL(linkedid) is empty")
            self._linkedid = value
        return self._linkedid

    async def exec(self, app: str, *args: Arg, response_timeout: float | None = None) -> AgiResult:
        """Run a dialplan application; each of ``args`` stays one argument (values holding
        ``, | " \\ ( ) [ ] { } $ & ^`` are rejected, see :func:`agi_protocol.exec_app`)."""
        result = await self._expect_success(proto.exec_app(app, *args), response_timeout)
        if result.result == -2:
            raise AgiError(f"EXEC: no application {app!r} in Asterisk")
        return result

    async def verbose(self, message: str, level: int = 1) -> None:
        await self._expect_success(proto.verbose(message, level))

    async def set_music(self, on: bool, moh_class: str | None = None) -> None:
        await self._expect_success(proto.set_music(on, moh_class))

    async def record_file(
        self,
        filename: str,
        file_format: str,
        escape_digits: str,
        timeout_ms: int,
        *,
        beep: bool = False,
        silence_s: int | None = None,
        response_timeout: float | None = None,
    ) -> AgiResult:
        cmd = proto.record_file(
            filename, file_format, escape_digits, timeout_ms, beep=beep, silence_s=silence_s
        )
        return await self._expect_success(cmd, response_timeout)


def _int(result: AgiResult) -> int:
    if result.result is None:
        raise AgiError(f"AGI result {result.value[:20]!r} is not a number")
    return result.result


class _RateLimitedWarning:
    """Logs the first event, then at most one line per interval with the count skipped."""

    def __init__(self, what: str, interval: float = REJECT_LOG_INTERVAL) -> None:
        self._what = what
        self._interval = interval
        self._last: float | None = None
        self._skipped = 0

    def __call__(self, now: float, detail: str) -> None:
        if self._last is not None and now - self._last < self._interval:
            self._skipped += 1
            return
        log.warning(
            "FastAGI: %s: %s (%d more since the last report)", self._what, detail, self._skipped
        )
        self._last = now
        self._skipped = 0


class FastAgiServer:
    """Accepts Asterisk's FastAGI connections and runs the handler registered per path."""

    def __init__(
        self,
        settings: FastAgiSettings,
        routes: Mapping[str, Handler],
        *,
        stop_grace: float = 5.0,
    ) -> None:
        self._settings = settings
        self._routes = {path.lstrip("/"): handler for path, handler in routes.items()}
        self._stop_grace = stop_grace
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = self._total = self._errors = 0
        self._rejected_peer = self._rejected_limit = self._rejected_route = 0
        self._warn_peer = _RateLimitedWarning("connection from a peer not in allowed_peers")
        self._warn_limit = _RateLimitedWarning("max_connections reached, call refused")

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAGI server already started")
        self._server = await asyncio.start_server(
            self._on_connect,
            self._settings.host,
            self._settings.port,
            limit=self._settings.max_line_bytes,
            backlog=max(100, min(self._settings.max_connections, 4096)),
        )
        log.info("FastAGI listening on %s:%s", self._settings.host, self.bound_port)

    async def stop(self, grace: float | None = None) -> None:
        """Stop listening, let sessions finish for ``grace`` seconds, then cancel them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        running = set(self._tasks)
        if running:
            _, pending = await asyncio.wait(
                running, timeout=self._stop_grace if grace is None else grace
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await server.wait_closed()

    @property
    def bound_port(self) -> int | None:
        """The port actually listened on (``port: 0`` picks a free one); None when stopped."""
        if self._server is None or not self._server.sockets:
            return None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def stats(self) -> FastAgiStats:
        return FastAgiStats(
            active=self._active,
            total=self._total,
            rejected_peer=self._rejected_peer,
            rejected_limit=self._rejected_limit,
            rejected_route=self._rejected_route,
            errors=self._errors,
        )

    # --- one connection -------------------------------------------------------------------

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        now = asyncio.get_running_loop().time()
        peer = _peer_address(writer)
        if peer is None or not any(peer in net for net in self._settings.allowed_peers):
            self._rejected_peer += 1
            self._warn_peer(now, f"{peer}")
            writer.transport.abort()
            return
        if self._active >= self._settings.max_connections:
            # Replying nothing would leave AGISTATUS=SUCCESS: FAILURE makes the dialplan
            # fall back (voicemail, plain queue) instead of carrying on as if served.
            self._rejected_limit += 1
            self._warn_limit(now, f"{self._active} sessions running")
            _close(writer, failed=True)
            return
        self._active += 1
        self._total += 1
        task = asyncio.create_task(self._serve(reader, writer, now), name="fastagi-session")
        self._tasks.add(task)
        task.add_done_callback(self._session_done)

    def _session_done(self, task: asyncio.Task[None]) -> None:
        self._active -= 1
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._errors += 1
            log.error("FastAGI: session task failed", exc_info=exc)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, started: float
    ) -> None:
        session: AgiSession | None = None
        outcome: Outcome = "failed"
        path = channel = "?"
        try:
            env = await self._read_environment(reader)
            session = AgiSession(reader, writer, env, self._settings.command_timeout)
            path, channel = session.path, session.channel
            handler = self._routes.get(session.path)
            if handler is None:
                self._rejected_route += 1
                log.warning("FastAGI: no handler for path %r (channel %r)", path, channel)
                return
            outcome = await self._run_handler(handler, session)
        except AgiError as exc:
            self._errors += 1
            log.warning("FastAGI: bad session start from Asterisk: %s", exc)
        finally:
            if session is None:
                _close(writer, failed=outcome == "failed")
            else:
                session.abort(failed=outcome == "failed")
            duration = asyncio.get_running_loop().time() - started
            log.debug(
                "FastAGI: session %r on %r ended (%s) after %.3f s",
                path,
                channel,
                outcome,
                duration,
            )

    async def _read_environment(self, reader: asyncio.StreamReader) -> dict[str, str]:
        parser = proto.EnvironmentParser()
        try:
            async with asyncio.timeout(self._settings.header_timeout):
                while True:
                    raw = await reader.readuntil(b"\n")
                    line = raw[:-1].decode("utf-8", "replace").removesuffix("\r")
                    env = parser.feed(line)
                    if env is not None:
                        return env
        except TimeoutError:
            raise AgiError(
                f"AGI environment incomplete after {self._settings.header_timeout:g} s"
            ) from None
        except asyncio.IncompleteReadError:
            raise AgiError("connection closed during the AGI environment") from None
        except asyncio.LimitOverrunError:
            raise AgiError("AGI environment line too long") from None

    async def _run_handler(self, handler: Handler, session: AgiSession) -> Outcome:
        try:
            await handler(session)
        except AgiHangup as exc:
            log.debug("FastAGI: %r on %r: caller hung up: %s", session.path, session.channel, exc)
            return "hangup"
        except AgiError as exc:
            self._errors += 1
            log.warning("FastAGI: %r on %r failed: %s", session.path, session.channel, exc)
            return "failed"
        except Exception:
            self._errors += 1
            log.exception("FastAGI: handler for %r on %r raised", session.path, session.channel)
            return "failed"
        return "hangup" if session.hung_up else "ok"


def _peer_address(writer: asyncio.StreamWriter) -> IPv4Address | IPv6Address | None:
    peername = writer.get_extra_info("peername")
    if not isinstance(peername, tuple) or not peername:
        return None
    try:
        address = ip_address(str(peername[0]).partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _close(writer: asyncio.StreamWriter, *, failed: bool) -> None:
    if failed:
        with suppress(ConnectionError, OSError, RuntimeError):
            writer.write(proto.FAILURE_LINE)
    writer.close()
