"""A database outage during a call: the caller is served, the ledger catches up once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.e2e.api import api, closed_calls
from tests.e2e.conftest import GREETED, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.pgserver import PgServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    server = PgServer.create()
    yield server
    server.destroy()


async def test_call_during_database_outage_is_written_once_after_recovery(
    asterisk: Asterisk, own_pg_server: PgServer
) -> None:
    url = await own_pg_server.create_database()
    async with running_engine(engine_settings(asterisk, url, 5038)) as running:
        await asyncio.to_thread(own_pg_server.stop)
        code, output = await asterisk.call_hotline("-key", "digits", "3")
        assert code == 0, output  # the caller was served while the database was down
        status, health = await api(running, "/health", token=None)
        assert status == 503 and health["components"]["database"]["ok"] is False
        assert running.engine.ledger.backlog > 0
        await asyncio.to_thread(own_pg_server.start)
        (call,) = await closed_calls(running, 1, timeout=20)
        assert running.engine.ledger.backlog == 0
        assert running.engine.ledger.stats.storage_failures > 0
        status, _ = await api(running, "/health", token=None)
        assert status == 200
    assert call["outcome"] == "completed_in_ivr" and call["path"] == GREETED("key:3")
