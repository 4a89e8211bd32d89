"""The one checkpoint for values on their way into an AMI action (pure, no I/O).

AMI is a line protocol: ``Key: value`` lines, an empty line ends an action, and Asterisk
accepts a bare LF as a line end. A CR or LF inside a value would therefore end the header
and start a new one, or a whole new action (``Action: Originate``...). Every action the
engine sends goes through :func:`sanitize_action`, which returns the headers to put on the
wire or raises :class:`~callcenter.errors.AmiError` and sends nothing.

Policy, by kind of header (the table ``_KINDS``; a key not listed is free text):

- **Action names and header keys** must match ``^[A-Za-z0-9_-]+$`` (at most 64 characters);
  anything else is refused. ``ActionID`` and ``CommandID`` are reserved for the client.
- **Structural values** (``Channel``, ``Context``, ``Exten``, ``Priority``, ``Application``,
  ``Data``, ``Device``, ``Queue``, ``ChannelId``...) name things in Asterisk; a wrong one must
  fail loudly rather than address something else, so they are *refused* unless they use only
  ``A-Z a-z 0-9 _ - + * # . @ / : ; ~ [ ]`` and are at most 256 characters. That excludes
  control characters, spaces, ``$`` (no ``${...}`` or ``$[...]`` expressions), ``&`` and
  ``,`` (argument separators of ``Dial()`` and other applications) and quotes.
- **Word lists** (``Events``, ``Codecs``): letters, digits, ``_ , !`` only; refused otherwise.
- **Exact text** (``Secret``, ``Command``): used as given or refused; a control character is
  refused (changing a secret or a CLI command silently would be worse than failing).
- **Variables** (``Variable``: ``NAME`` in Setvar/Getvar, ``NAME=value`` in Originate): the
  name must be a plain variable name, optionally one function call with a simple argument
  (``CALLERID(name)``); the value is free text.
- **Free text** (everything else, e.g. ``Value`` of Setvar, ``CallerID``, UserEvent bodies):
  each run of control characters (C0/C1, DEL, Unicode line and paragraph separators) is
  *replaced* by one space, and the value is cut so its line fits Asterisk's 1 kB line buffer.
  Everything else is kept, ``${...}``, ``&``, quotes and non-ASCII included: on the AMI wire
  they are inert, and Asterisk stores Setvar and Originate variable values without evaluating
  them. A dialplan that later puts such a value into an application's arguments must filter
  it there (``FILTER()``); free text is data, never dialplan.

At most :data:`MAX_HEADERS` header lines per action (Asterisk keeps 128).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum

from callcenter.errors import AmiError

MAX_KEY = 64
MAX_STRUCTURAL = 256
MAX_LINE_BYTES = 1000
"""A header line (``Key: value``) in UTF-8, without its CRLF; Asterisk reads lines into 1 kB."""
MAX_HEADERS = 100
RESERVED_KEYS = frozenset({"action", "actionid", "commandid"})

Headers = dict[str, str | list[str]]
FieldValue = str | Sequence[str]

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STRUCTURAL = re.compile(r"[A-Za-z0-9_\-+*#.@/:;~\[\]]{0,256}")
_WORDS = re.compile(r"[A-Za-z0-9_,!]{0,256}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_-]{0,40}\))?")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
"""Unicode categories Cc (C0, DEL, C1), Zl and Zp: every character that can end a line."""


class Kind(Enum):
    STRUCTURAL = "structural"
    WORDS = "words"
    EXACT = "exact"
    VARIABLE = "variable"
    FREE = "free"


_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        (
            *("channel", "channel1", "channel2", "extrachannel", "otherchannel"),
            *("context", "extracontext", "exten", "extraexten", "priority", "extrapriority"),
            *("application", "data", "device", "interface", "stateinterface", "queue"),
            *("channelid", "otherchannelid", "bridgeuniqueid", "bridge", "uniqueid"),
            *("linkedid", "timeout", "async", "earlymedia", "username", "authtype", "mailbox"),
        ),
        Kind.STRUCTURAL,
    ),
    "events": Kind.WORDS,
    "codecs": Kind.WORDS,
    "secret": Kind.EXACT,
    "command": Kind.EXACT,
    "variable": Kind.VARIABLE,
}


def kind_of(key: str) -> Kind:
    return _KINDS.get(key.lower(), Kind.FREE)


def has_control(value: str) -> bool:
    """True when ``value`` holds a control character (C0, DEL, C1, U+2028, U+2029)."""
    return _CONTROL.search(value) is not None


def clean_text(value: str, limit: int, replacement: str = "") -> str:
    """Replace each run of control characters by ``replacement``; keep at most ``limit`` chars."""
    if _CONTROL.search(value) is None:
        return value[:limit]
    return _CONTROL.sub(replacement, value)[:limit]


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise AmiError(f"AMI header key refused: {_preview(key)}")
    return key


def sanitize_action(action: str, fields: Mapping[str, FieldValue]) -> Headers:
    """Headers for ``action`` ready for the wire, or :class:`AmiError` naming what is wrong."""
    headers: Headers = {"Action": check_key(action)}
    seen: set[str] = set()
    lines = 2  # Action and ActionID
    for key, value in fields.items():
        check_key(key)
        lowered = key.lower()
        if lowered in RESERVED_KEYS:
            raise AmiError(f"AMI header {key!r} is set by the client, not by callers")
        if lowered in seen:
            raise AmiError(f"AMI header {key!r} given twice (keys are case-insensitive)")
        seen.add(lowered)
        values = [sanitize_value(key, v) for v in _as_values(key, value)]
        lines += len(values)
        if values:
            headers[key] = values[0] if isinstance(value, str) else values
    if lines > MAX_HEADERS:
        raise AmiError(f"AMI action {action} has {lines} header lines; at most {MAX_HEADERS}")
    return headers


def sanitize_value(key: str, value: str) -> str:
    if not isinstance(value, str):
        raise AmiError(f"AMI header {key}: value must be text, not {type(value).__name__}")
    kind = kind_of(key)
    if kind is Kind.FREE:
        return _fit_line(key, clean_text(value, MAX_LINE_BYTES, " "))
    if kind is Kind.VARIABLE:
        return _variable(key, value)
    if kind is Kind.EXACT:
        return _exact(key, value)
    pattern = _STRUCTURAL if kind is Kind.STRUCTURAL else _WORDS
    if not pattern.fullmatch(value):
        raise AmiError(f"AMI header {key}: value refused ({kind.value}): {_preview(value)}")
    return value


def _as_values(key: str, value: FieldValue) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    raise AmiError(f"AMI header {key}: value must be text or a list of texts")


def _variable(key: str, value: str) -> str:
    name, equals, rest = value.partition("=")
    if not _VARIABLE_NAME.fullmatch(name):
        raise AmiError(f"AMI header {key}: variable name refused: {_preview(name)}")
    if not equals:
        return name
    return _fit_line(key, f"{name}={clean_text(rest, MAX_LINE_BYTES, ' ')}")


def _exact(key: str, value: str) -> str:
    if has_control(value):
        raise AmiError(f"AMI header {key}: control characters are not allowed")
    if _line_bytes(key, value) > MAX_LINE_BYTES:
        raise AmiError(f"AMI header {key}: value longer than one AMI line")
    return value


def _fit_line(key: str, value: str) -> str:
    room = MAX_LINE_BYTES - _line_bytes(key, "")
    encoded = value.encode("utf-8")
    if len(encoded) <= room:
        return value
    return encoded[:room].decode("utf-8", errors="ignore")


def _line_bytes(key: str, value: str) -> int:
    return len(key.encode("utf-8")) + 2 + len(value.encode("utf-8"))


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
