"""Typed settings, validated once at start-up.

One YAML file plus environment overrides: ``CALLCENTER__AMI__SECRET=x`` sets ``ami.secret``
(sections and keys separated by a double underscore; a value starting with ``[`` or ``{`` is read
as JSON). Every fault is reported with its dotted key and, when it comes from the file, its
line and column. The composition root (:mod:`callcenter.app`) is the only reader.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from callcenter.acd.settings import AcdSettings
from callcenter.callbacks.settings import CallbacksSettings
from callcenter.desk.settings import DeskSettings
from callcenter.errors import ConfigError, ConfigProblem
from callcenter.fod.settings import FaxSettings
from callcenter.ivr.settings import IvrSettings
from callcenter.stats.settings import StatsSettings
from callcenter.storage.batch import DEFAULT_WINDOW
from callcenter.voicemail.settings import VoicemailSettings
from callcenter.yamlsource import YamlDocument, YamlSourceError, load_yaml

ENV_PREFIX = "CALLCENTER__"
Port = Annotated[int, Field(ge=1, le=65535)]
ListenPort = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: Port = 5038
    username: str = "callcenter"
    secret: SecretStr
    ping_interval: Seconds = 2.0
    ping_timeout: Seconds = 3.0
    reconnect_min: Seconds = 0.2
    reconnect_max: Seconds = 5.0
    action_timeout: Seconds = 5.0
    # Action-only sessions (Events: off) for actions that can keep Asterisk busy (Bridge,
    # Redirect, Setvar); 0 sends every action on the event session.
    action_sessions: Annotated[int, Field(ge=0, le=8)] = 1


class FastAgiSettings(_Section):
    host: str = "127.0.0.1"
    port: ListenPort = 4573
    allowed_peers: list[IPv4Network | IPv6Network] = Field(
        default_factory=lambda: [ip_network("127.0.0.0/8"), ip_network("::1/128")]
    )
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 1000
    header_timeout: Seconds = 5.0
    command_timeout: Seconds = 300.0
    max_line_bytes: Annotated[int, Field(ge=256, le=1_000_000)] = 8192


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/callcenter.sqlite3"
    # Seconds a background writer (ledger, statistics, sessions, history) gathers rows after
    # the first before it writes them as one transaction (callcenter/storage/batch.py).
    batch_window: Annotated[float, Field(ge=0, le=1)] = DEFAULT_WINDOW

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: ListenPort = 8080
    api_tokens: Annotated[list[SecretStr], Field(min_length=1)]
    websocket_origins: list[str] = Field(default_factory=list)  # beyond the server's own
    # Signs log-in session tokens; derived from the first API token when not set. Changing it
    # ends every session.
    session_key: SecretStr | None = None
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0

    @field_validator("api_tokens")
    @classmethod
    def _long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(len(token.get_secret_value()) < 16 for token in value):
            raise ValueError("every token must be at least 16 characters long")
        return value

    @field_validator("session_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the session key must be at least 32 characters long")
        return value

    def session_signing_key(self) -> bytes:
        if self.session_key is not None:
            return self.session_key.get_secret_value().encode()
        first = self.api_tokens[0].get_secret_value().encode()
        return hmac.new(first, b"callcenter session key", hashlib.sha256).digest()


class Settings(_Section):
    ami: AmiSettings
    fastagi: FastAgiSettings = FastAgiSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings
    ivr: IvrSettings = IvrSettings()
    stats: StatsSettings = StatsSettings()
    acd: AcdSettings = AcdSettings()
    voicemail: VoicemailSettings = VoicemailSettings()
    desk: DeskSettings = DeskSettings()
    fax: FaxSettings = FaxSettings()
    callbacks: CallbacksSettings = CallbacksSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate; raise :class:`ConfigError` naming every bad key."""
    filename = str(path)
    try:
        document = load_yaml(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(filename, [ConfigProblem("(file)", exc.strerror or str(exc))]) from None
    except YamlSourceError as exc:
        raise ConfigError(
            filename, [ConfigProblem("(yaml)", str(exc), exc.line, exc.column)]
        ) from None
    return settings_from_document(document, filename, os.environ if environ is None else environ)


def settings_from_document(
    document: YamlDocument, filename: str, environ: Mapping[str, str]
) -> Settings:
    data = document.data
    if not isinstance(data, dict):
        raise ConfigError(filename, [ConfigProblem("(root)", "must be a mapping of sections")])
    merged = _apply_environment(data, environ)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(filename, _problems(exc, document)) from None


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = json.loads(json.dumps(data, default=str))
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        target = merged
        for key in keys[:-1]:
            child = target.get(key)
            if not isinstance(child, dict):
                child = {}
                target[key] = child
            target = child
        target[keys[-1]] = _env_value(raw)
    return merged


def _env_value(raw: str) -> Any:
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _problems(exc: ValidationError, document: YamlDocument) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        path = tuple(error["loc"])
        key = ".".join(str(part) for part in path) or "(root)"
        position = document.position(path)
        line, column = position if position else (None, None)
        problems.append(ConfigProblem(key, error["msg"], line, column))
    return problems
