"""HTTP handlers of customer records: parse, call the service, serialise (auth: middleware)."""

from __future__ import annotations

from aiohttp import web

from callcenter.customers.repository import CustomerNotFound
from callcenter.customers.schemas import contact_json, customer_json, draft_from_json
from callcenter.customers.service import CustomerService
from callcenter.errors import BadRequest
from callcenter.users.model import Role
from callcenter.web.auth import SERVICE, grant, principal_of
from callcenter.web.params import int_param, json_object

CUSTOMERS_KEY = web.AppKey("customers", CustomerService)
CSV_MAX_BYTES = 20 * 1024 * 1024


async def find_customer(request: web.Request) -> web.Response:
    """By ``phone`` (the caller ID) or ``account``; 404 when nobody matches."""
    service = request.app[CUSTOMERS_KEY]
    phone, account = request.query.get("phone"), request.query.get("account")
    if (phone is None) == (account is None):
        raise BadRequest("give exactly one of phone or account")
    found = await (
        service.by_phone(phone) if phone is not None else service.by_account(account or "")
    )
    if found is None:
        raise CustomerNotFound("no customer matches")
    return web.json_response(customer_json(found, await service.history(found.id)))


async def get_customer(request: web.Request) -> web.Response:
    service = request.app[CUSTOMERS_KEY]
    customer_id = int_param(request.match_info["customer"], "customer", None, 1, 2**62) or 0
    customer = await service.get(customer_id)
    return web.json_response(customer_json(customer, await service.history(customer_id)))


async def put_customer(request: web.Request) -> web.Response:
    """Create or replace the customer with this account number."""
    service = request.app[CUSTOMERS_KEY]
    draft = draft_from_json(request.match_info["account"], await json_object(request))
    return web.json_response(customer_json(await service.save(draft)))


async def import_customers(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > CSV_MAX_BYTES:
        raise BadRequest(f"the CSV is larger than {CSV_MAX_BYTES} bytes")
    raw = await request.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the CSV must be UTF-8") from None
    report = await request.app[CUSTOMERS_KEY].import_csv(text)
    return web.json_response(
        {"imported": report.imported, "problems": [str(p) for p in report.problems]}
    )


async def add_note(request: web.Request) -> web.Response:
    service = request.app[CUSTOMERS_KEY]
    customer_id = int_param(request.match_info["customer"], "customer", None, 1, 2**62) or 0
    body = await json_object(request)
    text, author = body.get("text"), body.get("author", "")
    if not isinstance(text, str) or not 1 <= len(text) <= 500 or not isinstance(author, str):
        raise BadRequest("text must be 1-500 characters; author a string")
    principal = principal_of(request)
    if principal is not SERVICE:
        author = principal.name  # a user writes under their own name
    contact = await service.add_note(customer_id, text, author[:64])
    return web.json_response(contact_json(contact), status=201)


def add_routes(app: web.Application) -> None:
    grant(app, app.router.add_get("/api/v1/customers", find_customer), Role.AGENT)
    app.router.add_post("/api/v1/customers/import", import_customers)
    grant(app, app.router.add_get("/api/v1/customers/{customer:[0-9]+}", get_customer), Role.AGENT)
    app.router.add_put("/api/v1/customers/by-account/{account}", put_customer)
    grant(
        app, app.router.add_post("/api/v1/customers/{customer:[0-9]+}/notes", add_note), Role.AGENT
    )
