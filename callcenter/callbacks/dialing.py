"""Which numbers a callback may dial (pure, no I/O).

The number of a task is whatever the caller's trunk said or the caller keyed in, so it is
checked here before it goes anywhere near Asterisk: digits only, a leading ``+`` turned into
the international prefix, a sane length, the deployment's blocked and allowed prefixes. What
comes out is a plain digit string: it cannot carry a second dial leg (``&``), an option
(``,``), an expression (``$``) or a line end into the AMI action or the dialplan, and the
dialplan checks it again with ``FILTER()``.
"""

from __future__ import annotations

import re

from callcenter.callbacks.settings import CallbacksSettings
from callcenter.errors import Conflict

_DIGITS = re.compile(r"[0-9]+")


class NumberRefused(Conflict):
    code = "callback_number_refused"


def dialable(number: str, rules: CallbacksSettings) -> str:
    """The digits to dial for ``number``, or :class:`NumberRefused` saying why not."""
    raw = number.strip()
    if raw.startswith("+"):
        if not rules.international_prefix:
            raise NumberRefused("international numbers are not dialled back")
        raw = rules.international_prefix + raw[1:]
    if not _DIGITS.fullmatch(raw):
        raise NumberRefused(f"{_preview(number)} is not a number of digits")
    if not rules.min_digits <= len(raw) <= rules.max_digits:
        raise NumberRefused(f"{_preview(number)} has {len(raw)} digits")
    if any(raw.startswith(prefix) for prefix in rules.blocked_prefixes):
        raise NumberRefused(f"{_preview(number)} has a blocked prefix")
    if rules.allowed_prefixes and not any(raw.startswith(p) for p in rules.allowed_prefixes):
        raise NumberRefused(f"{_preview(number)} has no allowed prefix")
    return raw


def _preview(number: str) -> str:
    return repr(number[:32])
