"""Keeps agents' log-in and pause state in storage, from the ACD's state changes.

Only what a restart must re-apply is stored: logged in or not, paused and why. Ringing,
talking and wrap-up are rebuilt from Asterisk. Writes are queued, gathered in batches (a
shift's log-ins at once are one transaction) and retried while storage is down, in order, so
the latest state always wins.
"""

from __future__ import annotations

import asyncio
import logging

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.acd.repository import AgentSession, SqlAgentSessionRepository
from callcenter.errors import StorageUnavailable
from callcenter.storage.batch import DEFAULT_WINDOW, take_batch

log = logging.getLogger(__name__)

STORED = {AgentState.LOGGED_OUT, AgentState.READY, AgentState.PAUSED}
BATCH = 1000
"""Sessions written per transaction at most."""


class AgentSessionRecorder:
    def __init__(
        self,
        repository: SqlAgentSessionRepository,
        retry: float = 1.0,
        batch_window: float = DEFAULT_WINDOW,
    ) -> None:
        self._repository = repository
        self._inbox: asyncio.Queue[AgentSession] = asyncio.Queue()
        self._retry = retry
        self._window = batch_window
        self._last: dict[str, tuple[bool, bool, str]] = {}

    def record(self, change: AgentStateChanged) -> None:
        """Queue a write when what a restart needs changed (not, e.g., ready after a call)."""
        if change.state not in STORED:
            return
        session = AgentSession(
            agent=change.agent,
            logged_in=change.state is not AgentState.LOGGED_OUT,
            paused=change.state is AgentState.PAUSED,
            pause_reason=change.reason if change.state is AgentState.PAUSED else "",
            updated_at=change.at,
        )
        stored = (session.logged_in, session.paused, session.pause_reason)
        if self._last.get(change.agent) == stored:
            return
        self._last[change.agent] = stored
        self._inbox.put_nowait(session)

    async def drained(self) -> None:
        await self._inbox.join()

    async def run(self) -> None:
        while True:
            sessions = await take_batch(self._inbox, BATCH, self._window)
            try:
                while True:
                    try:
                        await self._repository.save_many(sessions)
                        break
                    except StorageUnavailable as exc:
                        log.warning("agent sessions: storage unavailable (%s); retrying", exc)
                        await asyncio.sleep(self._retry)
            finally:
                for _ in sessions:
                    self._inbox.task_done()
