"""Issue #14's findings, each replayed with the request that showed it: bounded parsing, echoed values cut
short, cursors sealed to their tenant, locations never from the client's Host, tenant names, the cost of an
unknown client ID, and error details in SCIM's words."""

import json
from typing import Any

import pytest
from chalice.app import Request
from chalice.test import Client

from chalicelib.auth import credentials as auth_credentials
from chalicelib.auth.credentials import REQUIRED_TO_GENERATE, hash_secret
from chalicelib.config import settings
from chalicelib.scim.adapter import scim_api
from chalicelib.scim.wording import MAX_DETAIL
from chalicelib.store.credentials import CredentialStore, ServiceAccount, StoredCredential
from tests.conftest import DynamoCalls, Scim, Tenant, user_body
from tests.helpers import CORE_GROUP, ENTERPRISE_USER, SEARCH_REQUEST, patch_body


def assert_error(response: Any, status: int, scim_type: str | None, *words: str) -> None:
    assert response.status_code == status, response.body
    assert response.json["status"] == str(status)
    assert response.json.get("scimType") == scim_type, response.json
    for word in words:
        assert word in response.json["detail"], response.json


@pytest.fixture
def user_id(scim: Scim) -> str:
    return str(scim.post("/Users", user_body("uniq@x.com")).json["id"])


# -- 1. Everything parsed at a cost that grows with the input is bounded before it is parsed ----------


def test_a_960_kb_patch_path_is_refused_before_it_is_parsed(scim: Scim, user_id: str) -> None:
    """It answered 200 after 43.5 s."""
    path = "emails[" + "(" * 480_000 + "value pr" + ")" * 480_000 + "].value"

    response = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": path, "value": "x@x.com"}))

    assert_error(response, 400, "invalidPath", "The PATCH path exceeds 2048 characters")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("emails[" + "(" * 33 + "value pr" + ")" * 33 + "].value", "The PATCH path nests deeper than 32 levels"),
        ("emails[" + " and ".join(["value pr"] * 101) + "].value", "The PATCH path has more than 100 terms"),
    ],
    ids=["deep", "many-terms"],
)
def test_a_patch_path_over_the_depth_or_term_limit_is_refused(scim: Scim, user_id: str, path: str, words: str) -> None:
    response = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": path, "value": "x@x.com"}))

    assert_error(response, 400, "invalidPath", words)


def test_a_patch_path_within_the_limits_still_works(scim: Scim, user_id: str) -> None:
    path = "emails[" + "(" * 30 + 'type eq "work"' + ")" * 30 + "].value"

    response = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": path, "value": "new@x.com"}))

    assert response.status_code == 200, response.body
    assert response.json["emails"][0]["value"] == "new@x.com"


def test_a_value_path_inside_a_patch_value_is_bounded_like_a_path(scim: Scim, user_id: str) -> None:
    key = "emails[" + "(" * 40_000 + "value pr" + ")" * 40_000 + "].value"

    response = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "value": {key: "x@x.com"}}))

    assert_error(response, 400, "invalidPath", "An attribute name in a PATCH value exceeds 2048 characters")


def test_more_patch_operations_than_announced_are_refused(scim: Scim, user_id: str) -> None:
    operations = [{"op": "replace", "path": "title", "value": f"t{n}"} for n in range(1001)]

    response = scim.patch(f"/Users/{user_id}", patch_body(*operations))

    assert_error(response, 400, "tooMany", "at most 1000 operations", "this one has 1001")
    assert "title" not in scim.get(f"/Users/{user_id}").json


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"attributes": "a" * 3000}, "attributes exceeds 2048 characters"),
        ({"excludedAttributes": ",".join(["title"] * 101)}, "excludedAttributes lists more than 100 attributes"),
        ({"sortBy": "a" * 3000}, "sortBy exceeds 2048 characters"),
        ({"filter": " and ".join(["userName pr"] * 101)}, "The filter has more than 100 terms"),
    ],
    ids=["attributes", "excludedAttributes", "sortBy", "filter-terms"],
)
def test_list_parameters_over_a_limit_are_refused(scim: Scim, query: dict[str, str], words: str) -> None:
    response = scim.get("/Users", query=query)

    scim_type = "invalidFilter" if "filter" in query else "invalidPath"
    assert_error(response, 400, scim_type, words)


