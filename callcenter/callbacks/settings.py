"""The ``callbacks`` section: when unhandled tasks escalate, and how a callback is dialled.

A callback is dialled through the endpoint the hotline uses for outside numbers (``trunk``,
the ``callers`` endpoint of asterisk-config/pjsip.conf by default), after the number passed
the rules of :func:`callcenter.callbacks.dialing.dialable`: digits only (a leading ``+``
becomes ``international_prefix``), a sane length, no blocked prefix, and one of the allowed
prefixes when any are listed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENDPOINT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PREFIX = re.compile(r"^[0-9]{1,12}$")


class CallbacksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    escalate_after: Annotated[float, Field(gt=0, le=30 * 86400)] = 3600.0  # seconds
    trunk: str = "callers"  # the PJSIP endpoint outside numbers are dialled through
    ring_timeout: Annotated[float, Field(ge=5, le=120)] = 30.0  # the agent's phone, seconds
    international_prefix: str = "00"  # what a leading '+' is dialled as
    min_digits: Annotated[int, Field(ge=1, le=32)] = 3
    max_digits: Annotated[int, Field(ge=1, le=32)] = 20
    allowed_prefixes: list[str] = Field(default_factory=list)  # empty: every prefix
    blocked_prefixes: list[str] = Field(default_factory=list)  # e.g. premium-rate numbers

    @field_validator("trunk")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not ENDPOINT.fullmatch(value):
            raise ValueError("an endpoint name: letters, digits, '_' and '-' (at most 64)")
        return value

    @field_validator("international_prefix")
    @classmethod
    def _international(cls, value: str) -> str:
        if value and not PREFIX.fullmatch(value):
            raise ValueError("digits (at most 12), or empty to refuse numbers with '+'")
        return value

    @field_validator("allowed_prefixes", "blocked_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not PREFIX.fullmatch(prefix):
                raise ValueError(f"{prefix[:40]!r}: a prefix is 1 to 12 digits")
        return value
