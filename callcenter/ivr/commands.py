"""What an IVR flow can ask of a call. Small frozen values; the driver executes them."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.calls.model import Outcome


@dataclass(frozen=True, slots=True)
class Play:
    """Play a prompt; with ``digits`` the caller may interrupt it by pressing one of them.

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
    """End the flow with this outcome for the ledger; ``hangup`` hangs the call up."""

    outcome: Outcome
    hangup: bool = True


Command = Play | WaitDigit | RecordStep | Finish
Result = str | None