def test_the_same_limits_hold_in_a_search_body_and_on_a_single_resource(scim: Scim, user_id: str) -> None:
    body = {"schemas": [SEARCH_REQUEST], "attributes": ["title"] * 101}
    assert_error(scim.post("/Users/.search", body), 400, "invalidPath", "attributes lists more than 100")
    assert_error(
        scim.get(f"/Users/{user_id}", query={"attributes": "a" * 3000}), 400, "invalidPath", "exceeds 2048 characters"
    )


# -- 5. Echoed client values are cut short, in details and in log lines ------------------------------


def test_an_unknown_huge_id_answers_a_small_404_and_logs_a_short_line(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    """It answered a 60,108-byte 404, and logged the same."""
    capsys.readouterr()

    response = scim.get("/Users/" + "a" * 60_000)

    assert response.status_code == 404
    assert len(response.body) < 600
    assert "a" * 128 + "…" in response.json["detail"]
    logged = [line for line in capsys.readouterr().out.splitlines() if '"scim.request"' in line]
    assert logged and all(len(line) < 2000 and "a" * 129 not in line for line in logged)


def test_a_group_patch_naming_huge_unknown_members_answers_a_small_400(scim: Scim) -> None:
    """15 member ids of ~50 KB each answered a 500,218-byte 400."""
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance"}).json
    members = [{"value": f"{n}" + "m" * 50_000} for n in range(15)]

    response = scim.patch(f"/Groups/{group['id']}", patch_body({"op": "add", "path": "members", "value": members}))

    assert response.status_code == 400
    assert len(response.body) <= MAX_DETAIL + 200
    assert "…" in response.json["detail"]


# -- 4. A cursor serves only the tenant it was issued to -----------------------------------------------


def test_another_tenant_s_cursor_is_an_invalid_cursor(scim: Scim, other_scim: Scim) -> None:
    """Tenant B replaying tenant A's nextCursor got B's users after A's position."""
    for n in range(3):
        scim.post("/Users", user_body(f"a{n}@x.com"))
        other_scim.post("/Users", user_body(f"b{n}@x.com"))
    cursor = scim.get("/Users", query={"cursor": "", "count": "1"}).json["nextCursor"]

    response = other_scim.get("/Users", query={"cursor": cursor, "count": "1"})

    assert_error(response, 400, "invalidCursor")
    assert scim.get("/Users", query={"cursor": cursor, "count": "1"}).status_code == 200


# -- 7. Location and meta.location never come from the client's Host on a deployed stage ---------------


def test_location_comes_from_the_configured_base_url_not_the_host_header(
    chalice_client: Client, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Host: evil.example`` gave ``Location: https://evil.example/scim/v2/Users/<id>``."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://scim.example.com/scim/v2/")
    scim = Scim(chalice_client, tenant.authorization)

    response = scim.post("/Users", user_body(), headers={"Host": "evil.example", "X-Forwarded-Proto": "https"})

    assert response.status_code == 201
    assert response.headers["Location"] == f"https://scim.example.com/scim/v2/Users/{response.json['id']}"
    assert response.json["meta"]["location"] == response.headers["Location"]


def _request(host: str, context: dict[str, Any]) -> Request:
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": {"host": host, "x-forwarded-proto": "https"},
            "pathParameters": {},
            "requestContext": {"httpMethod": "GET", "resourcePath": "/scim/v2/Users", **context},
            "httpMethod": "GET",
            "body": None,
            "isBase64Encoded": False,
            "stageVariables": None,
        }
    )


def test_without_a_configured_url_a_deployed_stage_uses_api_gateway_s_domain_not_the_host(aws: None) -> None:
    request = _request(
        "evil.example", {"domainName": "abc123.execute-api.us-east-1.amazonaws.com", "path": "/api/scim/v2/Users"}
    )

    scim_request = scim_api().read_request(request)

    assert scim_request.base_url == "https://abc123.execute-api.us-east-1.amazonaws.com/api/scim/v2"


