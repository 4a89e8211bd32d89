"""The ``voicemail`` section of the configuration: mailboxes, SMTP, retention, validated once.

A mailbox is named as the IVR's ``voicemail`` nodes and the queues' voicemail targets name it.
Each has a greeting (an Asterisk sound name), a maximum length, silence detection, the
addresses that get an e-mail with the message, and the group whose agents see it live (the
websocket feed's ``group``), call the caller back (the callback task's queue) and may read
its messages in the API (agents of that queue), and optionally an on-duty number that is
called for each new message and hears it played.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SOUND = re.compile(r"^[A-Za-z0-9_/-]{1,128}$")
ADDRESS = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,190}$")
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MailboxSettings(_Model):
    greeting: str = "vm-intro"
    max_seconds: Annotated[int, Field(ge=5, le=3600)] = 180
    silence_seconds: Annotated[int, Field(ge=0, le=60)] = 0  # 0: no end on silence
    review: bool = False  # 1 keeps the message, 2 records it again
    email_to: list[str] = Field(default_factory=list)
    group: str = ""  # the agents' group (a queue name) told live and asked to call back
    number: str = ""  # digits: the mailbox's number for retrieval by phone (with ``pin``)
    pin: SecretStr = SecretStr("")  # 4 to 12 digits; empty: no retrieval by phone
    on_duty: str = ""  # digits: a number called for each new message, which hears it played

    @field_validator("greeting")
    @classmethod
    def _sound(cls, value: str) -> str:
        if not SOUND.fullmatch(value) or ".." in value:
            raise ValueError("an Asterisk sound name: letters, digits, '_', '-' and '/'")
        return value

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not ADDRESS.fullmatch(address):
                raise ValueError(f"{address[:80]!r} is not an e-mail address")
        return value

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9]{1,12}", value):
            raise ValueError("1 to 12 digits")
        return value

    @field_validator("on_duty")
    @classmethod
    def _on_duty(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9]{3,20}", value):
            raise ValueError("3 to 20 digits")
        return value

    @field_validator("pin")
    @classmethod
    def _pin(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not re.fullmatch(r"[0-9]{4,12}", raw):
            raise ValueError("4 to 12 digits")
        return value

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        if value and not NAME.fullmatch(value):
            raise ValueError("names use letters, digits, '_' and '-' (at most 64)")
        return value


class SmtpSettings(_Model):
    host: str = ""  # empty: no e-mail is sent (the outbox gets no e-mail rows)
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str = "callcenter@localhost"
    username: str = ""
    password: SecretStr = SecretStr("")
    starttls: bool = False
    timeout: Seconds = 10.0


class VoicemailSettings(_Model):
    mailboxes: dict[str, MailboxSettings] = Field(default_factory=dict)
    store: str = "var/voicemail"  # the engine's message store (WAV files)
    smtp: SmtpSettings = SmtpSettings()
    api_url: str = "http://127.0.0.1:8080"  # the link in e-mails
    retention_days: Annotated[int, Field(ge=1, le=36500)] = 90
    purge_interval: Seconds = 3600.0
    retry_min: Seconds = 1.0
    retry_max: Seconds = 300.0
    poll_interval: Seconds = 1.0  # the dispatcher looks for due deliveries at least this often
    on_duty_trunk: str = "callers"  # the endpoint on-duty numbers are called through
    on_duty_ring: Annotated[float, Field(ge=5, le=120)] = 30.0  # seconds

    @field_validator("on_duty_trunk")
    @classmethod
    def _trunk(cls, value: str) -> str:
        if not NAME.fullmatch(value):
            raise ValueError("an endpoint name: letters, digits, '_' and '-' (at most 64)")
        return value

    @field_validator("mailboxes")
    @classmethod
    def _names(cls, value: dict[str, MailboxSettings]) -> dict[str, MailboxSettings]:
        numbers: set[str] = set()
        for name, box in value.items():
            if not NAME.fullmatch(name):
                raise ValueError(f"mailbox {name[:80]!r}: letters, digits, '_' and '-'")
            if box.number and box.number in numbers:
                raise ValueError(f"mailbox {name}: number {box.number} is used twice")
            numbers.add(box.number)
        return value
