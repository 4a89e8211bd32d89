"""What happens on the phone when a caller leaves a message: the decisions, without I/O.

1. The mailbox's greeting ("please leave your message after the tone").
2. A beep; the caller speaks; # ends the message, as do silence (if the mailbox sets it), the
   maximum length, and hanging up (the usual way: the message is kept).
3. With ``review``: the message is played back, then "press 1 if this is correct, press 2 to
   re-record it"; 1 (or no answer) keeps it, 2 records again (at most :data:`MAX_TAKES`).
4. "Your message has been saved. Goodbye." (only to a caller still there).

As the IVR interpreter does, :func:`message_flow` yields small commands and receives their
results; a caller who hangs up is sent :data:`HUNG_UP` as the result of the command that learnt
it, so what to keep stays a decision of the flow. The sounds are Asterisk's core prompts.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from callcenter.voicemail.settings import MailboxSettings

MAX_TAKES = 3
MIN_SECONDS = 1.0
KEEP, AGAIN = "1", "2"
CHOICES = KEEP + AGAIN
REVIEW = ("if-correct-press", "digits/1", "vm-press", "digits/2", "to-rerecord-it")
TOO_SHORT, SAVED, FAILED, GOODBYE = "vm-tooshort", "vm-msgsaved", "vm-sorry", "vm-goodbye"


class _HungUp:
    def __repr__(self) -> str:
        return "HUNG_UP"


HUNG_UP = _HungUp()
"""The result of a command during which the caller hung up."""


@dataclass(frozen=True, slots=True)
class Say:
    """Play an Asterisk sound; ``digits`` may interrupt it. Result: the digit, or None."""

    sound: str
    digits: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """Beep, then record (# ends). Result: the seconds recorded (float), even after a hang-up,
    as :class:`Recorded`."""

    max_seconds: int
    silence_seconds: int


@dataclass(frozen=True, slots=True)
class Recorded:
    seconds: float
    hung_up: bool


@dataclass(frozen=True, slots=True)
class PlayBack:
    """Play the message back; ``digits`` may interrupt it. Result: the digit, or None."""

    digits: str


@dataclass(frozen=True, slots=True)
class WaitKey:
    """Wait up to ``seconds`` for a key. Result: the digit, or None."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Save:
    """Keep the message (store, commit, notify). Result: True when it was kept."""


Command = Say | Record | PlayBack | WaitKey | Save
Result = str | float | bool | Recorded | _HungUp | None
MessageFlow = Generator[Command, Result, str]
"""Returns how the call ended: ``kept``, ``too_short``, ``failed`` or ``abandoned``."""


def message_flow(mailbox: MailboxSettings) -> MessageFlow:
    if (yield Say(mailbox.greeting)) is HUNG_UP:
        return "abandoned"
    for _ in range(MAX_TAKES):
        take = yield Record(mailbox.max_seconds, mailbox.silence_seconds)
        if not isinstance(take, Recorded) or take.seconds < MIN_SECONDS:
            if isinstance(take, Recorded) and take.hung_up:
                return "too_short"
            if (yield Say(TOO_SHORT)) is HUNG_UP:
                return "too_short"
            continue
        if not take.hung_up and mailbox.review:
            choice = yield from _review()
            if choice == AGAIN:
                continue
        return (yield from _save(hung_up=take.hung_up))
    yield Say(GOODBYE)
    return "abandoned"


def _save(*, hung_up: bool) -> Generator[Command, Result, str]:
    kept = (yield Save()) is True
    if not hung_up and (yield Say(SAVED if kept else FAILED)) is not HUNG_UP:
        yield Say(GOODBYE)
    return "kept" if kept else "failed"


def _review() -> Generator[Command, Result, str | None]:
    """Play the message, then the choices; 1, 2, or None (no answer or a hang-up: keep)."""
    key = yield PlayBack(CHOICES)
    if key in (KEEP, AGAIN):
        return str(key)
    if key is HUNG_UP:
        return None
    for sound in REVIEW:
        key = yield Say(sound, CHOICES)
        if key is not None:
            break
    else:
        key = yield WaitKey(5.0)
    return str(key) if key in (KEEP, AGAIN) else None
