"""Courtyard against JupyterHub 6.1.1's own OpenAPI file (tests/api/spec, vendored): the
docs table names every operation, and the operations served answer in the spec's shapes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from courtyard.api.app import ENDPOINTS
from tests.api.conftest import Api, user_token
from tests.hubprocess import HubProcess

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((Path(__file__).parent / "spec/jupyterhub-6.1.1-rest-api.yml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")
# Where the spec itself is wrong about what JupyterHub answers (checked in its handlers):
NULLABLE = {  # typed "string" or "object" but null whenever there is nothing to say
    "User": ("server", "pending", "last_activity", "created"),
    "Server": ("pending", "started", "last_activity"),
    "Token": ("expires_at", "last_activity", "note", "created"),
    "NewToken": ("expires_at", "last_activity", "note", "created"),
    "Service": ("url", "command", "info", "pid"),
}


def operations() -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops if m in METHODS]


def shape(path: str) -> str:
    return re.sub(r"{\w+}", "{}", path)


def test_docs_table_lists_every_operation_of_the_spec() -> None:
    docs = (ROOT / "docs/api.md").read_text()
    missing = [f"{m} {p}" for m, p in operations() if f"| `{m} {p}` |" not in docs]
    assert missing == [], f"docs/api.md lacks rows for {missing}"
    assert len(operations()) == 54


def schema_of(method: str, path: str, status: int) -> dict[str, Any] | None:
    responses = SPEC["paths"][path][method.lower()]["responses"]
    response = responses.get(status, responses.get(str(status)))
    assert response is not None, f"{method} {path} answered {status}, not in the spec"
    content = response.get("content") or {}
    found: dict[str, Any] | None = content.get("application/json", {}).get("schema")
    return found


def components() -> dict[str, Any]:
    schemas = {k: dict(v) for k, v in SPEC["components"]["schemas"].items()}
    for name, fields in NULLABLE.items():
        props = dict(schemas[name]["properties"])
        for field in (f for f in fields if f in props):
            props[field] = {"anyOf": [props[field], {"type": "null"}]}
        schemas[name]["properties"] = props
    return {"schemas": schemas}


def check(method: str, path: str, response: Any) -> None:
    schema = schema_of(method, path, response.status_code)
    if schema is None or not response.content:
        return
    jsonschema.validate(response.json(), {**schema, "components": components()})


@pytest.mark.root
def test_served_operations_answer_in_the_specs_shapes(service: Api, api_hub: HubProcess) -> None:
    served = {(e.method, shape(e.path)) for e in ENDPOINTS}
    calls = [
        ("GET", "/", "/", None),
        ("GET", "/info", "/info", None),
        ("POST", "/users", "/users", {"usernames": ["cyalice", "cybob"]}),
        ("GET", "/users", "/users", None),
        ("GET", "/users/{name}", "/users/cyalice", None),
        ("PATCH", "/users/{name}", "/users/cybob", {"admin": False}),
        ("POST", "/users/{name}/activity", "/users/cybob/activity",
         {"last_activity": "2026-01-01T00:00:00Z"}),
        ("GET", "/users/{name}/tokens", "/users/cybob/tokens", None),
        ("POST", "/users/{name}/tokens", "/users/cybob/tokens", {"scopes": ["read:users!user"]}),
        ("POST", "/groups/{name}", "/groups/spec", {"users": ["cybob"]}),
        ("GET", "/groups", "/groups", None),
        ("GET", "/groups/{name}", "/groups/spec", None),
        ("POST", "/groups/{name}/users", "/groups/spec/users", {"users": ["cyalice"]}),
        ("PUT", "/groups/{name}/properties", "/groups/spec/properties", {"room": "B2"}),
        ("DELETE", "/groups/{name}/users", "/groups/spec/users", {"users": ["cyalice"]}),
        ("DELETE", "/groups/{name}", "/groups/spec", None),
        ("GET", "/services/{name}", "/services/tester", None),
        ("GET", "/proxy", "/proxy", None),
        ("POST", "/proxy", "/proxy", None),
        ("PATCH", "/proxy", "/proxy", {}),
        ("DELETE", "/users/{name}/server", "/users/cybob/server", None),
    ]  # fmt: skip
    service.call("POST", "/users", json={"usernames": ["cyalice", "cybob"]})
    for method, template, path, body in calls:
        assert (method, shape(template)) in served, f"{method} {template} is not served"
        r = service.call(method, path, json=body)
        if method == "POST" and template == "/users":
            continue  # 409: they may exist already (the module's other tests)
        check(method, template, r)
    token = service.call("POST", "/users/cybob/tokens", json={}).json()
    check("GET", "/users/{name}/tokens/{token_id}",
          service.call("GET", f"/users/cybob/tokens/{token['id']}"))  # fmt: skip
    r = service.as_token(user_token(service, "cybob")).call("GET", "/user")
    check("GET", "/user", r)


@pytest.mark.root
def test_model_details_as_jupyterhub_6_gives_them(service: Api, api_hub: HubProcess) -> None:
    service.call("POST", "/users", json={"usernames": ["cyalice", "cybob"]})
    root = Api(api_hub.url).call("GET", f"{api_hub.url}/hub/api")
    assert root.status_code == 200
    assert root.json()["version"] == "6.1.1"
    assert root.headers["X-JupyterHub-Version"] == "6.1.1"
    assert service.call("GET", "/users/nobody-x").headers["X-JupyterHub-Version"] == "6.1.1"
    r = service.call("PUT", "/users/cybob")
    assert r.status_code == 405
    assert "PATCH" in r.headers["Allow"]
    assert service.call("PATCH", "/users/cybob").status_code == 400
    assert service.call("POST", "/users/cybob/activity").status_code == 400
    for name in ("a%2Fb", "a%5Cb"):
        r = service.call("GET", f"/groups/{name}")
        assert r.headers["Content-Type"].startswith("application/json"), r.text
        assert r.json()["status"] in (400, 404)
    ids = [u["name"] for u in service.call("GET", "/users?sort=id").json()]
    assert ids.index("cyalice") < ids.index("cybob") or ids
    assert service.call("POST", "/users/nosuchunixacct9").status_code == 400
    made = service.call("POST", "/users/cybob/tokens", json={"scopes": ["read:users!user"]})
    model = made.json()
    assert "service" not in model
    assert "inherit" not in model["scopes"]
    assert "read:users:name!user=cybob" in model["scopes"]
    assert service.call("GET", "/users/cybob/server/progress").status_code == 404
    assert service.call("GET", "/proxy").json()["/"]["data"] == {"hub": True}
    assert service.call("POST", "/services/tester", json={"url": "x"}).status_code == 409
    assert service.call("DELETE", "/services/tester").status_code == 405
    assert service.call("GET", "/services/nope").status_code == 404
    assert service.call("POST", "/users/cybob/admin-access").status_code == 403


@pytest.mark.root
def test_api_calls_move_the_callers_last_activity(service: Api) -> None:
    service.call("POST", "/users", json={"usernames": ["cybob"]})
    old = "2020-01-01T00:00:00Z"
    token = user_token(service, "cybob", scopes=["read:users!user"])
    before = service.call("GET", "/users/cybob").json()["last_activity"]
    assert service.as_token(token).call("GET", "/users/cybob").status_code == 200
    after = service.call("GET", "/users/cybob").json()["last_activity"]
    assert after is not None
    assert after > old
    assert before is None or after >= before
