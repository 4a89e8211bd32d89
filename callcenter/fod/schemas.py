"""JSON shapes of fax documents, jobs, attempts, received faxes and reports; the OpenAPI part."""

from __future__ import annotations

from typing import Any

from callcenter.fod.catalogue import Access, Document
from callcenter.fod.model import Attempt, AttemptResult, Job, JobStatus, Mode
from callcenter.fod.report import DocumentFigures
from callcenter.fod.repository import ReceivedFax

DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "title": {"type": "string"},
        "access": {"type": "string", "enum": [a.value for a in Access]},
        "pin_set": {"type": "boolean"},
        "pages": {"type": "integer", "description": "pages of the fax image"},
        "source": {"type": "string", "enum": ["folder", "api"]},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "32 hex digits"},
        "mode": {"type": "string", "enum": [m.value for m in Mode]},
        "status": {"type": "string", "enum": [s.value for s in JobStatus]},
        "documents": {"type": "array", "items": {"type": "string"}},
        "number": {"type": "string"},
        "caller": {"type": "string"},
        "customer_id": {"type": ["integer", "null"]},
        "call": {"type": "string"},
        "requested_by": {"type": "string"},
        "pages": {"type": "integer", "description": "pages to send, the cover included"},
        "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "next_at": {"type": "string", "format": "date-time"},
        "last_result": {"type": "string", "enum": ["", *[r.value for r in AttemptResult]]},
        "last_error": {"type": "string"},
        "pages_sent": {"type": "integer", "description": "pages the far end confirmed"},
        "remote_station": {"type": "string", "description": "the far end's station id"},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

ATTEMPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "number": {"type": "integer"},
        "started_at": {"type": "string", "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "result": {"type": "string"},
        "detail": {"type": "string"},
        "pages_sent": {"type": "integer"},
        "remote_station": {"type": "string"},
    },
}

RECEIVED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "caller": {"type": "string"},
        "call": {"type": "string"},
        "status": {"type": "string", "enum": ["received", "failed"]},
        "pages": {"type": "integer"},
        "remote_station": {"type": "string"},
        "error": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def document_json(document: Document) -> dict[str, Any]:
    return {
        "code": document.code,
        "title": document.title,
        "access": document.access.value,
        "pin_set": document.has_pin,
        "pages": document.pages,
        "source": document.source,
        "updated_at": document.updated_at.isoformat(),
    }


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "mode": job.mode.value,
        "status": job.status.value,
        "documents": list(job.documents),
        "number": job.number,
        "caller": job.caller,
        "customer_id": job.customer_id,
        "call": job.call,
        "requested_by": job.requested_by,
        "pages": job.pages,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "next_at": job.next_at.isoformat(),
        "last_result": job.last_result,
        "last_error": job.last_error,
        "pages_sent": job.pages_sent,
        "remote_station": job.remote_station,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "started_at": attempt.started_at.isoformat(),
        "ended_at": attempt.ended_at.isoformat() if attempt.ended_at else None,
        "result": attempt.result,
        "detail": attempt.detail,
        "pages_sent": attempt.pages_sent,
        "remote_station": attempt.remote_station,
    }


def received_json(fax: ReceivedFax) -> dict[str, Any]:
    return {
        "id": fax.id,
        "caller": fax.caller,
        "call": fax.call,
        "status": fax.status,
        "pages": fax.pages,
        "remote_station": fax.remote_station,
        "error": fax.error,
        "created_at": fax.created_at.isoformat(),
        "pdf": f"/api/v1/fax/inbox/{fax.id}/pdf",
        "tiff": f"/api/v1/fax/inbox/{fax.id}/tiff",
    }


def figures_json(line: DocumentFigures) -> dict[str, Any]:
    return {
        "code": line.code,
        "requests": line.requests,
        "sent": line.sent,
        "failed": line.failed,
        "pages": line.pages,
        "success_rate": line.success_rate,
    }


