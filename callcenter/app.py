"""The composition root: builds every component from the validated settings and runs them.

How a call flows through the code:
1. Asterisk answers the hotline number (dialplans/) and runs ``AGI(agi://.../hotline)``.
2. :class:`~callcenter.asterisk.fastagi.FastAgiServer` accepts the connection (allow-listed
   peer, bounded headers) and routes ``hotline`` to an IVR flow, a generator that yields
   commands (:mod:`callcenter.ivr`); :mod:`callcenter.ivr.agi_driver` carries them out.
3. Meanwhile :class:`~callcenter.asterisk.ami.AmiClient` turns Asterisk's AMI events into
   telephony facts (:mod:`callcenter.telephony`) and publishes them on the bus.
4. :class:`~callcenter.calls.service.CallLedgerService` folds those facts, and what the IVR
   reports, into one ledger row per call with exactly one final outcome.
5. The aiohttp app (:mod:`callcenter.web`) serves health, the OpenAPI document and the API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.bus import EventBus
from callcenter.calls.repository import SqlCallRepository
from callcenter.calls.service import CallLedgerService
from callcenter.clock import Clock, SystemClock
from callcenter.ivr.agi_driver import flow_handler
from callcenter.ivr.greeting import greeting_flow
from callcenter.settings import Settings
from callcenter.storage.db import Database
from callcenter.telephony import TelephonyEvent
from callcenter.web.app import build_web_app
from callcenter.web.health import Check

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.database = Database(settings.database)
        self.ledger = CallLedgerService(SqlCallRepository(self.database), self.clock)
        self.bus: EventBus[TelephonyEvent] = EventBus()
        self.bus.subscribe(self.ledger.submit)
        self.ami = AmiClient(settings.ami, self.clock, self.bus.publish)
        hotline = flow_handler(lambda: greeting_flow(settings.hotline), self.ledger)
        self.fastagi = FastAgiServer(settings.fastagi, {"hotline": hotline})
        self.web = build_web_app(
            [t.get_secret_value() for t in settings.http.api_tokens],
            self.ledger,
            [
                Check("ami", self._ami_health),
                Check("fastagi", self._fastagi_health),
                Check("database", self._database_health),
            ],
        )
        self.http_port: int | None = None
        self.started = asyncio.Event()

    async def _ami_health(self) -> tuple[bool, dict[str, Any]]:
        return self.ami.connected, {"reconnects": self.ami.stats.reconnects}

    async def _fastagi_health(self) -> tuple[bool, dict[str, Any]]:
        stats = self.fastagi.stats
        return self.fastagi.bound_port is not None, {
            "port": self.fastagi.bound_port,
            "active": stats.active,
            "total": stats.total,
        }

    async def _database_health(self) -> tuple[bool, dict[str, Any]]:
        ok = await self.database.ping()
        return ok, {"ledger_backlog": self.ledger.backlog}

    async def run(self) -> None:
        """Run until cancelled; every child task runs under one TaskGroup."""
        await self.database.migrate()
        runner = web.AppRunner(self.web, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.http.host, self.settings.http.port)
            await site.start()
            self.http_port = _bound_port(site)
            await self.fastagi.start()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.ledger.run(), name="ledger")
                group.create_task(self.ami.run(), name="ami")
                self.started.set()
        finally:
            await self.fastagi.stop()
            await runner.cleanup()
            await self.database.close()


def _bound_port(site: web.TCPSite) -> int | None:
    server = site._server  # aiohttp exposes no public accessor for the bound socket
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else None
