"""Health: the state of each external link, for probes and operators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Check:
    """One component's health: ``probe`` returns (ok, details)."""

    name: str
    probe: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


CHECKS_KEY = web.AppKey("health_checks", list[Check])


async def health(request: web.Request) -> web.Response:
    components: dict[str, Any] = {}
    healthy = True
    for check in request.app[CHECKS_KEY]:
        ok, details = await check.probe()
        healthy &= ok
        components[check.name] = {"ok": ok, **details}
    status = "ok" if healthy else "degraded"
    return web.json_response(
        {"status": status, "components": components}, status=200 if healthy else 503
    )
