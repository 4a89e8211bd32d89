"""HTTP handlers of the IVR scripts: which version runs, a refused edit, roll-back."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.errors import BadRequest
from callcenter.ivr.library import ScriptLibrary
from callcenter.users.model import Role
from callcenter.web.auth import grant
from callcenter.web.params import json_object

SCRIPTS_KEY = web.AppKey("ivr_scripts", ScriptLibrary)


def _entry_json(library: ScriptLibrary, entry: str) -> dict[str, Any]:
    current, refused, versions = library.status(entry)
    return {
        "entry": entry,
        "version": current.version if current else None,
        "digest": current.digest if current else None,
        "published_at": current.published_at.isoformat() if current else None,
        "versions": versions,
        "refused": None
        if refused is None
        else {"problems": list(refused.problems), "at": refused.refused_at.isoformat()},
    }


async def list_entries(request: web.Request) -> web.Response:
    library = request.app[SCRIPTS_KEY]
    return web.json_response({"entries": [_entry_json(library, e) for e in library.entries()]})


async def get_entry(request: web.Request) -> web.Response:
    library = request.app[SCRIPTS_KEY]
    return web.json_response(_entry_json(library, request.match_info["entry"]))


async def rollback(request: web.Request) -> web.Response:
    """Put a stored version back in the script file; default: the one before the current."""
    library = request.app[SCRIPTS_KEY]
    entry = request.match_info["entry"]
    version = (await json_object(request)).get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise BadRequest("version must be an integer")
    library.rollback(entry, version)
    return web.json_response(_entry_json(library, entry))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/ivr", list_entries)
    app.router.add_get("/api/v1/ivr/{entry}", get_entry)
    grant(app, app.router.add_post("/api/v1/ivr/{entry}/rollback", rollback), Role.ADMIN)
