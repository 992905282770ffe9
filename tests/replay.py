"""Replay an identity provider's documented SCIM conversation, one fixture file per request/response, in order.

A fixture is ``tests/fixtures/idp/<idp>/NN_<step>.json``::

    {"source": "<the vendor document the request is taken from>",
     "request": {"method": "GET", "path": "/Users?filter=userName eq \\"x\\"", "headers": {...}, "body": {...}},
     "expect": {"status": 200, "body_contains": {...}, "body_absent": ["members"], "body_empty": ["groups"],
                "capture": {"user_id": "Resources/0/id"}, "headers_present": ["ETag"], "stable_order": true}}

``path`` is relative to ``/scim/v2``; its query string is written unencoded, as the vendor
documents it, and encoded here. ``{name}`` in the path, headers or body is filled from
earlier captures and from the tenant's credential (``{client_id}``, ``{client_secret}``,
``{basic_credentials}``). Attribute paths in ``capture`` and ``body_absent`` are separated
by ``/`` (schema URNs contain dots). ``body_contains`` is a subset match: objects by key, lists
of the same length whose elements each match a different element, in any order. ``body_empty``
lists multi-valued attributes that must be absent or ``[]``.

Every response is also held to what every IdP relies on: SCIM content type; no JSON null
anywhere (an empty multi-valued attribute is absent or ``[]``); ListResponse counters are JSON
integers; errors carry ``status`` as a string and a 409 carries ``scimType: uniqueness``; a
resource's ETag is its ``meta.version``; a password never comes back. ``stable_order`` pages
through the same query one and two at a time and expects the order of the full page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chalice.test import Client

from tests.conftest import Tenant
from tests.helpers import ERROR, LIST_RESPONSE

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "idp"
SCIM_ROOT = "/scim/v2"
SCIM_MEDIA_TYPE = "application/scim+json"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_REQUEST_KEYS = {"method", "path", "headers", "body"}
_EXPECT_KEYS = {"status", "body_contains", "body_absent", "body_empty", "capture", "headers_present", "stable_order"}


@dataclass(frozen=True)
class Step:
    """One request of an IdP and what its response must show."""

    name: str
    source: str
    request: dict[str, Any]
    expect: dict[str, Any]


@dataclass
class Exchange:
    """A request as sent, and its response."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any


def load(idp: str) -> list[Step]:
    """The IdP's fixtures, in file-name order; a malformed fixture fails here, naming the file."""
    steps = []
    for file in sorted((FIXTURES / idp).glob("[0-9][0-9]_*.json")):
        fixture = json.loads(file.read_text())
        assert isinstance(fixture.get("source"), str) and fixture["source"], f"{file.name}: no source"
        assert set(fixture["request"]) <= _REQUEST_KEYS, f"{file.name}: request keys {set(fixture['request'])}"
        assert set(fixture["expect"]) <= _EXPECT_KEYS, f"{file.name}: expect keys {set(fixture['expect'])}"
        assert isinstance(fixture["expect"].get("status"), int), f"{file.name}: no expected status"
        steps.append(Step(f"{idp}/{file.name}", fixture["source"], fixture["request"], fixture["expect"]))
    assert steps, f"no fixtures for {idp}"
    return steps


