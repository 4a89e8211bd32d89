"""Reading the caller paths the interpreter records: the IVR self-service rate.

A call was *served by the IVR itself* when it ended in the IVR (outcome ``completed_in_ivr``)
and its path hands nothing to people: no queue, no transfer, no voice message, no callback.
The rate is over the calls that entered the IVR (a non-empty path).
"""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.calls.model import Outcome

HANDOFF_STEPS = ("enqueue:", "transfer:", "voicemail:", "callback:requested")


def self_served(path: tuple[str, ...], outcome: str | None) -> bool:
    return outcome == Outcome.COMPLETED_IN_IVR and not any(
        step.startswith(HANDOFF_STEPS) for step in path
    )


def self_service_rate(calls: Iterable[tuple[tuple[str, ...], str | None]]) -> float | None:
    """Share of IVR calls served by the IVR alone; None when no call entered the IVR."""
    entered = served = 0
    for path, outcome in calls:
        if path:
            entered += 1
            served += self_served(path, outcome)
    return served / entered if entered else None
