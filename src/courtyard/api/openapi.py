"""The OpenAPI 3 document of what Courtyard serves under /hub/api, built from the route
table so the two cannot drift apart (a test walks the live router against it)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from courtyard import __version__
from courtyard.auth.scopes import SCOPES

REASONS = {
    200: "OK", 201: "Created", 202: "Accepted (still in progress)", 204: "No content",
    302: "Redirect (to the login page, or back to the OAuth client)", 400: "Bad request",
    401: "Client authentication failed", 403: "Not allowed with the caller's scopes",
    404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Body too large",
}  # fmt: skip
ERROR = {"$ref": "#/components/schemas/Error"}


class Described(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def statuses(self) -> tuple[int, ...]: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...


def operation(endpoint: Described) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in endpoint.statuses:
        entry: dict[str, Any] = {"description": REASONS[status]}
        if status >= 400:
            entry["content"] = {"application/json": {"schema": ERROR}}
        responses[str(status)] = entry
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    op: dict[str, Any] = {"summary": endpoint.summary, "responses": responses}
    if params:
        op["parameters"] = params
    if endpoint.scopes:
        op["security"] = [{"oauth2": list(endpoint.scopes)}]
    return op


def openapi_document(endpoints: Iterable[Described], prefix: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}
        }
    }
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Courtyard (JupyterHub-compatible API)", "version": __version__},
        "servers": [{"url": prefix}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
                }
            },
            "securitySchemes": {
                "token": {"type": "apiKey", "name": "Authorization", "in": "header"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {"implicit": {"authorizationUrl": "/hub/api/oauth2/authorize",
                              "scopes": {k: v[0] for k, v in SCOPES.items()}}},
                },
            },
        },
        "security": [{"token": []}],
    }  # fmt: skip
