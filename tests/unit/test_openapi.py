"""The OpenAPI document describes every route the application serves, and only those."""

from __future__ import annotations

from unittest.mock import sentinel

from callcenter.web.app import build_web_app
from callcenter.web.openapi import document


def test_every_route_is_documented() -> None:
    app = build_web_app(
        ["x" * 16],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        prompts=sentinel.prompts,
        stats=(sentinel.stats, sentinel.stats_log),
        voicemail=(sentinel.voicemail, sentinel.voicemail_feed),
        users=sentinel.users,
        desk=sentinel.desk,
        fax=sentinel.fax,
        desk_controls=sentinel.desk_controls,
    )
    served = {
        (resource.canonical, route.method.lower())
        for resource in app.router.resources()
        for route in resource
        if route.method != "HEAD"
    }
    described = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert served == described | {("/openapi.json", "get")}
