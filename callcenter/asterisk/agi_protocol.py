"""The FastAGI protocol as values and pure functions: no sockets, no clock, no logging.

Theory of operation. Asterisk opens one TCP connection per ``AGI()`` call and first sends the
``agi_*`` environment: ``key: value`` lines ended by an empty line
(:class:`EnvironmentParser`). The engine then writes one command per line
(:class:`AgiCommand`, every argument double-quoted) and Asterisk answers each with one result
line, or a ``520-`` usage block ended by ``520 End of proper usage.``
(:class:`ResponseParser`). When the channel hangs up, Asterisk writes a bare ``HANGUP`` line
between two commands (unless ``AGISIGHUP=no``); later commands that need a live channel get
``511``. Asterisk sends ``\\n`` line ends; a line starting with ``FAILURE`` sent to Asterisk ends
the AGI with ``AGISTATUS=FAILURE`` (:data:`FAILURE_LINE`).

Injection policy. Asterisk splits a command line on unquoted blanks and reads at most 2047
bytes per line, so a value with CR, LF or NUL, or an over-long line, could smuggle a second
command: :class:`AgiCommand` refuses them (:class:`~callcenter.errors.AgiError`). ``EXEC`` hands
its options to the application, which splits them again on ``,`` and gives meaning to quotes,
backslashes, brackets and more (``&`` in ``Dial``, ``^`` in its options); escaping is
application specific (``Set`` keeps backslashes), so :func:`exec_app` rejects those characters
in every argument instead of escaping them. Asterisk 22 substitutes no ``${...}`` in ``EXEC``
or ``SET VARIABLE`` values (verified); ``$`` is rejected in ``EXEC`` arguments all the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl

from callcenter.errors import AgiError

MAX_COMMAND_BYTES = 2000
"""Longest command line sent, newline included; Asterisk reads 2047 bytes per command."""

MAX_ENV_LINES = 200
"""Asterisk sends about 25 variables plus one per ``AGI()`` argument (at most 127)."""

MAX_USAGE_LINES = 200
"""Longest ``520-`` usage text accepted, in lines."""

FAILURE_LINE = b"FAILURE\n"
"""Sent instead of a command: Asterisk ends the AGI and sets ``AGISTATUS=FAILURE``."""

HANGUP_LINE = "HANGUP"
USAGE_END = "520 End of proper usage."

_ENV_LINE = re.compile(r"(?P<key>agi_[a-z0-9_]+): ?(?P<value>.*)", re.DOTALL)
_VERB = re.compile(r"[A-Z]+(?: [A-Z]+)*")
_STATUS = re.compile(r"(?P<code>[1-5][0-9]{2})(?P<sep>[ -])(?P<rest>.*)", re.DOTALL)
_RESULT = re.compile(r"result=(?P<value>\S*)(?: (?P<tail>.*))?", re.DOTALL)
_EXTRA = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S*)")
_INTEGER = re.compile(r"-?[0-9]+")
_FORBIDDEN_IN_ARG = frozenset("\r\n\x00")
_FORBIDDEN_IN_EXEC_ARG = frozenset(',|"\\()[]{}$&^') | frozenset(map(chr, range(32))) | {"\x7f"}
_APP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_VARIABLE_NAME = re.compile(r"_{0,2}[A-Za-z][A-Za-z0-9_]*(?:\([A-Za-z0-9_,.-]*\))?")
_DIGITS = frozenset("0123456789*#ABCD")
_DTMF_CODES = {ord(digit): digit for digit in _DIGITS}


# --- environment --------------------------------------------------------------------------


def parse_env_line(line: str) -> tuple[str, str] | None:
    """One environment line (without its newline) as ``(key, value)``; None for the end."""
    if line == "":
        return None
    match = _ENV_LINE.fullmatch(line)
    if match is None:
        raise AgiError(f"malformed AGI environment line: {line[:80]!r}")
    return match["key"], match["value"]


class EnvironmentParser:
    """Collects the ``agi_*`` block line by line; bounded in lines, strict in form."""

    def __init__(self, max_lines: int = MAX_ENV_LINES) -> None:
        self._max_lines = max_lines
        self._env: dict[str, str] = {}
        self._lines = 0

    def feed(self, line: str) -> dict[str, str] | None:
        """Take one line; return the whole environment once the empty line arrives."""
        self._lines += 1
        if self._lines > self._max_lines:
            raise AgiError(f"AGI environment longer than {self._max_lines} lines")
        pair = parse_env_line(line)
        if pair is None:
            if not self._env:
                raise AgiError("empty AGI environment")
            return self._env
        key, value = pair
        if key in self._env:
            raise AgiError(f"AGI environment repeats {key}")
        self._env[key] = value
        return None


def parse_environment(lines: list[str], max_lines: int = MAX_ENV_LINES) -> dict[str, str]:
    """A complete environment block (its closing empty line included)."""
    parser = EnvironmentParser(max_lines)
    for line in lines:
        env = parser.feed(line)
        if env is not None:
            return env
    raise AgiError("AGI environment not terminated by an empty line")


def script_args(env: Mapping[str, str]) -> tuple[str, ...]:
    """``agi_arg_1..N``: the arguments given after the URL in ``AGI(url,arg1,arg2)``."""
    args: list[str] = []
    while (value := env.get(f"agi_arg_{len(args) + 1}")) is not None:
        args.append(value)
    return tuple(args)


@dataclass(frozen=True, slots=True)
class ScriptRoute:
    """``agi_network_script`` split into the route path and its query parameters."""

    path: str
    query: Mapping[str, str]


def parse_script(script: str) -> ScriptRoute:
    """``"/hotline?lang=en"`` -> path ``"hotline"``, query ``{"lang": "en"}``."""
    path, _, query = script.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return ScriptRoute(path.lstrip("/"), MappingProxyType(params))


# --- responses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiResult:
    """One response: ``200 result=49 (data) endpos=1234`` or a ``5xx`` refusal.

    ``value`` is the raw ``result=`` token (``GET DATA`` digits keep their leading zeros
    there); ``result`` is that token as an int when it is one. For ``5xx`` codes ``data``
    holds the message (the usage text for ``520``).
    """

    code: int
    result: int | None = None
    data: str = ""
    extras: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    value: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """The bare ``HANGUP`` line: the channel hung up (Asterisk's SIGHUP for FastAGI)."""


HANGUP_NOTICE = HangupNotice()


def parse_result_line(line: str) -> AgiResult | HangupNotice:
    """A single-line response; a ``520-`` block needs :class:`ResponseParser`."""
    if line == HANGUP_LINE:
        return HANGUP_NOTICE
    status = _STATUS.fullmatch(line)
    if status is None or status["sep"] == "-":
        raise AgiError(f"malformed AGI response: {line[:80]!r}")
    code = int(status["code"])
    if code != 200:
        return AgiResult(code, data=status["rest"])
    return _parse_success(status["rest"], line)


def _parse_success(rest: str, line: str) -> AgiResult:
    match = _RESULT.fullmatch(rest)
    if match is None:
        raise AgiError(f"AGI response without result=: {line[:80]!r}")
    value = match["value"]
    result = int(value) if _INTEGER.fullmatch(value) else None
    data, extras = _parse_tail(match["tail"] or "")
    return AgiResult(200, result, data, extras, value)


def _parse_tail(tail: str) -> tuple[str, Mapping[str, str]]:
    """``(data) key=value ...`` in linear time.

    A tail ending in ``)`` is all data: ``GET VARIABLE`` values may hold parentheses and
    ``key=value`` text of their own, and Asterisk puts nothing after them. Otherwise the data
    is a single word (``speech``, ``dtmf``, ``timeout``) followed by ``key=value`` pairs.
    """
    tail = tail.strip(" ")
    if tail.startswith("(") and tail.endswith(")"):
        return tail[1:-1], MappingProxyType({})
    data, rest = "", tail
    if tail.startswith("("):
        data, _, rest = tail[1:].partition(")")
    extras = {key: value.strip('"') for key, value in _EXTRA.findall(rest)}
    return data, MappingProxyType(extras)


class ResponseParser:
    """Turns response lines into :class:`AgiResult` values, joining ``520-`` usage blocks."""

    def __init__(self, max_usage_lines: int = MAX_USAGE_LINES) -> None:
        self._max_usage_lines = max_usage_lines
        self._usage: list[str] | None = None

    @property
    def in_block(self) -> bool:
        return self._usage is not None

    def feed(self, line: str) -> AgiResult | HangupNotice | None:
        """Take one line (without newline); None while a usage block is still open."""
        if self._usage is not None:
            return self._feed_usage(self._usage, line)
        if line.startswith("520-"):
            self._usage = []
            return None
        return parse_result_line(line)

    def _feed_usage(self, usage: list[str], line: str) -> AgiResult | None:
        if line == USAGE_END:
            self._usage = None
            return AgiResult(520, data="\n".join(usage))
        if len(usage) >= self._max_usage_lines:
            raise AgiError(f"AGI usage text longer than {self._max_usage_lines} lines")
        usage.append(line)
        return None


def dtmf_digit(result: int) -> str | None:
    """The key pressed, from a result holding its ASCII code (49 -> "1"); 0 -> None."""
    if result == 0:
        return None
    digit = _DTMF_CODES.get(result)
    if digit is None:
        raise AgiError(f"AGI result {result} is not a DTMF digit")
    return digit


# --- commands -----------------------------------------------------------------------------

Arg = str | int


@dataclass(frozen=True, slots=True)
class AgiCommand:
    """One command line; validates itself so that it can only ever be one command."""

    verb: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _VERB.fullmatch(self.verb):
            raise AgiError(f"invalid AGI verb {self.verb[:40]!r}")
        for arg in self.args:
            if not _FORBIDDEN_IN_ARG.isdisjoint(arg):
                raise AgiError(f"{self.verb}: argument holds CR, LF or NUL: {arg[:40]!r}")
        if len(self.encode()) > MAX_COMMAND_BYTES:
            raise AgiError(f"{self.verb}: command longer than {MAX_COMMAND_BYTES} bytes")

    def line(self) -> str:
        """The line as sent, newline included."""
        return " ".join([self.verb, *map(_quote, self.args)]) + "\n"

    def encode(self) -> bytes:
        return self.line().encode("utf-8")


def _quote(arg: str) -> str:
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(arg: Arg) -> str:
    if isinstance(arg, bool) or not isinstance(arg, str | int):
        raise AgiError(f"AGI arguments are str or int, not {type(arg).__name__}")
    return str(arg)


def command(verb: str, *args: Arg) -> AgiCommand:
    return AgiCommand(verb, tuple(_text(arg) for arg in args))


def format_command(verb: str, *args: Arg) -> str:
    """``format_command("STREAM FILE", "welcome", "12")`` -> ``'STREAM FILE "welcome" "12"\\n'``."""
    return command(verb, *args).line()


def _escape_digits(digits: str) -> str:
    if not _DIGITS.issuperset(digits):
        raise AgiError(f"invalid escape digits {digits[:20]!r}")
    return digits


def _variable_name(name: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise AgiError(f"invalid channel variable name {name[:40]!r}")
    return name


def answer() -> AgiCommand:
    return command("ANSWER")


def hangup() -> AgiCommand:
    return command("HANGUP")


def noop() -> AgiCommand:
    return command("NOOP")


def stream_file(prompt: str, escape_digits: str = "", offset: int | None = None) -> AgiCommand:
    args: list[Arg] = [prompt, _escape_digits(escape_digits)]
    if offset is not None:
        args.append(offset)
    return command("STREAM FILE", *args)


def get_data(prompt: str, timeout_ms: int, max_digits: int) -> AgiCommand:
    return command("GET DATA", prompt, timeout_ms, max_digits)


def wait_for_digit(timeout_ms: int) -> AgiCommand:
    return command("WAIT FOR DIGIT", timeout_ms)


def say_digits(digits: str, escape_digits: str = "") -> AgiCommand:
    if not digits or not _DIGITS.issuperset(digits):
        raise AgiError(f"SAY DIGITS takes DTMF digits only, not {digits[:20]!r}")
    return command("SAY DIGITS", digits, _escape_digits(escape_digits))


def say_number(number: int, escape_digits: str = "") -> AgiCommand:
    return command("SAY NUMBER", number, _escape_digits(escape_digits))


def say_date(epoch: int, escape_digits: str = "") -> AgiCommand:
    """Say the date of ``epoch`` (seconds) in the channel's language."""
    return command("SAY DATE", epoch, _escape_digits(escape_digits))


def set_variable(name: str, value: str) -> AgiCommand:
    return command("SET VARIABLE", _variable_name(name), value)


def get_variable(name: str) -> AgiCommand:
    return command("GET VARIABLE", _variable_name(name))


def verbose(message: str, level: int = 1) -> AgiCommand:
    return command("VERBOSE", message, level)


def set_music(on: bool, moh_class: str | None = None) -> AgiCommand:
    args: list[Arg] = ["on" if on else "off"]
    if moh_class is not None:
        args.append(moh_class)
    return command("SET MUSIC", *args)


def record_file(
    filename: str,
    file_format: str,
    escape_digits: str,
    timeout_ms: int,
    *,
    beep: bool = False,
    silence_s: int | None = None,
) -> AgiCommand:
    """``RECORD FILE``; ``timeout_ms`` -1 records until an escape digit or hang-up."""
    args: list[Arg] = [filename, file_format, _escape_digits(escape_digits), timeout_ms]
    if beep:
        args.append("BEEP")
    if silence_s is not None:
        args.append(f"s={silence_s}")
    return command("RECORD FILE", *args)


def exec_app(app: str, *args: Arg) -> AgiCommand:
    """``EXEC app "a,b,c"``: each of ``args`` stays exactly one application argument.

    Arguments holding ``, | " \\ ( ) [ ] { } $ & ^`` or control characters are rejected: they
    could add arguments, devices or options to the application (see the module notes).
    """
    if not _APP_NAME.fullmatch(app):
        raise AgiError(f"invalid application name {app[:40]!r}")
    texts = [_text(arg) for arg in args]
    for text in texts:
        if not _FORBIDDEN_IN_EXEC_ARG.isdisjoint(text):
            raise AgiError(f"EXEC {app}: argument holds a reserved character: {text[:40]!r}")
    return command("EXEC", app, ",".join(texts))
