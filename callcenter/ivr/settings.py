"""The ``ivr`` section of the configuration: one script per entry point, validated once.

An entry point is the name in the dialplan's ``AGI(agi://.../<entry>)``; its script is a YAML
file that may be edited while the engine runs (see :mod:`callcenter.ivr.library`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENTRY = re.compile(r"[a-z0-9_-]{1,32}")
OUTSIDE_NUMBER = re.compile(r"\+?[0-9]{3,20}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntrySettings(_Model):
    script: str  # path of the YAML script, relative to the working directory


class IvrSettings(_Model):
    entries: dict[str, EntrySettings] = Field(
        default_factory=lambda: {"hotline": EntrySettings(script="ivr/hotline.yaml")}
    )
    sounds: str = "sounds"  # prompts: <sounds>/<language>/<name>.wav
    # Where Asterisk reads the callcenter/ prompts on this host (its sounds directory's
    # callcenter/); uploaded and recorded prompts are written there too, and recordings by
    # phone are read from its parent. None: Asterisk gets prompts only when they are copied.
    asterisk_sounds: str | None = None
    versions: str = "var/ivr-versions"  # every published version, for roll-back
    reload_interval: Annotated[float, Field(gt=0, le=2)] = 0.5
    transfer_numbers: list[str] = Field(default_factory=list)  # outside numbers allowed
    documents: list[str] = Field(default_factory=list)  # fax document codes (until a catalogue)
    http_timeout_max: Annotated[float, Field(gt=0, le=30)] = 5.0

    @field_validator("entries")
    @classmethod
    def _names(cls, value: dict[str, EntrySettings]) -> dict[str, EntrySettings]:
        for name in value:
            if not ENTRY.fullmatch(name):
                raise ValueError(f"entry {name!r}: lower-case letters, digits, _ and - (1-32)")
        return value

    @field_validator("transfer_numbers")
    @classmethod
    def _numbers(cls, value: list[str]) -> list[str]:
        for number in value:
            if not OUTSIDE_NUMBER.fullmatch(number):
                raise ValueError(f"transfer number {number!r}: digits, optionally after '+'")
        return value
