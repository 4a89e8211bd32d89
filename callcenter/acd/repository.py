"""Agents' log-in and pause state in SQL, re-applied when the engine restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.storage.db import Database
from callcenter.storage.tables import AGENT_LENGTH, REASON_LENGTH, agent_sessions
from callcenter.storage.text import clean_text


@dataclass(frozen=True, slots=True)
class AgentSession:
    agent: str
    logged_in: bool
    paused: bool
    pause_reason: str
    updated_at: datetime


class SqlAgentSessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, session: AgentSession) -> None:
        await self.save_many([session])

    async def save_many(self, sessions: Sequence[AgentSession]) -> None:
        """One transaction; an agent's later entry wins over an earlier one in the batch."""
        latest = {session.agent: session for session in sessions}
        if not latest:
            return
        rows = [
            {
                "agent": clean_text(session.agent, AGENT_LENGTH),
                "logged_in": int(session.logged_in),
                "paused": int(session.paused),
                "pause_reason": clean_text(session.pause_reason, REASON_LENGTH),
                "updated_at": session.updated_at,
            }
            for session in latest.values()
        ]
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = insert(agent_sessions)
        changes = {
            name: statement.excluded[name]
            for name in ("logged_in", "paused", "pause_reason", "updated_at")
        }
        statement = statement.on_conflict_do_update(
            index_elements=[agent_sessions.c.agent], set_=changes
        )
        async with self._db.transaction() as conn:
            await conn.execute(statement, rows)

    async def load_all(self) -> list[AgentSession]:
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(agent_sessions))).all()
        return [
            AgentSession(r.agent, bool(r.logged_in), bool(r.paused), r.pause_reason, r.updated_at)
            for r in rows
        ]
