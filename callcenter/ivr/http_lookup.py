"""External HTTP look-ups for IVR scripts (e.g. a repair ticket's status), bounded and safe.

A look-up is a GET of the script's URL with the flow's values as query parameters (encoded by
the client, so caller input cannot change the URL's path or host). Any failure gives None and
the flow takes its fallback: a timeout, a connection error, a status other than 200, an
answer over :data:`MAX_BYTES`, or a body that is not a JSON object. Values come back as text
(nested values as compact JSON).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import aiohttp

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024


class AiohttpGetter:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def get_json(
        self, url: str, params: Mapping[str, str], seconds: float
    ) -> dict[str, str] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=seconds)
        try:
            async with self._session.get(
                url, params=dict(params), timeout=timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    log.warning("ivr: look-up %s answered %d", url, response.status)
                    return None
                raw = await response.content.read(MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("ivr: look-up %s failed: %s", url, exc or type(exc).__name__)
            return None
        if len(raw) > MAX_BYTES:
            log.warning("ivr: look-up %s answered more than %d bytes", url, MAX_BYTES)
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        return {str(k): _text(v) for k, v in body.items()}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
