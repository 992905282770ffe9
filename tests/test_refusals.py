"""Every refusal of a presented credential is answered by our code, so a plain ``chalice deploy`` gives it.

The authorizer never denies (API Gateway would answer a deny itself, without our SCIM body unless
a gateway response was set): it allows with a decision in the context, which API Gateway caches by
Authorization header, and every route behind it answers a refused decision 401 before anything else.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app, scim_auth
from chalicelib.auth.authorizer import ALLOWED, REFUSED, UNAVAILABLE, Decision
from devserver.gateway import emulate_gateway_responses
from tests.conftest import SCIM, Scim, Tenant
from tests.helpers import ERROR


def _authorized_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, re.sub(r"\{[^}]+\}", "some-id", path))
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if entry.authorizer is not None and path.startswith("/scim/v2")  # /admin/v1 is IAM's, not the credential's
    )


def test_only_service_provider_config_is_served_without_the_authorizer() -> None:
    unauthenticated = {
        (method, path)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if not entry.authorizer
    }
    assert {path for _, path in unauthenticated} == {"/scim/v2/ServiceProviderConfig"}
    assert len(_authorized_routes()) > 20


@pytest.mark.parametrize(("method", "path"), _authorized_routes())
def test_a_refused_credential_reaches_no_route(chalice_client: Client, tenant: Tenant, method: str, path: str) -> None:
    # Given a credential the authorizer refuses, when it is presented on any route, whatever the method
    response = Scim(chalice_client, f"Bearer {tenant.client_id}.wrong").request(
        method, path.removeprefix("/scim/v2"), {"schemas": []}
    )
    # Then our code answers 401 with a challenge, no-store and a SCIM body
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"] == 'Basic realm="SCIM", Bearer realm="SCIM"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == SCIM
    assert response.json == {
        "schemas": [ERROR],
        "status": "401",
        "detail": "The credentials are invalid or have been revoked",
    }


def _authorize(token: str) -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": token, "methodArn": "arn:aws:execute-api:us-east-1:1:a/api/GET/x"}
    decision: dict[str, Any] = scim_auth(event, None)
    return decision


def test_the_authorizer_never_denies_and_says_refused_in_its_context(tenant: Tenant) -> None:
    for token in (f"Bearer {tenant.client_id}.wrong", "Basic !!!", "Digest x", tenant.authorization):
        decision = _authorize(token)
        (statement,) = decision["policyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert all(isinstance(value, str) for value in decision["context"].values())  # as AWS passes them
    assert _authorize("Basic !!!")["context"]["outcome"] == REFUSED
    assert _authorize(tenant.authorization)["context"] == {
        "outcome": ALLOWED,
        "tenant": tenant.name,
        "client_id": tenant.client_id,
    }


@pytest.mark.parametrize(
    ("context", "outcome"),
    [
        ({"outcome": "allowed", "tenant": "acme", "client_id": "scim-1"}, ALLOWED),
        ({"outcome": "allowed", "tenant": "", "client_id": "scim-1"}, REFUSED),
        ({"outcome": "allowed", "client_id": "scim-1"}, REFUSED),
        ({"tenant": "acme", "client_id": "scim-1"}, REFUSED),  # no outcome: not ours, refused
        ({"outcome": "refused", "tenant": "acme", "client_id": "scim-1"}, REFUSED),
        ({"outcome": "unavailable"}, UNAVAILABLE),
        ({"outcome": "Allowed", "tenant": "acme", "client_id": "scim-1"}, REFUSED),
        ({}, REFUSED),
        (None, REFUSED),
    ],
)
def test_the_routes_serve_only_a_complete_allow(context: dict[str, str] | None, outcome: str) -> None:
    assert Decision.from_context(context).outcome == outcome


@pytest.fixture
def plain_chalice_deploy(chalice_client: Client) -> Iterator[None]:
    """Answer as API Gateway does when ``make deploy``'s gateway responses were never applied."""
    emulate_gateway_responses(applied=False)
    yield
    emulate_gateway_responses(applied=True)


def test_after_a_plain_chalice_deploy_only_the_two_gateway_answers_lack_a_scim_body(
    plain_chalice_deploy: None, chalice_client: Client, tenant: Tenant, anonymous: Scim
) -> None:
    # No Authorization header: API Gateway's own 401, without a challenge
    missing = anonymous.get("/Users")
    assert (missing.status_code, missing.json) == (401, {"message": "Unauthorized"})
    assert "WWW-Authenticate" not in missing.headers
    # A path no route serves: API Gateway's own 403
    unknown = Scim(chalice_client, tenant.authorization).get("/Nope")
    assert (unknown.status_code, unknown.json) == (403, {"message": "Missing Authentication Token"})
    # A refused credential: still ours, whatever was applied
    refused = Scim(chalice_client, f"Bearer {tenant.client_id}.wrong").get("/Users")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="SCIM", Bearer realm="SCIM"'
    assert refused.json["schemas"] == [ERROR]
