"""The one backoff rule of the engine's retried deliveries (voicemail outbox, fax jobs)."""

from __future__ import annotations


def retry_delay(attempts: int, low: float, high: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...): doubling, capped."""
    if attempts < 1:
        return 0.0
    return min(high, low * 2.0 ** min(attempts - 1, 60))
