"""Agents' log-in and pause state persisted on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.acd.repository import AgentSession, SqlAgentSessionRepository
from callcenter.storage.db import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_save_is_an_upsert_and_load_returns_the_latest(database: Database) -> None:
    repo = SqlAgentSessionRepository(database)
    await repo.save(AgentSession("agent1001", True, False, "", T0))
    await repo.save(AgentSession("agent1002", True, True, "lunch", T0))
    await repo.save(AgentSession("agent1001", True, True, "no_answer\x00'; --", T0))
    sessions = {s.agent: s for s in await repo.load_all()}
    assert sessions["agent1001"] == AgentSession("agent1001", True, True, "no_answer'; --", T0)
    assert sessions["agent1002"].pause_reason == "lunch"
    assert len(sessions) == 2


async def test_a_batch_is_one_upsert_where_an_agents_last_entry_wins(database: Database) -> None:
    repo = SqlAgentSessionRepository(database)
    await repo.save(AgentSession("agent1001", True, False, "", T0))
    await repo.save_many(
        [
            AgentSession("agent1001", True, True, "lunch", T0),
            AgentSession("agent1002", True, False, "", T0),
            AgentSession("agent1001", False, False, "", T0),  # logged out last
        ]
    )
    sessions = {s.agent: s for s in await repo.load_all()}
    assert sessions == {
        "agent1001": AgentSession("agent1001", False, False, "", T0),
        "agent1002": AgentSession("agent1002", True, False, "", T0),
    }
    await repo.save_many([])
