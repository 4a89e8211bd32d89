"""HTTP handlers of fax on demand: the catalogue, jobs (ask, list, cancel, image), reports per
document and received faxes (auth: middleware). Thin: parse, call the service, serialise."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from callcenter.errors import BadRequest
from callcenter.fod.catalogue import Access, Requester
from callcenter.fod.model import JobStatus
from callcenter.fod.schemas import (
    attempt_json,
    document_json,
    figures_json,
    job_json,
    received_json,
)
from callcenter.fod.service import FaxService, known_pins
from callcenter.users.model import Role
from callcenter.web.auth import SERVICE, grant, principal_of
from callcenter.web.params import int_param, json_object

FAX_KEY = web.AppKey("fax", FaxService)


def _service(request: web.Request) -> FaxService:
    return request.app[FAX_KEY]


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text")
    return value


def _access(raw: str | None) -> Access | None:
    if raw is None:
        return None
    try:
        return Access(raw)
    except ValueError:
        raise BadRequest(f"access must be one of {', '.join(a.value for a in Access)}") from None


def _time(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 time") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name} must carry a time zone")
    return value


async def list_documents(request: web.Request) -> web.Response:
    found = await _service(request).documents()
    return web.json_response({"documents": [document_json(d) for d in found]})


async def add_document(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        pdf = base64.b64decode(_text(body, "pdf_base64", True) or "", validate=True)
    except binascii.Error:
        raise BadRequest("pdf_base64 is not base64") from None
    document = await _service(request).add_document(
        _text(body, "code", True) or "",
        _text(body, "title", True) or "",
        _access(_text(body, "access")) or Access.PUBLIC,
        _text(body, "pin") or "",
        pdf,
    )
    return web.json_response(document_json(document), status=201)


async def get_document(request: web.Request) -> web.Response:
    document = await _service(request).document(request.match_info["code"])
    return web.json_response(document_json(document))


async def change_document(request: web.Request) -> web.Response:
    body = await json_object(request)
    document = await _service(request).change_document(
        request.match_info["code"],
        _text(body, "title"),
        _access(_text(body, "access")),
        _text(body, "pin"),
    )
    return web.json_response(document_json(document))


async def delete_document(request: web.Request) -> web.Response:
    await _service(request).delete_document(request.match_info["code"])
    return web.Response(status=204)


async def document_pdf(request: web.Request) -> web.FileResponse:
    service = _service(request)
    document = await service.document(request.match_info["code"])
    return web.FileResponse(
        service.pdf_path(document.code), headers={"Content-Type": "application/pdf"}
    )


async def list_jobs(request: web.Request) -> web.Response:
    raw = request.query.get("status", "")
    try:
        status = JobStatus(raw) if raw else None
    except ValueError:
        raise BadRequest(f"status {raw[:20]!r} is not a job status") from None
    limit = int_param(request.query.get("limit"), "limit", 50, 1, 500) or 50
    found = await _service(request).jobs(status, limit)
    return web.json_response({"jobs": [job_json(j) for j in found]})


async def request_job(request: web.Request) -> web.Response:
    body = await json_object(request)
    documents = body.get("documents")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise BadRequest("documents must be a list of codes")
    pins = body.get("pins") or {}
    if not isinstance(pins, dict):
        raise BadRequest("pins must be an object of code: PIN")
    customer_id = body.get("customer_id")
    if customer_id is not None and not isinstance(customer_id, int):
        raise BadRequest("customer_id must be an integer")
    job = await _service(request).request(
        tuple(documents),
        _text(body, "number", True) or "",
        Requester(known_pins(pins), staff=True),
        customer_id=customer_id,
        requested_by=_requester(request, _text(body, "requested_by")),
        at=_time(_text(body, "at"), "at"),
    )
    return web.json_response(job_json(job), status=201)


def _requester(request: web.Request, named: str | None) -> str:
    """A user (an agent sending documents from the desk) asks under their own name; a
    service token may name the system it acts for."""
    principal = principal_of(request)
    if principal is not SERVICE:
        return principal.name
    return (named or "api")[:64]


async def get_job(request: web.Request) -> web.Response:
    service = _service(request)
    job = await service.job(request.match_info["job"])
    attempts = await service.attempts(job.id)
    return web.json_response({**job_json(job), "attempt_log": [attempt_json(a) for a in attempts]})


async def cancel_job(request: web.Request) -> web.Response:
    job = await _service(request).cancel(request.match_info["job"])
    return web.json_response(job_json(job))


async def job_tiff(request: web.Request) -> web.FileResponse:
    path = await _service(request).image(request.match_info["job"])
    return web.FileResponse(path, headers={"Content-Type": "image/tiff"})


async def document_report(request: web.Request) -> web.Response:
    service = _service(request)
    until = _time(request.query.get("to"), "to") or service.now()
    since = _time(request.query.get("from"), "from") or until - timedelta(days=30)
    lines = await service.report(since, until)
    return web.json_response(
        {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "documents": [figures_json(line) for line in lines],
        }
    )


async def inbox(request: web.Request) -> web.Response:
    limit = int_param(request.query.get("limit"), "limit", 50, 1, 500) or 50
    found = await _service(request).received(limit)
    return web.json_response({"faxes": [received_json(f) for f in found]})


async def received(request: web.Request) -> web.Response:
    fax = await _service(request).received_one(request.match_info["fax"])
    return web.json_response(received_json(fax))


async def received_file(request: web.Request) -> web.FileResponse:
    kind = "pdf" if request.path.endswith("/pdf") else "tiff"
    path = await _service(request).received_file(request.match_info["fax"], kind)
    content_type = "application/pdf" if kind == "pdf" else "image/tiff"
    return web.FileResponse(path, headers={"Content-Type": content_type})


def add_routes(app: web.Application, service: FaxService) -> None:
    app[FAX_KEY] = service
    router = app.router
    grant(app, router.add_get("/api/v1/fax/documents", list_documents), Role.AGENT)
    router.add_post("/api/v1/fax/documents", add_document)
    router.add_get("/api/v1/fax/documents/{code}", get_document)
    router.add_patch("/api/v1/fax/documents/{code}", change_document)
    router.add_delete("/api/v1/fax/documents/{code}", delete_document)
    router.add_get("/api/v1/fax/documents/{code}/pdf", document_pdf)
    router.add_get("/api/v1/fax/jobs", list_jobs)
    # agents send documents (service sites, a dispatch order) to a customer's fax
    grant(app, router.add_post("/api/v1/fax/jobs", request_job), Role.AGENT)
    router.add_get("/api/v1/fax/jobs/{job}", get_job)
    router.add_post("/api/v1/fax/jobs/{job}/cancel", cancel_job)
    router.add_get("/api/v1/fax/jobs/{job}/tiff", job_tiff)
    router.add_get("/api/v1/fax/reports/documents", document_report)
    router.add_get("/api/v1/fax/inbox", inbox)
    router.add_get("/api/v1/fax/inbox/{fax}", received)
    router.add_get("/api/v1/fax/inbox/{fax}/pdf", received_file)
    router.add_get("/api/v1/fax/inbox/{fax}/tiff", received_file)
