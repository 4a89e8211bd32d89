"""Users, roles and the tokens of their sessions.

Theory of operation. Three roles, ordered: an **agent** acts on their own ACD agent only (their
state, their pops, their calls); a **supervisor** watches and acts on every agent; an **admin**
also changes configuration and users. The bearer tokens of the settings are service tokens with
the admin role.

A log-in gives a session token: ``base64url(payload).base64url(HMAC-SHA256(payload))`` where
the payload names the user, their ``token_version`` and the expiry. Tokens are checked without
the database (the users are held in memory by their one owner, the user service), survive an
engine restart, and all of a user's tokens stop working at once when the version moves on
(log-out, new password, role change, disabled). Passwords are kept as scrypt hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from callcenter.errors import BadRequest

NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
AGENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class InvalidUser(BadRequest):
    code = "user_invalid"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: a user (or a service token) with a role and, for agents, the ACD
    agent they are."""

    name: str
    role: Role
    agent: str = ""

    def may_act_for(self, agent: str) -> bool:
        """Supervisors and admins act on every agent; an agent only on themselves."""
        return self.role.at_least(Role.SUPERVISOR) or (bool(self.agent) and self.agent == agent)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    agent: str
    password_hash: str
    token_version: int = 0
    disabled: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.agent)

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role.value,
            "agent": self.agent,
            "disabled": self.disabled,
        }


def check_user(name: str, role: str, agent: str) -> tuple[str, Role, str]:
    if not NAME.fullmatch(name):
        raise InvalidUser(f"user name {name[:70]!r}: letters, digits and _ . @ - (1-64)")
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidUser(f"role {role[:20]!r}: one of agent, supervisor, admin") from None
    if parsed is Role.AGENT and not AGENT.fullmatch(agent):
        raise InvalidUser("an agent user needs the agent id (letters, digits, _ and -)")
    if agent and not AGENT.fullmatch(agent):
        raise InvalidUser(f"agent {agent[:70]!r}: letters, digits, _ and - (1-64)")
    return name, parsed, agent


def check_password(password: str) -> str:
    if not 8 <= len(password) <= 256:
        raise InvalidUser("a password has 8 to 256 characters")
    return password


def hash_password(password: str) -> str:
    """CPU-heavy on purpose (tens of ms): callers run it off the event loop."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, _unb64(digest))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user: str
    version: int
    expires: int  # Unix seconds


class TokenSigner:
    """Signs and checks session tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the session key must have at least 16 bytes")
        self._key = key

    def sign(self, claims: TokenClaims) -> str:
        payload = json.dumps(
            {"u": claims.user, "v": claims.version, "e": claims.expires},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def read(self, token: str, now: float) -> TokenClaims | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        if len(token) > 512 or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                return None
            data = json.loads(payload)
            claims = TokenClaims(str(data["u"]), int(data["v"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return claims if claims.expires > now else None

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"session\0" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
