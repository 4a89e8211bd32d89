"""What an IVR flow can ask of a call. Small frozen values; the driver executes them.

Each command documents its *result*: the value the driver sends back into the flow once the
command is done. Commands validate themselves when built, so a driver never receives a
malformed one. Everything the caller typed travels as a plain value in a field; a driver passes
it to Asterisk as an argument (AGI command argument, AMI header value, HTTP query parameter),
never by pasting it into a dialplan, AMI or URL string.

Commands that *end* the flow (the generator returns right after them): :class:`Finish`,
:class:`Enqueue` (the ACD takes the call over) and :class:`Transfer`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from callcenter.calls.model import Outcome

KEYS = "0123456789*#"
PHONE_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
EXTENSION = re.compile(r"^[0-9]{2,8}$")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")

Record = Mapping[str, str]
"""A customer record or an HTTP look-up answer: flat attribute names to text values."""

Pairs = tuple[tuple[str, str], ...]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class Play:
    """Play one prompt (an Asterisk sound name such as ``callcenter/zh/welcome``).

    With ``digits`` the caller may interrupt it by pressing one of them.
    Result: the digit pressed, or None.
    """

    prompt: str
    digits: str = ""


@dataclass(frozen=True, slots=True)
class WaitDigit:
    """Wait up to ``timeout`` seconds for one key. Result: the digit, or None."""

    timeout: float


@dataclass(frozen=True, slots=True)
class RecordStep:
    """Append a step to the caller's path (kept with the call in the ledger). Result: None."""

    step: str


@dataclass(frozen=True, slots=True)
class Finish:
    """End the flow with this outcome for the ledger; ``hangup`` hangs the call up.

    Result: none (the flow has ended).
    """

    outcome: Outcome
    hangup: bool = True


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play ``prompts`` (interruptible by any key) and collect up to ``max_length`` digits.

    Collection stops at ``terminator`` (not part of the result), at ``max_length`` digits, or
    when no key comes for ``timeout`` seconds. The flow checks length and pattern itself.
    Result: the digits typed (possibly ""), or None when nothing at all was typed.
    """

    prompts: tuple[str, ...]
    min_length: int
    max_length: int
    timeout: float
    terminator: str = "#"

    def __post_init__(self) -> None:
        _check(1 <= self.min_length <= self.max_length <= 64, "bad collect lengths")
        _check(self.terminator in ("", *KEYS), "terminator must be one key or empty")


class SayKind(StrEnum):
    NUMBER = "number"  # 1234 -> "one thousand two hundred thirty-four"
    DIGITS = "digits"  # 1234 -> "one two three four"
    DATE = "date"  # ISO 2026-11-23
    AMOUNT = "amount"  # decimal money, 2 places: 128.50


def sayable(kind: SayKind, value: str) -> bool:
    """Whether :class:`Say` accepts ``value`` for ``kind`` (the flow checks before saying)."""
    match kind:
        case SayKind.NUMBER:
            return re.fullmatch(r"-?[0-9]{1,15}", value) is not None
        case SayKind.DIGITS:
            return re.fullmatch(r"[0-9*#]{1,64}", value) is not None
        case SayKind.DATE:
            try:
                date.fromisoformat(value)
            except ValueError:
                return False
            return True
        case SayKind.AMOUNT:
            try:
                amount = Decimal(value)
            except InvalidOperation:
                return False
            return amount.is_finite() and abs(amount) < 10**12


@dataclass(frozen=True, slots=True)
class Say:
    """Say ``value`` as a number, digits, a date or an amount in ``language``.

    The driver uses Asterisk's SAY NUMBER / SAY DIGITS / SAY DATE (an amount: the whole part as
    a number, then the cents). Result: None.
    """

    kind: SayKind
    value: str
    language: str

    def __post_init__(self) -> None:
        _check(sayable(self.kind, self.value), f"cannot say {self.value!r} as {self.kind}")


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """The caller chose a language: prompts and Say follow it from now on.

    The driver sets the channel's language (CHANNEL(language)). Result: None.
    """

    language: str

    def __post_init__(self) -> None:
        _check(LANGUAGE.fullmatch(self.language) is not None, "bad language code")


class LookupBy(StrEnum):
    CALLER_ID = "caller_id"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class LookupCustomer:
    """Find the customer by the caller's number or by an account number the caller entered.

    Result: the customer's record (a :data:`Record`, e.g. ``{"id": "c1", "tier": "vip"}``)
    or None when not found or when the look-up failed.
    """

    by: LookupBy
    value: str


@dataclass(frozen=True, slots=True)
class HttpLookup:
    """GET ``url`` with ``params`` as (encoded) query parameters, within ``timeout`` seconds.

    The URL comes from the script, never from the caller; caller input only travels in
    ``params``. Result: the answer's JSON object flattened to text values, or None on any
    failure (timeout, error status, not an object): the flow then takes its fallback.
    """

    url: str
    params: Pairs
    timeout: float

    def __post_init__(self) -> None:
        _check(self.url.startswith(("http://", "https://")), "url must be http(s)")
        _check(0 < self.timeout <= 30, "timeout must be within (0, 30] seconds")


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Hand the call to the ACD: queue it with a caller priority (higher is served first)
    and skills (skill -> minimum level). Ends the flow; the ACD reports the outcome.

    ``attributes`` are the flow's variables (customer record, language, what was entered),
    for the agent's screen-pop. Result: none (the flow has ended).
    """

    queue: str
    priority: int = 0
    skills: tuple[tuple[str, int], ...] = ()
    language: str = ""
    attributes: Pairs = ()

    def __post_init__(self) -> None:
        _check(NAME.fullmatch(self.queue) is not None, "bad queue name")
        _check(0 <= self.priority <= 100, "priority must be within 0..100")


