"""The ``fax`` section of the configuration: documents, where files go, dialling rules, limits.

Paths. ``documents`` is the catalogue's folder (``<code>.pdf`` and ``catalogue.yaml``);
``store`` is the engine's own: cached fax images, the image of every job, received faxes.
``spool`` is a folder Asterisk and the engine share: the engine writes the image a call sends
there, and Asterisk writes the faxes it receives. Asterisk may see that folder under another
path (it runs in a chroot here, in a container elsewhere): ``asterisk_spool`` is the folder as
Asterisk names it. When ``spool`` is not set and ``ivr.asterisk_sounds`` points into a root
(``ROOT/usr/share/asterisk/sounds/callcenter``), the spool is ``ROOT`` + ``asterisk_spool``;
otherwise both are the same folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SOUND = re.compile(r"^[A-Za-z0-9_/-]{1,128}$")
PREFIX = re.compile(r"^\+?[0-9]{1,12}$")
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DestinationSettings(_Model):
    """Where outbound faxes may go. A number is allowed when it is 4 to 20 digits, is not
    international (a leading ``+`` or ``00``) unless ``international``, starts with none of
    ``premium_prefixes`` unless ``premium``, and starts with none of ``blocked_prefixes``;
    a non-empty ``allowed_prefixes`` also requires one of them."""

    international: bool = False
    premium: bool = False
    premium_prefixes: list[str] = Field(
        default_factory=lambda: ["1900", "900", "0900", "1600", "168", "0168"]
    )
    blocked_prefixes: list[str] = Field(default_factory=list)
    allowed_prefixes: list[str] = Field(default_factory=list)

    @field_validator("premium_prefixes", "blocked_prefixes", "allowed_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not PREFIX.fullmatch(prefix):
                raise ValueError(f"{prefix[:40]!r}: digits, optionally after '+' (1-12)")
        return value


class LimitSettings(_Model):
    """Outbound jobs accepted per requesting caller (and per destination) and in all, within
    ``window`` seconds; sends running at once."""

    per_caller: Annotated[int, Field(ge=1, le=10_000)] = 3
    per_destination: Annotated[int, Field(ge=1, le=10_000)] = 5
    total: Annotated[int, Field(ge=1, le=1_000_000)] = 200
    window: Seconds = 3600.0
    concurrent: Annotated[int, Field(ge=1, le=100)] = 2


class PromptSettings(_Model):
    """Asterisk sound names the fax routes play (stock sounds until recorded ones exist)."""

    start: str = "beep"  # "press start on your fax machine now"
    pin: str = "agent-pass"  # "please enter your password, followed by the hash key"
    pin_wrong: str = "vm-invalidpassword"

    @field_validator("start", "pin", "pin_wrong")
    @classmethod
    def _sound(cls, value: str) -> str:
        if not SOUND.fullmatch(value) or ".." in value:
            raise ValueError("an Asterisk sound name: letters, digits, '_', '-' and '/'")
        return value


class FaxSettings(_Model):
    documents: str = "fax/documents"
    store: str = "var/fax"
    spool: str | None = None
    asterisk_spool: str = "/var/spool/asterisk/callcenter-fax"
    header: str = "After-sales service"  # the cover page's sender line
    station_id: str = "callcenter"  # our T.30 station id (LOCALSTATIONID), up to 20 characters
    destinations: DestinationSettings = DestinationSettings()
    limits: LimitSettings = LimitSettings()
    prompts: PromptSettings = PromptSettings()
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    retry_min: Seconds = 60.0
    retry_max: Seconds = 1800.0
    ring_timeout: Annotated[float, Field(ge=5, le=300)] = 40.0
    send_timeout: Annotated[float, Field(ge=30, le=7200)] = 900.0  # one transmission
    poll_interval: Seconds = 1.0
    # Received faxes are e-mailed (PDF attached) to these, through voicemail.smtp; none: not.
    inbox_email_to: list[str] = Field(default_factory=list)
    inbox_retry_min: Seconds = 1.0
    inbox_retry_max: Seconds = 300.0
    pin_attempts: Annotated[int, Field(ge=1, le=5)] = 2
    max_documents: Annotated[int, Field(ge=1, le=20)] = 8

    @field_validator("asterisk_spool")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_./-]{1,200}", value) or ".." in value:
            raise ValueError("an absolute path of letters, digits, '_', '-', '.' and '/'")
        return value

    @field_validator("station_id")
    @classmethod
    def _station(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9 +._-]{0,20}", value):
            raise ValueError("up to 20 letters, digits, spaces and '+._-'")
        return value

    @model_validator(mode="after")
    def _retry_bounds(self) -> FaxSettings:
        if self.retry_min > self.retry_max:
            raise ValueError("retry_min is larger than retry_max")
        return self


ROOT_SOUNDS = ("usr", "share", "asterisk", "sounds", "callcenter")


def spool_folder(settings: FaxSettings, asterisk_sounds: str | None) -> Path:
    """The spool on this host (see the module's docstring)."""
    if settings.spool:
        return Path(settings.spool)
    if asterisk_sounds:
        sounds = Path(asterisk_sounds)
        if sounds.parts[-len(ROOT_SOUNDS) :] == ROOT_SOUNDS:
            root = sounds.parents[len(ROOT_SOUNDS) - 1]
            return root / settings.asterisk_spool.lstrip("/")
    return Path(settings.asterisk_spool)
