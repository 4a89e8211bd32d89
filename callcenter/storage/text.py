"""Text made safe to store on every backend."""

from __future__ import annotations


def clean_text(value: str, length: int) -> str:
    """``value`` made safe to store: no NUL, no lone surrogates, at most ``length`` characters."""
    value = value.replace("\x00", "")
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:length]