def test_make_run_without_api_gateway_builds_the_url_from_the_request(aws: None) -> None:
    scim_request = scim_api().read_request(_request("127.0.0.1:8000", {"path": "/scim/v2/Users"}))

    assert scim_request.base_url == "https://127.0.0.1:8000/scim/v2"


# -- 8. Tenant names, and a principal whose tenant is not one ------------------------------------------


def test_a_credential_of_a_tenant_with_an_invalid_name_is_refused_not_a_500(
    chalice_client: Client, credential_store: CredentialStore
) -> None:
    """A credential for tenant '' made GET /Users a 500."""
    secret = "s" * 43
    credential_store.put_service_account(ServiceAccount("", "account-1", "SCIM", REQUIRED_TO_GENERATE))
    credential_store.insert_active_credential(
        StoredCredential(
            "scim-badtenant", "", "account-1", "x", hash_secret(settings().credential_hash_key, secret), "now", None
        )
    )

    response = Scim(chalice_client, f"Bearer scim-badtenant.{secret}").get("/Users")

    assert response.status_code == 401


# -- 9. An unknown client ID costs what a known one with a wrong secret costs ---------------------------


def test_an_unknown_client_id_does_the_same_work_as_a_wrong_secret(
    chalice_client: Client, tenant: Tenant, dynamo_calls: DynamoCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known ID, wrong secret: p50 8.78 ms; unknown ID: 7.56 ms (the item read and parsed, or not)."""
    hashed: list[str] = []
    original = auth_credentials.hash_secret
    monkeypatch.setattr(
        auth_credentials, "hash_secret", lambda key, secret: hashed.append(secret) or original(key, secret)
    )
    # The first refusal of an existing credential in a minute also adds to its refusal count (one
    # UpdateItem a minute, chalicelib.auth.usage); compared here is every other attempt.
    assert Scim(chalice_client, f"Bearer {tenant.client_id}.wrong-secret").get("/Users").status_code == 401
    work = []
    for client_id in (tenant.client_id, "scim-000000000000000000000000"):
        dynamo_calls.reset()
        hashed.clear()
        assert Scim(chalice_client, f"Bearer {client_id}.wrong-secret").get("/Users").status_code == 401
        work.append(([(name, params.get("ProjectionExpression")) for name, params in dynamo_calls.calls], list(hashed)))

    assert work[0] == work[1] == ([("GetItem", None)], ["wrong-secret"])


# -- 10. Details name SCIM attributes, never Python classes or pydantic fields ------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "said", "never"),
    [
        (
            "PATCH",
            "/Users/{id}",
            patch_body({"op": "replace", "path": f"{ENTERPRISE_USER}:manager", "value": 5}),
            None,
            "Input should be an object: manager",
            "instance of",
        ),
        ("POST", "/Users/.search", {"filter": 5}, None, "Expected a string, got a number: filter", "ScimFilter"),
        ("POST", "/Users/.search", {"sortBy": [1]}, None, "Expected a string, got an array: sortBy", "Path"),
        (
            "GET",
            "/Users",
            None,
            {"attributes": "userName", "excludedAttributes": "name"},
            "'attributes' and 'excludedAttributes' are mutually exclusive",
            "excluded_attributes",
        ),
        (
            "PATCH",
            "/Users/{id}",
            patch_body({"op": "replace", "path": "emails", "value": [5]}),
            None,
            "Input should be an object: emails[0]",
            "VerbatimEmail",
        ),
    ],
    ids=["manager", "filter", "sortBy", "attributes", "emails"],
)
def test_error_details_name_scim_attributes_not_python_classes(
    scim: Scim, user_id: str, method: str, path: str, body: Any, query: Any, said: str, never: str
) -> None:
    response = scim.request(method, path.format(id=user_id), body, query=query)

    assert response.status_code == 400, response.body
    assert said in response.json["detail"]
    assert never not in response.json["detail"]
    assert "Value error" not in response.json["detail"]


def test_a_detail_is_bounded_whatever_it_quotes() -> None:
    from chalicelib.scim.wording import client_detail

    detail = client_detail("Unknown attribute '" + "x" * 10_000 + "': check " + "y " * 5_000)

    assert detail is not None and len(detail) <= MAX_DETAIL + 1
    assert detail.startswith("Unknown attribute '" + "x" * 128 + "…'")
    assert json.dumps(detail)