def openapi_paths() -> dict[str, Any]:
    """The fax part of the OpenAPI document (:mod:`callcenter.web.openapi`)."""
    error = {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}
    document_ref = {"$ref": "#/components/schemas/FaxDocument"}
    job_ref = {"$ref": "#/components/schemas/FaxJob"}

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(s): error for s in statuses}

    def path(name: str, pattern: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": pattern},
        }

    def query(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": kind, **extra}}

    def listing(key: str, item: dict[str, Any]) -> dict[str, Any]:
        return _json({"type": "object", "properties": {key: {"type": "array", "items": item}}})

    code = path("code", "^[A-Za-z0-9_-]{1,32}$")
    job = path("job", "^[a-f0-9]{32}$")
    fax = path("fax", "^[a-f0-9]{32}$")
    pins = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "PIN per document code",
    }
    new_document = {
        "type": "object",
        "required": ["code", "title", "pdf_base64"],
        "properties": {
            "code": {"type": "string"},
            "title": {"type": "string"},
            "access": {"type": "string", "enum": [a.value for a in Access]},
            "pin": {"type": "string", "description": "4 to 12 digits, for access pin"},
            "pdf_base64": {"type": "string", "description": "the PDF, base64"},
        },
    }
    change = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "access": {"type": "string", "enum": [a.value for a in Access]},
            "pin": {"type": "string", "description": "4 to 12 digits; empty removes the PIN"},
        },
    }
    new_job = {
        "type": "object",
        "required": ["documents", "number"],
        "properties": {
            "documents": {"type": "array", "items": {"type": "string"}},
            "number": {"type": "string", "description": "digits, optionally after '+'"},
            "at": {"type": "string", "format": "date-time", "description": "send at (default now)"},
            "pins": pins,
            "requested_by": {"type": "string"},
            "customer_id": {"type": "integer"},
        },
    }
    return {
        "/api/v1/fax/documents": {
            "get": {
                "summary": "The fax document catalogue",
                "responses": {
                    "200": {"description": "documents", **listing("documents", document_ref)},
                    **errors(401),
                },
            },
            "post": {
                "summary": "Add or replace a document (its PDF is made into a fax image at once)",
                "requestBody": _json(new_document),
                "responses": {
                    "201": {"description": "the document", **_json(document_ref)},
                    **errors(400, 401),
                },
            },
        },
        "/api/v1/fax/documents/{code}": {
            "get": {
                "summary": "One document",
                "parameters": [code],
                "responses": {
                    "200": {"description": "the document", **_json(document_ref)},
                    **errors(401, 404),
                },
            },
            "patch": {
                "summary": "Change a document's title, access or PIN",
                "parameters": [code],
                "requestBody": _json(change),
                "responses": {
                    "200": {"description": "the document", **_json(document_ref)},
                    **errors(400, 401, 404),
                },
            },
            "delete": {
                "summary": "Remove a document and its PDF",
                "parameters": [code],
                "responses": {"204": {"description": "removed"}, **errors(401, 404)},
            },
        },
        "/api/v1/fax/documents/{code}/pdf": {
            "get": {
                "summary": "The document's PDF",
                "parameters": [code],
                "responses": {
                    "200": {"description": "PDF", "content": {"application/pdf": {}}},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/fax/jobs": {
            "get": {
                "summary": "Fax jobs, newest first",
                "parameters": [
                    query("status", enum=[s.value for s in JobStatus]),
                    query("limit", "integer", minimum=1, maximum=500),
                ],
                "responses": {
                    "200": {"description": "jobs", **listing("jobs", job_ref)},
                    **errors(400, 401),
                },
            },
            "post": {
                "summary": "Fax documents to a number, now or at a set time",
                "requestBody": _json(new_job),
                "responses": {
                    "201": {"description": "the queued job", **_json(job_ref)},
                    **errors(400, 401, 403, 404, 429),
                },
            },
        },
        "/api/v1/fax/jobs/{job}": {
            "get": {
                "summary": "One job, with its attempts",
                "parameters": [job],
                "responses": {
                    "200": {"description": "the job", **_json(job_ref)},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/fax/jobs/{job}/cancel": {
            "post": {
                "summary": "Cancel a job that has not started",
                "parameters": [job],
                "responses": {
                    "200": {"description": "the job", **_json(job_ref)},
                    **errors(401, 404, 409),
                },
            }
        },
        "/api/v1/fax/jobs/{job}/tiff": {
            "get": {
                "summary": "The image the job sends (cover first)",
                "parameters": [job],
                "responses": {
                    "200": {"description": "TIFF", "content": {"image/tiff": {}}},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/fax/reports/documents": {
            "get": {
                "summary": "Per document: requests, sent and failed jobs, pages sent, success rate",
                "parameters": [query("from", format="date-time"), query("to", format="date-time")],
                "responses": {
                    "200": {"description": "figures", **listing("documents", {"type": "object"})},
                    **errors(400, 401),
                },
            }
        },
        "/api/v1/fax/inbox": {
            "get": {
                "summary": "Faxes received on the fax number, newest first",
                "parameters": [query("limit", "integer", minimum=1, maximum=500)],
                "responses": {
                    "200": {"description": "faxes", **listing("faxes", RECEIVED_SCHEMA)},
                    **errors(400, 401),
                },
            }
        },
        "/api/v1/fax/inbox/{fax}": {
            "get": {
                "summary": "One received fax",
                "parameters": [fax],
                "responses": {
                    "200": {"description": "the fax", **_json(RECEIVED_SCHEMA)},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/fax/inbox/{fax}/pdf": {
            "get": {
                "summary": "A received fax as PDF",
                "parameters": [fax],
                "responses": {
                    "200": {"description": "PDF", "content": {"application/pdf": {}}},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/fax/inbox/{fax}/tiff": {
            "get": {
                "summary": "A received fax as it arrived (TIFF)",
                "parameters": [fax],
                "responses": {
                    "200": {"description": "TIFF", "content": {"image/tiff": {}}},
                    **errors(401, 404),
                },
            }
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}
