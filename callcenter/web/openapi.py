"""The API's OpenAPI document, served at the stable URL ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter import __version__
from callcenter.acd.schemas import AGENT_SCHEMA, QUEUE_SCHEMA
from callcenter.callbacks.schemas import TASK_SCHEMA
from callcenter.callbacks.schemas import openapi_paths as callback_paths
from callcenter.calls.schemas import CALL_SCHEMA
from callcenter.customers.schemas import CUSTOMER_SCHEMA
from callcenter.desk.controls_schemas import openapi_paths as desk_controls_paths
from callcenter.desk.schemas import POP_SCHEMA
from callcenter.desk.schemas import openapi_paths as desk_paths
from callcenter.fod.schemas import DOCUMENT_SCHEMA as FAX_DOCUMENT_SCHEMA
from callcenter.fod.schemas import JOB_SCHEMA as FAX_JOB_SCHEMA
from callcenter.fod.schemas import openapi_paths as fax_paths
from callcenter.prompts.schemas import PROMPT_SCHEMA, RECORDING_SCHEMA
from callcenter.users.schemas import USER_SCHEMA
from callcenter.users.schemas import openapi_paths as users_paths
from callcenter.voicemail.schemas import MESSAGE_SCHEMA as VOICEMAIL_MESSAGE_SCHEMA
from callcenter.voicemail.schemas import openapi_paths as voicemail_paths

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}
        for s in statuses
    }


def document() -> dict[str, Any]:
    call_ref = {"$ref": "#/components/schemas/Call"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "callcenter API", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Call": CALL_SCHEMA,
                "Agent": AGENT_SCHEMA,
                "Queue": QUEUE_SCHEMA,
                "Callback": TASK_SCHEMA,
                "Customer": CUSTOMER_SCHEMA,
                "Prompt": PROMPT_SCHEMA,
                "PromptRecording": RECORDING_SCHEMA,
                "VoicemailMessage": VOICEMAIL_MESSAGE_SCHEMA,
                "FaxDocument": FAX_DOCUMENT_SCHEMA,
                "FaxJob": FAX_JOB_SCHEMA,
                "User": USER_SCHEMA,
                "Pop": POP_SCHEMA,
                "Error": _ERROR,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {
                    "summary": "State of the AMI link, the FastAGI server and the database",
                    "security": [],
                    "responses": {
                        "200": {"description": "all components healthy"},
                        "503": {"description": "at least one component is down"},
                    },
                }
            },
            "/api/v1/calls": {
                "get": {
                    "summary": "Call ledger, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "before_id",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "calls",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {"calls": {"type": "array", "items": call_ref}},
                                }
                            ),
                        },
                        **_errors(400, 401, 503),
                    },
                }
            },
            **_acd_paths(),
            **callback_paths(),
            **_customer_paths(),
            **_ivr_paths(),
            **_stats_paths(),
            **_prompt_paths(),
            **voicemail_paths(),
            **fax_paths(),
            "/api/v1/calls/{linkedid}": {
                "get": {
                    "summary": "One call by its Asterisk linkedid",
                    "parameters": [
                        {
                            "name": "linkedid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "the call", **_json(call_ref)},
                        **_errors(401, 404, 503),
                    },
                }
            },
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _acd_paths() -> dict[str, Any]:
    agent = {"$ref": "#/components/schemas/Agent"}
    queue = {"$ref": "#/components/schemas/Queue"}
    reason_body = {
        "required": False,
        **_json({"type": "object", "properties": {"reason": {"type": "string", "maxLength": 64}}}),
    }
    return {
        "/api/v1/agents": {
            "get": {
                "summary": "Agents with their live state",
                "responses": {
                    "200": {
                        "description": "agents",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"agents": {"type": "array", "items": agent}},
                            }
                        ),
                    },
                    **_errors(401),
                },
            }
        },
        "/api/v1/agents/{agent}": {
            "get": {
                "summary": "One agent",
                "parameters": [_path_param("agent")],
                "responses": {
                    "200": {"description": "the agent", **_json(agent)},
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/agents/{agent}/{action}": {
            "post": {
                "summary": "Drive the agent's state machine, as the phone and supervisors do",
                "description": (
                    "pause and pause-after-call take a reason; a change that does not fit the"
                    " agent's state answers 409"
                ),
                "parameters": [
                    _path_param("agent"),
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": [
                                "login",
                                "logout",
                                "pause",
                                "unpause",
                                "pause-after-call",
                                "end-wrap-up",
                            ],
                        },
                    },
                ],
                "requestBody": reason_body,
                "responses": {
                    "200": {"description": "the agent after the change", **_json(agent)},
                    **_errors(400, 401, 404, 409),
                },
            }
        },
        "/api/v1/queues": {
            "get": {
                "summary": "Queues with waiting callers and agents by state",
                "responses": {
                    "200": {
                        "description": "queues",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"queues": {"type": "array", "items": queue}},
                            }
                        ),
                    },
                    **_errors(401),
                },
            }
        },
        "/api/v1/queues/{queue}": {
            "get": {
                "summary": "One queue",
                "parameters": [_path_param("queue")],
                "responses": {
                    "200": {"description": "the queue", **_json(queue)},
                    **_errors(401, 404),
                },
            },
            "patch": {
                "summary": "Change a queue at run time (strategy included)",
                "description": "Effective from the next routing decision.",
                "parameters": [_path_param("queue")],
                "requestBody": {"required": True, **_json({"type": "object"})},
                "responses": {
                    "200": {"description": "the queue", **_json(queue)},
                    **_errors(400, 401, 404),
                },
            },
        },
        "/api/v1/calls/{linkedid}/trace": {
            "get": {
                "summary": "The routing decisions taken for a call, and why agents were skipped",
                "parameters": [_path_param("linkedid")],
                "responses": {
                    "200": {"description": "decisions", **_json({"type": "object"})},
                    **_errors(401),
                },
            }
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


def _customer_paths() -> dict[str, Any]:
    customer = {"$ref": "#/components/schemas/Customer"}
    found = {"200": {"description": "the customer, with recent history", **_json(customer)}}
    return {
        "/api/v1/customers": {
            "get": {
                "summary": "Find a customer by phone number (caller ID) or account number",
                "parameters": [
                    {"name": "phone", "in": "query", "schema": {"type": "string"}},
                    {"name": "account", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {**found, **_errors(400, 401, 404, 503)},
            }
        },
        "/api/v1/customers/import": {
            "post": {
                "summary": "Import customers from CSV (account,name,tier,phones,address,region,"
                "products); bad rows are reported with their line",
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": {
                        "description": "rows imported and problems",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "imported": {"type": "integer"},
                                    "problems": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        ),
                    },
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/v1/customers/{customer}": {
            "get": {
                "summary": "One customer by id, with recent contact history",
                "parameters": [_path_param("customer")],
                "responses": {**found, **_errors(400, 401, 404, 503)},
            }
        },
        "/api/v1/customers/by-account/{account}": {
            "put": {
                "summary": "Create or replace the customer with this account number",
                "parameters": [_path_param("account")],
                "requestBody": {"required": True, **_json(customer)},
                "responses": {
                    "200": {"description": "the customer", **_json(customer)},
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/v1/customers/{customer}/notes": {
            "post": {
                "summary": "Add a note to the customer's contact history",
                "parameters": [_path_param("customer")],
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["text"],
                            "properties": {
                                "text": {"type": "string", "maxLength": 500},
                                "author": {"type": "string"},
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {"description": "the note"},
                    **_errors(400, 401, 404, 503),
                },
            }
        },
    }


def _ivr_paths() -> dict[str, Any]:
    entry = {
        "type": "object",
        "properties": {
            "entry": {"type": "string"},
            "version": {"type": ["integer", "null"], "description": "the version new calls get"},
            "digest": {"type": ["string", "null"]},
            "published_at": {"type": ["string", "null"], "format": "date-time"},
            "versions": {"type": "array", "items": {"type": "integer"}},
            "refused": {
                "type": ["object", "null"],
                "description": "the file's last edit, refused (file:line:col problems)",
            },
        },
    }
    return {
        "/api/v1/ivr": {
            "get": {
                "summary": "IVR entry points: the script version running, a refused edit",
                "responses": {
                    "200": {
                        "description": "entries",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"entries": {"type": "array", "items": entry}},
                            }
                        ),
                    },
                    **_errors(401),
                },
            }
        },
        "/api/v1/ivr/{entry}": {
            "get": {
                "summary": "One IVR entry point",
                "parameters": [_path_param("entry")],
                "responses": {
                    "200": {"description": "the entry", **_json(entry)},
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/ivr/{entry}/rollback": {
            "post": {
                "summary": "Put a stored version back in the script file (default: the previous)",
                "parameters": [_path_param("entry")],
                "requestBody": {
                    "required": False,
                    **_json({"type": "object", "properties": {"version": {"type": "integer"}}}),
                },
                "responses": {
                    "200": {"description": "the entry after the roll-back", **_json(entry)},
                    **_errors(400, 401, 404),
                },
            }
        },
    }


def _prompt_paths() -> dict[str, Any]:
    prompt = {"$ref": "#/components/schemas/Prompt"}
    params = [
        {
            "name": "lang",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[a-z]{2,3}$"},
        },
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        },
    ]
    listing = {"type": "object", "properties": {"prompts": {"type": "array", "items": prompt}}}
    return {
        "/api/v1/prompts": {
            "get": {
                "summary": "Prompts scripts may play (<language>/<name>), with duration and source",
                "responses": {
                    "200": {"description": "prompts", **_json(listing)},
                    **_errors(401),
                },
            }
        },
        "/api/v1/prompts/{lang}/{name}": {
            "put": {
                "summary": "Upload a prompt (a WAV file, at most 10 MB, 0.1 to 300 s)",
                "description": (
                    "Converted to 8 kHz mono 16-bit PCM and written into the engine's and"
                    " Asterisk's prompt directories; replaces a prompt of the same name."
                ),
                "parameters": params,
                "requestBody": {
                    "required": True,
                    "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
                },
                "responses": {
                    "200": {"description": "the prompt as stored", **_json(prompt)},
                    **_errors(400, 401, 500),
                },
            },
            "delete": {
                "summary": "Delete an uploaded or recorded prompt",
                "description": "409 when a published IVR script plays it, or it is made from text",
                "parameters": params,
                "responses": {
                    "200": {"description": "the prompt deleted", **_json(prompt)},
                    **_errors(400, 401, 404, 409),
                },
            },
        },
        "/api/v1/prompts/{lang}/{name}/recording": {
            "post": {
                "summary": "A one-time code to record this prompt by phone",
                "description": (
                    "Dial the feature code (*800) from an agent phone, enter the six digits,"
                    " speak after the beep, press #, then 1 to keep or 2 to record again."
                    " The code works once, for 10 minutes."
                ),
                "parameters": params,
                "responses": {
                    "201": {
                        "description": "the code",
                        **_json({"$ref": "#/components/schemas/PromptRecording"}),
                    },
                    **_errors(400, 401, 409),
                },
            }
        },
    }


def _query(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, **extra}}


def _stats_paths() -> dict[str, Any]:
    snapshot = {
        "type": "object",
        "description": "today's figures (overall, per queue, per agent) and the live state",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "window": {"type": "object"},
            "overall": {"type": "object"},
            "queues": {"type": "object"},
            "agents": {"type": "object"},
            "live": {"type": "object"},
        },
    }
    return {
        "/api/v1/stats/live": {
            "get": {
                "summary": "Today's figures and the live state (callers waiting, agents by state)",
                "responses": {
                    "200": {"description": "snapshot", **_json(snapshot)},
                    **_errors(401),
                },
            }
        },
        "/api/v1/stats/definitions": {
            "get": {
                "summary": "The definition of every figure, with the configured variants",
                "responses": {"200": {"description": "definitions"}, **_errors(401)},
            }
        },
        "/api/v1/stats/feed": {
            "get": {
                "summary": "Websocket: the snapshot at once, then at every change and each second",
                "description": "token as access_token; a browser's Origin must be this server"
                " or one of http.websocket_origins (else 403)",
                "parameters": [_query("access_token")],
                "responses": {
                    "101": {"description": "websocket; text frames hold snapshots"},
                    **_errors(401, 403),
                },
            }
        },
        "/api/v1/reports": {
            "get": {
                "summary": "Figures per interval, overall or by queue or agent; CSV on request",
                "parameters": [
                    _query("start", format="date-time"),
                    _query("end", format="date-time"),
                    _query("granularity", enum=["15min", "hour", "day", "month"]),
                    _query("scope", enum=["overall", "queue", "agent"]),
                    _query("timezone"),
                    _query("format", enum=["json", "csv"]),
                ],
                "responses": {"200": {"description": "rows or CSV"}, **_errors(400, 401, 503)},
            }
        },
        **_complaint_paths(),
        "/api/v1/forecast/erlang": {
            "get": {
                "summary": "Erlang C staffing: agents and positions for a service-level target",
                "parameters": [
                    _query("calls", "number"),
                    _query("period", "number", description="seconds, default 1800"),
                    _query("aht", "number"),
                    _query("threshold", "number", description="T seconds, default 20"),
                    _query("target", "number", description="default 0.8"),
                    _query("shrinkage", "number", description="default 0"),
                    _query(
                        "sweep",
                        "integer",
                        minimum=0,
                        maximum=20,
                        description="k: add Pw, SL, ASA, occupancy for k fewer to k more agents",
                    ),
                ],
                "responses": {"200": {"description": "staffing"}, **_errors(400, 401)},
            }
        },
        "/wallboard": {
            "get": {
                "summary": "The wallboard page (public; it reads the feed with a token given in"
                " the address fragment #token=... or typed in)",
                "security": [],
                "responses": {"200": {"description": "HTML page"}},
            }
        },
        **_page_paths(),
        **users_paths(),
        **desk_paths(),
        **desk_controls_paths(),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text format): today's figures, live gauges",
                "responses": {"200": {"description": "metrics"}, **_errors(401)},
            }
        },
    }


# --- complaint rates and the report pages ---------------------------------------------------


def _complaint_paths() -> dict[str, Any]:
    rows = {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "region": {"type": "string"},
                        "complaints": {"type": "integer"},
                        "customers": {"type": "integer"},
                        "rate_per_100": {"type": ["number", "null"]},
                    },
                },
            },
            "unknown": {"type": "integer", "description": "complaint calls not placed here"},
        },
    }
    report = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "queues": {"type": "array", "items": {"type": "string"}},
            "complaint_calls": {"type": "integer"},
            "unknown_callers": {"type": "integer"},
            "definitions": {"type": "object"},
            "by_model": rows,
            "by_region": rows,
            "by_model_region": rows,
        },
    }
    return {
        "/api/v1/reports/complaints": {
            "get": {
                "summary": "Complaint rates (complaint calls per 100 customers) by product model,"
                " region, and model within region; CSV on request",
                "description": "complaint calls: calls that entered a queue of"
                " stats.complaint_queues in [start, end); the caller is matched to a customer by"
                " number; callers who are no customer count as unknown",
                "parameters": [
                    _query("start", format="date-time"),
                    _query("end", format="date-time"),
                    _query("timezone"),
                    _query("format", enum=["json", "csv"]),
                ],
                "responses": {
                    "200": {"description": "rates or CSV", **_json(report)},
                    **_errors(400, 401, 503),
                },
            }
        },
    }


def _page_paths() -> dict[str, Any]:
    def page(summary: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary + " (public; it reads the API with a token given in the"
                " address fragment #token=... or typed in)",
                "security": [],
                "responses": {"200": {"description": "HTML page"}},
            }
        }

    return {
        "/reports": page(
            "The reports page: figures per interval as a table and a chart, CSV download,"
            " complaint rates by product model and region"
        ),
        "/forecast": page("The staffing page: Erlang C agents for a service-level target"),
        "/desk": {
            "get": {
                "summary": "The agent console (public; it logs in with a name and password):"
                " state, screen-pop, call controls, notes, callbacks",
                "security": [],
                "responses": {"200": {"description": "HTML page"}},
            }
        },
    }
