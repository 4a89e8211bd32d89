"""The user service: the one owner of the users in memory, log-in and token checks.

Checking a token is a dictionary look-up and an HMAC, no database: every API call and every
websocket does it. Password hashing runs in a worker thread so a log-in never stalls the event
loop. Repeated wrong passwords for one name are refused for a while (``lockout``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, replace

from callcenter.clock import Clock
from callcenter.errors import NotFound, TooManyRequests, Unauthorized
from callcenter.users.model import (
    Principal,
    TokenClaims,
    TokenSigner,
    User,
    check_password,
    check_user,
    hash_password,
    verify_password,
)
from callcenter.users.repository import SqlUserRepository


class TooManyAttempts(TooManyRequests):
    code = "too_many_attempts"


class UserNotFound(NotFound):
    code = "user_not_found"


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    expires: int
    user: User


class UserService:
    def __init__(
        self,
        repository: SqlUserRepository,
        signer: TokenSigner,
        clock: Clock,
        *,
        session_seconds: int = 12 * 3600,
        max_failures: int = 5,
        lockout: float = 300.0,
    ) -> None:
        self._repository = repository
        self._signer = signer
        self._clock = clock
        self._users: dict[str, User] = {}
        self._session_seconds = session_seconds
        self._max_failures = max_failures
        self._lockout = lockout
        self._failures: dict[str, list[float]] = {}

    async def load(self) -> None:
        self._users = {user.name: user for user in await self._repository.load_all()}

    def authenticate(self, token: str) -> Principal | None:
        claims = self._signer.read(token, self._clock.now().timestamp())
        if claims is None:
            return None
        user = self._users.get(claims.user)
        if user is None or user.disabled or user.token_version != claims.version:
            return None
        return user.principal()

    def list(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.name)

    def get(self, name: str) -> User:
        user = self._users.get(name)
        if user is None:
            raise UserNotFound(f"no user {name[:70]!r}")
        return user

    async def login(self, name: str, password: str) -> Session:
        self._check_lockout(name)
        user = self._users.get(name)
        # A missing user costs the same hashing time as a wrong password: names do not leak.
        stored = user.password_hash if user is not None else _dummy_hash()
        ok = await asyncio.to_thread(verify_password, password, stored)
        if user is None or not ok or user.disabled:
            self._failures.setdefault(name, []).append(time.monotonic())
            raise Unauthorized("wrong user name or password")
        self._failures.pop(name, None)
        expires = int(self._clock.now().timestamp()) + self._session_seconds
        token = self._signer.sign(TokenClaims(user.name, user.token_version, expires))
        return Session(token, expires, user)

    async def logout(self, name: str) -> None:
        """Ends every session of the user (all their tokens)."""
        user = self.get(name)
        await self._store(replace(user, token_version=user.token_version + 1))

    async def put(
        self,
        name: str,
        role: str,
        agent: str,
        password: str | None,
        disabled: bool = False,
    ) -> User:
        name, parsed, agent = check_user(name, role, agent)
        old = self._users.get(name)
        if old is None and password is None:
            raise UserNotFound(f"no user {name!r}: a new user needs a password")
        if password is not None:
            password_hash = await asyncio.to_thread(hash_password, check_password(password))
        else:
            assert old is not None
            password_hash = old.password_hash
        version = 0 if old is None else old.token_version
        if old is not None and (
            password is not None or old.role is not parsed or old.agent != agent or disabled
        ):
            version += 1  # sessions made under the old terms end
        user = User(name, parsed, agent, password_hash, version, disabled)
        await self._store(user)
        return user

    async def delete(self, name: str) -> None:
        self.get(name)
        await self._repository.delete(name)
        self._users.pop(name, None)

    async def _store(self, user: User) -> None:
        await self._repository.save(user, self._clock.now())
        self._users[user.name] = user

    def _check_lockout(self, name: str) -> None:
        now = time.monotonic()
        recent = [t for t in self._failures.get(name, []) if now - t < self._lockout]
        if recent:
            self._failures[name] = recent
        else:
            self._failures.pop(name, None)
        if len(recent) >= self._max_failures:
            raise TooManyAttempts(f"too many failed log-ins for {name[:70]!r}; try again later")


@functools.cache
def _dummy_hash() -> str:
    return hash_password("a password nobody has")
