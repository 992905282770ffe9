"""The management API (/admin/v1) as the One Model platform calls it: JSON in and out, IAM on AWS."""

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from admin.__main__ import main
from tests.conftest import PROJECT_DIR, Scim, Tenant, user_body

ADMIN = "/admin/v1"
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/onemodel-platform/session"


class Admin:
    """A management client over chalice.test.Client (which admits IAM routes without SigV4, as chalice local does)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        response = self.client.http.request(
            method, ADMIN + path, headers={"Content-Type": "application/json", **(headers or {})}, body=payload
        )
        response.json = json.loads(response.body) if response.body else None
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def admin(chalice_client: Client) -> Admin:
    return Admin(chalice_client)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def lambda_event(
    method: str, path: str, resource: str, user_arn: str | None, headers: dict[str, str]
) -> dict[str, Any]:
    """The event API Gateway (REST, Lambda proxy) gives the API handler; IAM authorization fills identity.userArn."""
    parameters = dict(zip(resource.strip("/").split("/"), path.strip("/").split("/"), strict=True))
    path_parameters = {k[1:-1]: v for k, v in parameters.items() if k.startswith("{")}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": "/api" + path,
            "requestId": "test-request",
            "identity": {"sourceIp": "203.0.113.9", "userArn": user_arn},
        },
        "body": None,
        "isBase64Encoded": False,
    }


class LambdaContext:
    function_name = "onemodel-scim-test"
    memory_limit_in_mb = 512
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


@pytest.fixture
def in_lambda(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app as Lambda runs it: AWS_LAMBDA_FUNCTION_NAME set, events straight from API Gateway."""
    from app import app

    def invoke(method: str, path: str, resource: str, user_arn: str | None, headers: dict[str, str]) -> Any:
        with monkeypatch.context() as lambda_environment:
            lambda_environment.setenv("AWS_LAMBDA_FUNCTION_NAME", "onemodel-scim-test")
            response = app(lambda_event(method, path, resource, user_arn, headers), LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    yield invoke


def test_a_credential_generated_listed_used_and_revoked_through_the_api(admin: Admin, chalice_client: Client) -> None:
    created = admin.post("/tenants", {"tenant": "initech", "actor": "om-admin-7"})
    assert created.status_code == 201
    assert created.json["tenant"] == "initech" and "CanProvisionUsersAsSCIM" in created.json["permissions"]
    assert admin.post("/tenants", {"tenant": "initech", "actor": "om-admin-7"}).json["code"] == "tenant_exists"

    issued = admin.post("/tenants/initech/credentials", {"description": "Okta", "actor": "om-admin-7"})
    assert issued.status_code == 201
    client_id, secret = issued.json["clientId"], issued.json["clientSecret"]
    assert issued.json["bearerToken"] == f"{client_id}.{secret}"
    idp = Scim(chalice_client, basic(client_id, secret))
    assert idp.get("/Users").status_code == 200

    again = admin.post("/tenants/initech/credentials", {"actor": "om-admin-7"})
    assert (again.status_code, again.json["code"]) == (409, "active_credential_exists")

    listed = admin.get("/tenants/initech/credentials")
    assert listed.status_code == 200
    assert [(c["clientId"], c["state"], c["description"]) for c in listed.json["credentials"]] == [
        (client_id, "active", "Okta")
    ]
    assert secret not in listed.body.decode()

    revoked = admin.delete(f"/tenants/initech/credentials/{client_id}?actor=om-admin-7")
    assert (revoked.status_code, revoked.json["state"]) == (200, "revoked")
    assert idp.get("/Users").status_code == 401
    assert admin.delete(f"/tenants/initech/credentials/{client_id}?actor=x").json["code"] == "credential_revoked"

    trail = admin.get("/tenants/initech/activity").json["entries"]
    assert [(e["operation"], e["resource_type"], e["actor"]) for e in trail[:3]] == [
        ("revoke", "Credential", "om-admin-7"),
        ("create", "Credential", "om-admin-7"),
        ("create", "Tenant", "om-admin-7"),
    ]
    assert all(e["principal"] == "local" for e in trail[:3])
    assert secret not in json.dumps(trail)


def test_another_tenants_credential_is_not_found(admin: Admin, tenant: Tenant, other_tenant: Tenant) -> None:
    response = admin.delete(f"/tenants/globex/credentials/{tenant.client_id}?actor=om-admin")
    assert (response.status_code, response.json) == (
        404,
        {"code": "credential_not_found", "message": f"No credential {tenant.client_id!r}.", "field": "clientId"},
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("GET", "/tenants/nobody/status", None, 404, "tenant_not_found", "tenant"),
        ("GET", "/tenants/NOT%20A%20NAME/credentials", None, 400, "invalid_tenant_name", "tenant"),
        ("POST", "/tenants/acme/credentials", {"description": "x"}, 400, "invalid_input", "actor"),
        ("POST", "/tenants/acme/credentials", {"actor": "a", "colour": 1}, 400, "invalid_input", "colour"),
        ("POST", "/tenants/acme/credentials", {"actor": "a", "description": "d" * 300}, 400, "invalid_input",
         "description"),
        ("POST", "/tenants/acme/credentials", b"{not json", 400, "invalid_json", None),
        ("POST", "/tenants/acme/credentials", [1, 2], 400, "invalid_body", None),
        ("POST", "/tenants/acme/credentials", b"[" * 100_000, 400, "body_too_large", None),
        ("POST", "/tenants", {"tenant": "Bad Name", "actor": "a"}, 400, "invalid_input", "tenant"),
        ("PUT", "/tenants/acme/role-mappings/Finance", {"actor": "a", "dataAccessRoles": ["x"] * 101}, 400,
         "invalid_input", "dataAccessRoles"),
        ("PUT", "/tenants/acme/role-mappings/Finance", {"actor": "a", "dataAccessRoles": [""]}, 400, "invalid_input",
         "dataAccessRoles.0"),
        ("PUT", "/tenants/acme/role-mappings/" + "r" * 300, {"actor": "a"}, 400, "invalid_role_name",
         "customerSuppliedRole"),
        ("GET", "/tenants/acme/role-mappings/Nothing", None, 404, "mapping_not_found", "customerSuppliedRole"),
        ("DELETE", "/tenants/acme/role-mappings/Finance", None, 404, "mapping_not_found", "customerSuppliedRole"),
        ("PUT", "/tenants/acme/password-policy", {"actor": "a", "minLength": 30, "maxLength": 20}, 400,
         "invalid_password_policy", "minLength"),
        ("PUT", "/tenants/acme/password-policy", {"actor": "a", "minCharacterClasses": 5}, 400,
         "invalid_password_policy", "minCharacterClasses"),
        ("PUT", "/tenants/acme/password-policy", {"actor": "a", "maxLength": 10**9}, 400, "invalid_input",
         "maxLength"),
        ("PUT", "/tenants/acme/role-source", {"actor": "a", "source": "ldap"}, 400, "invalid_input", "source"),
        ("PUT", "/tenants/acme/role-source", {"actor": "a", "source": "saml-attribute"}, 400, "invalid_attribute",
         "attribute"),
        ("PUT", "/tenants/acme/role-source", {"actor": "a", "source": "scim-groups", "attribute": "x"}, 400,
         "unexpected_attribute", "attribute"),
        ("GET", "/tenants/acme/activity?limit=0", None, 400, "invalid_input", "limit"),
        ("GET", "/tenants/acme/activity?since=yesterday", None, 400, "invalid_since", "since"),
        ("GET", "/tenants/acme/activity?since=99999d", None, 200, None, None),
        ("GET", "/tenants/acme/activity?cursor=bm90IGEgY3Vyc29y", None, 400, "invalid_cursor", "cursor"),
        ("GET", "/tenants/acme/activity?user=a&group=b", None, 400, "conflicting_filters", "group"),
        ("GET", "/tenants/acme/activity?colour=red", None, 400, "invalid_input", "colour"),
        ("POST", "/tenants/acme/sign-in", {"userName": "a", "samlAttributes": {"r": ["v"] * 201}}, 400,
         "invalid_input", "samlAttributes.r"),
        ("POST", "/tenants/acme/sign-in", {"samlAttributes": {}}, 400, "invalid_input", "userName"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field_and_an_unknown_tenant_a_404(
    admin: Admin, tenant: Tenant, method: str, path: str, body: Any, status: int, code: str | None, field: str | None
) -> None:
    response = admin.request(method, path, body)
    assert response.status_code == status, response.json
    assert response.headers["Content-Type"] == "application/json"
    if code is not None:
        assert response.json["code"] == code
        assert response.json.get("field") == field
        assert set(response.json) <= {"code", "message", "field"}


def test_role_mappings_and_password_policy_round_trip(admin: Admin, tenant: Tenant) -> None:
    put = admin.put(
        "/tenants/acme/role-mappings/Finance",
        {
            "dataAccessRoles": ["Payroll", "Payroll", "Headcount"],
            "applicationAccessRoles": ["Dashboards"],
            "actor": "a",
        },
    )
    assert put.json == {
        "customerSuppliedRole": "Finance",
        "dataAccessRoles": ["Payroll", "Headcount"],
        "applicationAccessRoles": ["Dashboards"],
    }
    assert admin.get("/tenants/acme/role-mappings/finance").json == put.json
    assert admin.get("/tenants/acme/role-mappings").json == {"roleMappings": [put.json]}
    assert admin.delete("/tenants/acme/role-mappings/Finance?actor=a").status_code == 200
    assert admin.get("/tenants/acme/role-mappings").json == {"roleMappings": []}

    default = admin.get("/tenants/acme/password-policy").json
    assert default["tenantSpecific"] is False
    changed = admin.put("/tenants/acme/password-policy", {"minLength": 8, "actor": "a"}).json
    assert (changed["minLength"], changed["maxLength"], changed["tenantSpecific"]) == (8, default["maxLength"], True)
    assert admin.get("/tenants/acme/password-policy").json == changed


def test_delete_without_an_actor_is_refused(admin: Admin, tenant: Tenant) -> None:
    response = admin.delete(f"/tenants/acme/credentials/{tenant.client_id}")
    assert (response.status_code, response.json["code"], response.json["field"]) == (400, "missing_actor", "actor")


def test_status_says_what_admin_status_says(admin: Admin, tenant: Tenant, capsys: pytest.CaptureFixture[str]) -> None:
    response = admin.get("/tenants/acme/status")
    assert response.status_code == 200
    assert main(["--stage", "test", "status", "acme", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == response.json
    assert response.json["credential"]["client_id"] == tenant.client_id
    assert response.json["problems"] == ["The active credential has never been used: is it pasted into the IdP?"]


def test_activity_pages_with_a_cursor_and_filters(admin: Admin, scim: Scim) -> None:
    for number in range(5):
        scim.post("/Users", user_body(f"user{number}@example.com"))
    scim.post("/Users", user_body("user0@example.com"))  # refused: 409
    seen: list[str] = []
    cursor = None
    while True:
        page = admin.get("/tenants/acme/activity?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [entry["resource_name"] for entry in page["entries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["user0@example.com", *(f"user{n}@example.com" for n in range(4, -1, -1))]
    errors = admin.get("/tenants/acme/activity?errors=true").json["entries"]
    assert [(e["status"], e["scim_type"]) for e in errors] == [(409, "uniqueness")]
    mine = admin.get("/tenants/acme/activity?user=USER3@example.com").json["entries"]
    assert [e["resource_name"] for e in mine] == ["user3@example.com"]


def test_the_cli_and_the_api_write_the_same_trail(admin: Admin, tenant: Tenant) -> None:
    assert main(["--stage", "test", "--actor", "ops-jo", "roles", "set", "acme", "Legal", "--data-access", "X"]) == 0
    admin.put("/tenants/acme/role-mappings/Legal", {"dataAccessRoles": ["Y"], "actor": "om-admin-2"})
    entries = admin.get("/tenants/acme/activity").json["entries"]
    assert [(e["actor"], e["principal"], e["resource_name"]) for e in entries[:2]] == [
        ("om-admin-2", "local", "Legal"),
        ("ops-jo", "cli", "Legal"),
    ]


def test_secrets_never_reach_the_logs(admin: Admin, tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    admin.delete(f"/tenants/acme/credentials/{tenant.client_id}?actor=a")
    with caplog.at_level(logging.DEBUG):
        issued = admin.post("/tenants/acme/credentials", {"actor": "a"}).json
    assert issued["clientSecret"] not in caplog.text
    assert '"log": "management"' in caplog.text


def test_in_lambda_a_management_route_without_an_iam_principal_is_refused(in_lambda: Any, tenant: Tenant) -> None:
    """Defence in depth: a management route deployed without IAM authorization by mistake exposes nothing."""
    resource = "/admin/v1/tenants/{tenant}/credentials"
    assert in_lambda("GET", "/admin/v1/tenants/acme/credentials", resource, None, {}) == (
        403,
        {"code": "iam_principal_required", "message": "The management API answers IAM-signed requests only."},
    )
    status, body = in_lambda("GET", "/admin/v1/tenants/acme/credentials", resource, ROLE_ARN, {})
    assert status == 200 and body["credentials"][0]["clientId"] == tenant.client_id


def test_scim_credentials_never_open_a_management_route(in_lambda: Any, tenant: Tenant) -> None:
    resource = "/admin/v1/tenants/{tenant}/status"
    for authorization in (
        basic(tenant.client_id, tenant.client_secret),
        f"Bearer {tenant.client_id}.{tenant.client_secret}",
    ):
        status, body = in_lambda(
            "GET", "/admin/v1/tenants/acme/status", resource, None, {"Authorization": authorization}
        )
        assert (status, body["code"]) == (403, "iam_principal_required")


def test_management_routes_use_iam_authorization_and_scim_routes_do_not() -> None:
    from app import app

    for path, methods in app.routes.items():
        for entry in methods.values():
            kind = type(entry.authorizer).__name__ if entry.authorizer else None
            if path.startswith("/admin/v1"):
                assert kind == "IAMAuthorizer", path
            else:
                assert kind in (None, "ChaliceAuthorizer"), path


def test_the_openapi_document_is_served_and_kept_in_the_repository(admin: Admin) -> None:
    from chalicelib.management.openapi import document

    served = admin.get("/openapi.json")
    assert served.status_code == 200
    assert served.json["openapi"] == "3.1.0"
    assert served.json == document()
    kept = PROJECT_DIR / "docs" / "reference" / "management-openapi.json"
    assert json.loads(kept.read_text()) == served.json, "stale: run make openapi"
    assert set(served.json["paths"]) >= {
        "/tenants",
        "/tenants/{tenant}/credentials",
        "/tenants/{tenant}/credentials/{clientId}",
        "/tenants/{tenant}/status",
        "/tenants/{tenant}/activity",
        "/tenants/{tenant}/role-mappings",
        "/tenants/{tenant}/role-mappings/{customerSuppliedRole}",
        "/tenants/{tenant}/role-catalogue",
        "/tenants/{tenant}/role-catalogue/{kind}/{name}",
        "/tenants/{tenant}/password-policy",
        "/tenants/{tenant}/role-source",
        "/tenants/{tenant}/sign-in",
    }


def test_the_openapi_staleness_check_can_fail(tmp_path: Path) -> None:
    from chalicelib.management.openapi import document

    stale = {**document(), "paths": {}}
    assert stale != document()


def test_the_stack_names_the_platforms_caller_role_allowed_the_admin_routes_only() -> None:
    stack = json.loads((PROJECT_DIR / "infra" / "stack.json").read_text())
    role = stack["Resources"]["ManagementCallerRole"]
    assert role["Properties"]["RoleName"] == {"Fn::Sub": "scim-${Stage}-management-caller"}
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"AWS": {"Ref": "ManagementCallerArn"}}, "Action": "sts:AssumeRole"}
    ]
    [statement] = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"]["Fn::Sub"].endswith(":${ApiId}/api/*/admin/v1/*")


def test_status_last_write_is_the_idps_not_a_management_write(admin: Admin, scim: Scim) -> None:
    scim.post("/Users", user_body("ada@example.com"))
    admin.put("/tenants/acme/role-mappings/Finance", {"dataAccessRoles": ["X"], "actor": "a"})
    last = admin.get("/tenants/acme/status").json["last_successful_write"]
    assert (last["resource_type"], last["resource_name"]) == ("User", "ada@example.com")


def test_an_unexpected_failure_is_a_json_500_without_detail(admin: Admin, tenant: Tenant, monkeypatch: Any) -> None:
    from chalicelib.management.operations import Management

    def broken(self: Management, tenant: str) -> None:
        raise RuntimeError("secret-looking internals")

    monkeypatch.setattr(Management, "role_source", broken)
    response = admin.get("/tenants/acme/role-source")
    assert (response.status_code, response.json) == (
        500,
        {"code": "internal_error", "message": "Internal error; it is logged."},
    )


def test_a_role_name_in_the_path_is_decoded_once(admin: Admin, tenant: Tenant) -> None:
    put = admin.put(
        "/tenants/acme/role-mappings/Finance%20%E2%80%93%20EMEA%2520", {"dataAccessRoles": ["X"], "actor": "a"}
    )
    assert put.json["customerSuppliedRole"] == "Finance – EMEA%20"
    assert admin.get("/tenants/acme/role-mappings/finance%20%E2%80%93%20emea%2520").status_code == 200


def test_in_lambda_path_parameters_are_read_from_the_raw_path(in_lambda: Any, tenant: Tenant) -> None:
    resource = "/admin/v1/tenants/{tenant}/role-mappings/{customerSuppliedRole}"
    status, body = in_lambda("GET", "/admin/v1/tenants/acme/role-mappings/No%20Such", resource, ROLE_ARN, {})
    assert (status, body["code"], body["message"]) == (404, "mapping_not_found", "No mapping for 'No Such'.")
