"""HTTP handlers of prompts: list, upload, delete, ask for a recording code (auth: middleware)."""

from __future__ import annotations

from aiohttp import web

from callcenter.prompts.model import MAX_UPLOAD_BYTES, AudioTooLarge, InvalidAudio, PromptId
from callcenter.prompts.schemas import prompt_json, recording_json
from callcenter.prompts.service import PromptService
from callcenter.users.model import Role
from callcenter.web.auth import grant

PROMPTS_KEY = web.AppKey("prompts", PromptService)


def _prompt(request: web.Request) -> PromptId:
    return PromptId(request.match_info["lang"], request.match_info["name"])


async def _body(request: web.Request) -> bytes:
    """The raw body, refused as soon as it grows past the limit (not read whole first)."""
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        raise AudioTooLarge(f"audio larger than {MAX_UPLOAD_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise AudioTooLarge(f"audio larger than {MAX_UPLOAD_BYTES} bytes")
        chunks.append(chunk)
    if not size:
        raise InvalidAudio("the body must be a WAV file")
    return b"".join(chunks)


async def list_prompts(request: web.Request) -> web.Response:
    prompts = await request.app[PROMPTS_KEY].list()
    return web.json_response({"prompts": [prompt_json(p) for p in prompts]})


async def put_prompt(request: web.Request) -> web.Response:
    prompt = _prompt(request)
    stored = await request.app[PROMPTS_KEY].upload(prompt, await _body(request))
    return web.json_response(prompt_json(stored))


async def delete_prompt(request: web.Request) -> web.Response:
    deleted = await request.app[PROMPTS_KEY].delete(_prompt(request))
    return web.json_response(prompt_json(deleted))


async def request_recording(request: web.Request) -> web.Response:
    issued = request.app[PROMPTS_KEY].request_recording(_prompt(request))
    return web.json_response(recording_json(issued), status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/prompts", list_prompts)
    grant(app, app.router.add_put("/api/v1/prompts/{lang}/{name}", put_prompt), Role.ADMIN)
    grant(app, app.router.add_delete("/api/v1/prompts/{lang}/{name}", delete_prompt), Role.ADMIN)
    app.router.add_post("/api/v1/prompts/{lang}/{name}/recording", request_recording)