@dataclass(frozen=True, slots=True)
class Voicemail:
    """Let the caller leave a message in ``mailbox``. Result: None (the flow goes on)."""

    mailbox: str

    def __post_init__(self) -> None:
        _check(NAME.fullmatch(self.mailbox) is not None, "bad mailbox name")


class FaxMode(StrEnum):
    SAME_CALL = "same_call"  # the caller presses start on the fax machine on this call
    TO_NUMBER = "to_number"  # sent later to ``number`` (a fax job)


@dataclass(frozen=True, slots=True)
class FaxOnDemand:
    """Fax the documents (catalogue codes) on this call or to a fax number.

    The driver checks each code against the document catalogue and its permissions.
    Result: a non-empty text (e.g. "queued" or "sent") when accepted, None when refused
    or failed.
    """

    documents: tuple[str, ...]
    mode: FaxMode
    number: str = ""

    def __post_init__(self) -> None:
        _check(bool(self.documents), "no documents")
        _check(all(NAME.fullmatch(d) for d in self.documents), "bad document code")
        if self.mode is FaxMode.TO_NUMBER:
            _check(PHONE_NUMBER.fullmatch(self.number) is not None, "bad fax number")


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Store a callback task: call ``number`` back through ``queue``. Result: None."""

    number: str
    queue: str
    reason: str = ""

    def __post_init__(self) -> None:
        _check(PHONE_NUMBER.fullmatch(self.number) is not None, "bad callback number")
        _check(NAME.fullmatch(self.queue) is not None, "bad queue name")


class TransferKind(StrEnum):
    EXTENSION = "extension"
    OUTSIDE = "outside"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Transfer the call to an internal extension or an allow-listed outside number.

    The flow has checked the allow-list; the driver checks it again before dialling. Ends the
    flow. Result: none.
    """

    kind: TransferKind
    destination: str

    def __post_init__(self) -> None:
        pattern = EXTENSION if self.kind is TransferKind.EXTENSION else PHONE_NUMBER
        _check(pattern.fullmatch(self.destination) is not None, "bad transfer destination")


@dataclass(frozen=True, slots=True)
class StoreSurvey:
    """Store the caller's satisfaction score (1-5) with the call. Result: None."""

    score: int
    survey: str = "satisfaction"

    def __post_init__(self) -> None:
        _check(1 <= self.score <= 5, "score must be within 1..5")


Command = (
    Play
    | WaitDigit
    | RecordStep
    | Finish
    | CollectDigits
    | Say
    | SetLanguage
    | LookupCustomer
    | HttpLookup
    | Enqueue
    | Voicemail
    | FaxOnDemand
    | RequestCallback
    | Transfer
    | StoreSurvey
)
Result = str | Record | None
