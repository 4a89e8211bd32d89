"""Where outbound faxes may go and how many may be asked for (pure, no I/O).

Hostile input first: a number is digits only (a leading ``+`` at most), so nothing typed on a
keypad or sent to the API can become a second dial leg, an option or a dialplan expression.
Then the allow-list (:class:`~callcenter.fod.settings.DestinationSettings`): no international
or premium-rate destination unless configured. The rate limits count jobs in the database
(so they hold across restarts): per requesting caller, per destination and in all, within a
sliding window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.errors import BadRequest, TooManyRequests
from callcenter.fod.settings import DestinationSettings, LimitSettings

NUMBER = re.compile(r"^\+?[0-9]{4,20}$")


class DestinationRefused(BadRequest):
    code = "fax_destination_refused"


class RateLimited(TooManyRequests):
    code = "fax_rate_limited"


def destination_refusal(number: str, rules: DestinationSettings) -> str | None:
    """Why a fax may not be sent to ``number``; None when it may."""
    if not NUMBER.fullmatch(number):
        return "a fax number is 4 to 20 digits, optionally after '+'"
    if number.startswith(("+", "00")) and not rules.international:
        return f"international number {number} is not allowed"
    if not rules.premium and any(number.startswith(p) for p in rules.premium_prefixes):
        return f"premium-rate number {number} is not allowed"
    if any(number.startswith(p) for p in rules.blocked_prefixes):
        return f"number {number} is blocked"
    if rules.allowed_prefixes and not any(number.startswith(p) for p in rules.allowed_prefixes):
        return f"number {number} is not on the allow-list"
    return None


@dataclass(frozen=True, slots=True)
class RecentJobs:
    """Outbound jobs created within the window: by this caller, to this number, in all."""

    by_caller: int
    to_number: int
    total: int


def rate_refusal(recent: RecentJobs, caller: str, limits: LimitSettings) -> str | None:
    """Why one more job may not be accepted now; None when it may. A job without a caller
    (the API) is only held to the destination and global limits."""
    if caller and recent.by_caller >= limits.per_caller:
        return f"caller {caller} asked for {recent.by_caller} faxes within the limit's window"
    if recent.to_number >= limits.per_destination:
        return "too many faxes to this number within the limit's window"
    if recent.total >= limits.total:
        return "too many faxes within the limit's window"
    return None