class Replayer:
    """Sends an IdP's requests through the Chalice test client, as one tenant, keeping what they capture."""

    def __init__(self, client: Client, tenant: Tenant) -> None:
        self.client = client
        self.context: dict[str, str] = {
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "basic_credentials": tenant.authorization.removeprefix("Basic "),
        }
        self.exchanges: list[Exchange] = []

    def replay(self, steps: list[Step]) -> list[Exchange]:
        for step in steps:
            self.run(step)
        return self.exchanges

    def run(self, step: Step) -> Exchange:
        request = self.fill(step.request)
        exchange = self.send(request["method"], request["path"], request.get("headers", {}), request.get("body"))
        self.exchanges.append(exchange)
        where = f"{step.name} ({step.source}): {exchange.method} {exchange.path} -> {exchange.status} {exchange.body}"
        expect = step.expect
        assert exchange.status == expect["status"], where
        check_response(exchange, where)
        if "body_contains" in expect:
            assert_contains(exchange.body, self.fill(expect["body_contains"]), where)
        for path in expect.get("body_absent", []):
            assert lookup(exchange.body, path) is _MISSING, f"{where}: {path} is present"
        for path in expect.get("body_empty", []):
            assert lookup(exchange.body, path) in (_MISSING, []), f"{where}: {path} is not empty"
        for name, path in expect.get("capture", {}).items():
            value = lookup(exchange.body, path)
            assert isinstance(value, str), f"{where}: nothing to capture at {path}"
            self.context[name] = value
        for header in expect.get("headers_present", []):
            assert exchange.headers.get(header), f"{where}: no {header} header"
        if expect.get("stable_order"):
            self.check_stable_order(request, exchange, where)
        return exchange

    def send(self, method: str, path: str, headers: dict[str, str], body: Any) -> Exchange:
        payload = b"" if body is None else json.dumps(body).encode()
        response = self.client.http.request(method, SCIM_ROOT + encode(path), headers=headers, body=payload)
        parsed = json.loads(response.body) if response.body else None
        return Exchange(method, path, response.status_code, dict(response.headers), parsed)

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(self.placeholder, value)
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            return {self.fill(key): self.fill(item) for key, item in value.items()}
        return value

    def placeholder(self, match: re.Match[str]) -> str:
        assert match.group(1) in self.context, f"{match.group(0)} is neither captured yet nor a credential"
        return self.context[match.group(1)]

    def check_stable_order(self, request: dict[str, Any], full: Exchange, where: str) -> None:
        """Okta: the same order whatever ``startIndex`` and ``count`` (RFC 7644 §3.4.2.4)."""
        ids = [resource["id"] for resource in full.body["Resources"]]
        assert len(ids) >= 2, f"{where}: stable_order needs at least two resources"
        base = re.sub(r"[?&](startIndex|count)=\d+", "", request["path"])
        separator = "&" if "?" in base else "?"
        for size in (1, 2):
            paged: list[str] = []
            for start in range(1, len(ids) + 1, size):
                page = self.send("GET", f"{base}{separator}startIndex={start}&count={size}", request["headers"], None)
                check_response(page, where)
                assert page.body["startIndex"] == start, where
                paged += [resource["id"] for resource in page.body["Resources"]]
            assert paged == ids, f"{where}: pages of {size} give {paged}, the full page {ids}"


def replay(client: Client, tenant: Tenant, idp: str) -> Replayer:
    """Replay every fixture of ``idp`` in order; the replayer keeps the captures and exchanges."""
    replayer = Replayer(client, tenant)
    replayer.replay(load(idp))
    return replayer


def encode(path: str) -> str:
    """Percent-encode a documented query string (``filter=userName eq "x"``) as an HTTP client would."""
    route, _, query = path.partition("?")
    if not query:
        return route
    pairs = (pair.partition("=") for pair in query.split("&"))
    return route + "?" + "&".join(f"{quote(name)}={quote(value, safe='')}" for name, _, value in pairs)


def check_response(exchange: Exchange, where: str) -> None:
    """What every IdP relies on in every response."""
    body = exchange.body
    if exchange.status in (204, 304):
        assert body is None, f"{where}: a {exchange.status} has a body"
        return
    assert exchange.headers.get("Content-Type") == SCIM_MEDIA_TYPE, where
    assert isinstance(body, dict), where
    nulls = list(null_paths(body))
    assert not nulls, f"{where}: JSON null at {nulls}"
    assert not any(key.lower() == "password" for key in keys(body)), f"{where}: a password came back"
    schemas = body.get("schemas", [])
    if LIST_RESPONSE in schemas:
        for counter in ("totalResults", "startIndex", "itemsPerPage"):
            assert type(body[counter]) is int, f"{where}: {counter} is not a JSON integer"
        assert isinstance(body.get("Resources", []), list), where
    elif ERROR in schemas:
        assert body["status"] == str(exchange.status), where
        if exchange.status == 409:
            assert body.get("scimType") == "uniqueness", f"{where}: a 409 without scimType uniqueness"
    elif "version" in body.get("meta", {}):
        assert exchange.headers.get("ETag") == body["meta"]["version"], where


def assert_contains(actual: Any, expected: Any, where: str, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {path or 'body'} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}: {path}/{key} is missing"
            assert_contains(actual[key], value, where, f"{path}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {path} is {actual}"
        unmatched = list(actual)
        for wanted in expected:
            match = next((item for item in unmatched if _contains(item, wanted)), _MISSING)
            assert match is not _MISSING, f"{where}: {path} has no element like {wanted}: {actual}"
            unmatched.remove(match)
    else:
        assert type(actual) is type(expected) and actual == expected, f"{where}: {path} is {actual!r}, not {expected!r}"


def _contains(actual: Any, expected: Any) -> bool:
    try:
        assert_contains(actual, expected, "")
    except AssertionError:
        return False
    return True


class _Missing:
    pass


_MISSING = _Missing()


def lookup(body: Any, path: str) -> Any:
    """The value at a ``/``-separated path (list indexes are numbers), or ``_MISSING``."""
    value = body
    for part in path.split("/"):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def null_paths(value: Any, path: str = "") -> Any:
    if value is None:
        yield path or "/"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from null_paths(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from null_paths(item, f"{path}/{index}")


def keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)
