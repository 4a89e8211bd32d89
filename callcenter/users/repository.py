"""Users in SQL: read all at start, written one at a time by the user service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from callcenter.storage.db import Database
from callcenter.storage.tables import users
from callcenter.users.model import Role, User


class SqlUserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load_all(self) -> list[User]:
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.name))).all()
        return [_user(row) for row in rows]

    async def save(self, user: User, at: datetime) -> None:
        values = {
            "role": user.role.value,
            "agent": user.agent,
            "password_hash": user.password_hash,
            "token_version": user.token_version,
            "disabled": user.disabled,
            "updated_at": at,
        }
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                update(users).where(users.c.name == user.name).values(**values)
            )
            if changed.rowcount == 0:
                await conn.execute(users.insert().values(name=user.name, created_at=at, **values))

    async def delete(self, name: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(delete(users).where(users.c.name == name))


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=Role(row.role),
        agent=row.agent,
        password_hash=row.password_hash,
        token_version=row.token_version,
        disabled=bool(row.disabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
