"""Tenant isolation as a matrix: tenant B's credential against every read and write of tenant A's data.

Each cell is one request of B's that names A's users, groups, memberships or role mappings. B gets
404 for A's resources, finds none of A's data in any list or search, and cannot make A's users
members of its groups; after every cell, everything A can read (users, groups, memberships, role
mappings, meta.version included) is exactly as before. Also here: secrets and passwords never
leave in a response or a log line, and every response carries ``Cache-Control: no-store``.
Revoked credentials and service accounts without CanProvisionUsersAsSCIM are in tests/test_auth.py.
"""

import base64
import hmac
import io
import json
import logging
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest

from admin.__main__ import main as admin
from chalicelib.auth import credentials as credential_module
from chalicelib.auth.credentials import MAX_AUTHORIZATION_HEADER, parse_authorization
from chalicelib.config import settings
from chalicelib.store import connection, invariants
from chalicelib.store.credentials import CredentialStore
from tests.conftest import Scim, Tenant, make_tenant, served_app, user_body
from tests.helpers import (
    BULK_REQUEST,
    CORE_GROUP,
    CORE_USER,
    CUSTOM_USER,
    ERROR,
    ONEMODEL_USER,
    SEARCH_REQUEST,
    patch_body,
)

PASSWORD = "Zebra-Piano-4711-Secret"


@dataclass
class Tenants:
    a: Scim
    b: Scim
    a_tenant: Tenant
    b_tenant: Tenant
    ids: dict[str, str]
    """A's and B's ids and names, by the placeholders the cells use: {a_user}, {b_group}, ..."""

    def a_data(self) -> dict[str, Any]:
        """Everything tenant A can read, as A reads it; plus what an operator sees (role mappings, invariants)."""
        config = settings()
        seen: dict[str, Any] = {}
        for path in ("/Users/{a_user}", "/Users/{a_user2}", "/Groups/{a_group}", "/Groups/{a_group2}"):
            response = self.a.get(path.format(**self.ids))
            seen[path] = (response.status_code, response.json)
        seen["users"] = self.a.get("/Users", query={"count": "1000"}).json
        seen["groups"] = self.a.get("/Groups", query={"count": "1000"}).json
        out = io.StringIO()
        with redirect_stdout(out):
            admin(["--stage", "test", "roles", "show", self.a_tenant.name])
        seen["role mappings"] = out.getvalue()
        report = invariants.check(connection.dynamodb(config), config.users_table, config.groups_table, "acme")
        assert report.ok and not report.garbage
        return seen

    def a_markers(self) -> list[str]:
        """Strings only A's data holds (B may reuse A's userNames and externalIds): none may reach B."""
        names = ("a_user", "a_user2", "a_group", "a_group2", "a_person_id")
        return [self.ids[name] for name in names] + ["Payroll", "Contracts", "Dashboards"]


@pytest.fixture(scope="module")
def tenants() -> Iterator[Tenants]:
    """Tenant A (acme) with users, groups and role mappings; tenant B (globex) with a group of A's group's name."""
    with served_app() as client:
        store = CredentialStore(connection.dynamodb(settings()), settings().credentials_table)
        a_tenant, b_tenant = make_tenant(store, "acme"), make_tenant(store, "globex")
        a, b = Scim(client, a_tenant.authorization), Scim(client, b_tenant.authorization)
        person = {CUSTOM_USER: {"personId": "P-ada-1815"}}
        ada = a.post("/Users", user_body("ada@acme.example", externalId="ext-ada", password=PASSWORD, **person)).json
        alan = a.post("/Users", user_body("alan@acme.example", externalId="ext-alan")).json
        finance = a.post(
            "/Groups",
            {
                "schemas": [CORE_GROUP],
                "displayName": "Finance",
                "externalId": "ext-finance",
                "members": [{"value": ada["id"]}],
            },
        ).json
        legal = a.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": "Legal", "members": [{"value": alan["id"]}]}
        ).json
        for role, data_access in (("Finance", "Payroll"), ("Legal", "Payroll,Contracts")):
            arguments = [
                "roles",
                "set",
                "acme",
                role,
                "--data-access",
                data_access,
                "--application-access",
                "Dashboards",
            ]
            assert admin(["--stage", "test", *arguments]) == 0
        bob = b.post("/Users", user_body("bob@globex.example")).json
        b_finance = b.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": "finance", "members": [{"value": bob["id"]}]}
        )
        a_cursor = a.get("/Users", query={"cursor": "", "count": "1"}).json["nextCursor"]
        ids = {
            "a_user": ada["id"],
            "a_user2": alan["id"],
            "a_user_name": "ada@acme.example",
            "a_external_id": "ext-ada",
            "a_person_id": "P-ada-1815",
            "a_group": finance["id"],
            "a_group2": legal["id"],
            "a_group_external_id": "ext-finance",
            "a_version": ada["meta"]["version"],
            "a_cursor": a_cursor,
            "b_user": bob["id"],
            "b_group": b_finance.json["id"],
        }
        yield Tenants(a, b, a_tenant, b_tenant, ids)


def _filled(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, list):
        return [_filled(item, ids) for item in template]
    if isinstance(template, dict):
        return {key: _filled(value, ids) for key, value in template.items()}
    return template


def replace(path: str | None, value: Any) -> dict[str, Any]:
    return patch_body(
        {"op": "replace", "value": value} if path is None else {"op": "replace", "path": path, "value": value}
    )


def add_members(*values: str) -> dict[str, Any]:
    return patch_body({"op": "add", "path": "members", "value": [{"value": value} for value in values]})


def remove(path: str, value: Any = None) -> dict[str, Any]:
    return patch_body(
        {"op": "remove", "path": path} if value is None else {"op": "Remove", "path": path, "value": value}
    )


def group(display_name: str, *members: str) -> dict[str, Any]:
    return {"schemas": [CORE_GROUP], "displayName": display_name, "members": [{"value": value} for value in members]}


NOT_FOUND = 404
REFUSED = 400
NOTHING_OF_A = "nothing of A"
UNCHANGED = "2xx, nothing of A changed"


@dataclass(frozen=True)
class Cell:
    name: str
    method: str
    path: str
    body: Any = None
    query: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    expect: int | str = NOT_FOUND


def filtered(name: str, path: str, expression: str) -> Cell:
    return Cell(name, "GET", path, query={"filter": expression}, expect=NOTHING_OF_A)


def searched(name: str, path: str, expression: str) -> Cell:
    return Cell(name, "POST", path, {"schemas": [SEARCH_REQUEST], "filter": expression}, expect=NOTHING_OF_A)


CELLS = [
    # Reads of A's resources by id.
    Cell("get A's user", "GET", "/Users/{a_user}"),
    Cell(
        "get A's user with If-None-Match of its version",
        "GET",
        "/Users/{a_user}",
        headers={"If-None-Match": "{a_version}"},
    ),
    Cell("get A's user's groups only", "GET", "/Users/{a_user}", query={"attributes": "groups," + ONEMODEL_USER}),
    Cell("get A's group", "GET", "/Groups/{a_group}"),
    Cell("get A's group without members", "GET", "/Groups/{a_group}", query={"excludedAttributes": "members"}),
    # Lists and searches: none of A's users, groups, memberships or roles.
    Cell("list users", "GET", "/Users", query={"count": "1000"}, expect=NOTHING_OF_A),
    Cell("list users from the root", "GET", "", expect=NOTHING_OF_A),
    Cell("list users by cursor", "GET", "/Users", query={"cursor": "", "count": "1000"}, expect=NOTHING_OF_A),
    Cell("replay A's cursor", "GET", "/Users", query={"cursor": "{a_cursor}", "count": "1"}, expect=NOTHING_OF_A),
    Cell("list groups", "GET", "/Groups", query={"count": "1000"}, expect=NOTHING_OF_A),
    filtered("users by A's id", "/Users", 'id eq "{a_user}"'),
    filtered("users by A's userName", "/Users", 'userName eq "{a_user_name}"'),
    filtered("users by A's userName prefix", "/Users", 'userName sw "ada"'),
    filtered("users by A's externalId", "/Users", 'externalId eq "{a_external_id}"'),
    filtered("users by A's personId", "/Users", CUSTOM_USER + ':personId eq "{a_person_id}"'),
    filtered("users by A's email domain", "/Users", 'emails.value co "acme"'),
    filtered("users by A's group membership", "/Users", 'groups.value eq "{a_group}"'),
    filtered("users by A's group name", "/Users", 'groups.display eq "Legal"'),
    filtered("users by A's mapped roles", "/Users", ONEMODEL_USER + ':dataAccessRoles eq "Payroll"'),
    filtered("groups by A's id", "/Groups", 'id eq "{a_group}"'),
    filtered("groups by A's member", "/Groups", 'members.value eq "{a_user}"'),
    filtered("groups by A's member, short form", "/Groups", 'members eq "{a_user}"'),
    filtered("groups by A's displayName", "/Groups", 'displayName eq "Legal"'),
    filtered("groups by A's externalId", "/Groups", 'externalId eq "{a_group_external_id}"'),
    filtered("root search by A's id", "", 'id eq "{a_user}"'),
    searched(".search users by A's userName", "/Users/.search", 'userName eq "{a_user_name}"'),
    searched(".search users by A's group", "/Users/.search", 'groups.value eq "{a_group}"'),
    searched(".search groups by A's member", "/Groups/.search", 'members.value eq "{a_user}"'),
    searched("root .search by A's userName", "/.search", 'userName eq "{a_user_name}"'),
    searched("root .search by A's group", "/.search", 'id eq "{a_group}"'),
    # Writes of A's users.
    Cell("replace A's user", "PUT", "/Users/{a_user}", user_body("{a_user_name}", active=False)),
    Cell(
        "replace A's user at its version",
        "PUT",
        "/Users/{a_user}",
        user_body("x@x.x"),
        headers={"If-Match": "{a_version}"},
    ),
    Cell("deactivate A's user", "PATCH", "/Users/{a_user}", replace("active", False)),
    Cell("set A's user's password", "PATCH", "/Users/{a_user}", replace("password", PASSWORD + "2")),
    Cell("rename A's user", "PATCH", "/Users/{a_user}", replace(None, {"userName": "mallory@x.x"})),
    Cell("delete A's user", "DELETE", "/Users/{a_user}"),
    # Writes of A's groups and memberships.
    Cell("replace A's group", "PUT", "/Groups/{a_group}", group("Finance", "{b_user}")),
    Cell("add B's user to A's group", "PATCH", "/Groups/{a_group}", add_members("{b_user}")),
    Cell("remove A's user from A's group", "PATCH", "/Groups/{a_group}", remove('members[value eq "{a_user}"]')),
    Cell("remove every member of A's group", "PATCH", "/Groups/{a_group}", remove("members")),
    Cell("rename A's group", "PATCH", "/Groups/{a_group}", replace(None, {"id": "{a_group}", "displayName": "Mine"})),
    Cell("delete A's group", "DELETE", "/Groups/{a_group}"),
    # B's own groups cannot take A's users (or groups) as members.
    Cell("create a group with A's user", "POST", "/Groups", group("Stolen", "{a_user}"), expect=REFUSED),
    Cell("add A's user to B's group", "PATCH", "/Groups/{b_group}", add_members("{a_user}"), expect=REFUSED),
    Cell("add A's group to B's group", "PATCH", "/Groups/{b_group}", add_members("{a_group}"), expect=REFUSED),
    Cell("replace B's members by A's user", "PUT", "/Groups/{b_group}", group("finance", "{a_user}"), expect=REFUSED),
    Cell(
        "remove A's user from B's group",
        "PATCH",
        "/Groups/{b_group}",
        remove('members[value eq "{a_user}"]'),
        expect=UNCHANGED,
    ),
    Cell(
        "remove A's user from B's group, Entra's way",
        "PATCH",
        "/Groups/{b_group}",
        remove("members", [{"value": "{a_user}"}]),
        expect=UNCHANGED,
    ),
    # B's own users: A's ids and names are B's to reuse, never a way into A.
    Cell(
        "create a user with A's id",
        "POST",
        "/Users",
        {**user_body("new@globex.example"), "id": "{a_user}"},
        expect=UNCHANGED,
    ),
    Cell(
        "create a user with A's userName",
        "POST",
        "/Users",
        user_body("{a_user_name}", externalId="{a_external_id}"),
        expect=UNCHANGED,
    ),
    Cell(
        "join A's group through B's user",
        "PATCH",
        "/Users/{b_user}",
        patch_body({"op": "add", "path": "groups", "value": [{"value": "{a_group}"}]}),
        expect=REFUSED,
    ),
]


@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_tenant_b_reaches_nothing_of_tenant_a(tenants: Tenants, cell: Cell) -> None:
    before = tenants.a_data()

    response = tenants.b.request(
        cell.method,
        cell.path.format(**tenants.ids),
        _filled(cell.body, tenants.ids),
        headers=_filled(cell.headers, tenants.ids),
        query=_filled(cell.query, tenants.ids),
    )

    assert response.status_code < 500, response.body
    if cell.expect in (NOT_FOUND, REFUSED):
        assert response.status_code == cell.expect, response.body
        assert response.json["schemas"] == [ERROR]
    elif cell.expect == UNCHANGED:
        assert 200 <= response.status_code < 300, response.body
    sent = json.dumps(_filled([cell.path, cell.body, cell.query, cell.headers], tenants.ids))
    leaked = [marker for marker in tenants.a_markers() if marker in response.body.decode() and marker not in sent]
    assert leaked == []
    assert tenants.a_data() == before


def test_a_same_named_group_of_b_does_not_get_a_s_role_mapping(tenants: Tenants) -> None:
    """A maps "Finance" to Payroll and Dashboards; B's user is in B's own "finance" group."""
    b_user = tenants.b.get("/Users/{b_user}".format(**tenants.ids)).json

    assert b_user[ONEMODEL_USER]["customerSuppliedRoles"] == ["finance"]
    assert b_user[ONEMODEL_USER].get("dataAccessRoles", []) == []
    assert b_user[ONEMODEL_USER].get("applicationAccessRoles", []) == []
    a_user = tenants.a.get("/Users/{a_user}".format(**tenants.ids)).json
    assert a_user[ONEMODEL_USER]["dataAccessRoles"] == ["Payroll"]


def test_an_operator_sees_a_tenant_s_role_mappings_only(tenants: Tenants, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin(["--stage", "test", "roles", "show", "globex"]) == 0
    assert "Payroll" not in capsys.readouterr().out
    assert admin(["--stage", "test", "roles", "show", "globex", "Finance"]) == 1


# -- Credentials --------------------------------------------------------------


def test_secrets_are_compared_with_hmac_compare_digest_even_for_unknown_client_ids(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant time: the response time tells neither how much of a secret matched nor which client IDs exist."""
    comparisons: list[tuple[int, int]] = []
    compare_digest = hmac.compare_digest

    def spy(expected: str, given: str) -> bool:
        comparisons.append((len(expected), len(given)))
        return compare_digest(expected, given)

    monkeypatch.setattr(credential_module.hmac, "compare_digest", spy)
    tenant = tenants.a_tenant
    store = CredentialStore(connection.dynamodb(settings()), settings().credentials_table)
    key = settings().credential_hash_key

    assert credential_module.verify(store, key, tenant.client_id, tenant.client_secret) is not None
    assert credential_module.verify(store, key, tenant.client_id, tenant.client_secret[:-1] + "x") is None
    assert credential_module.verify(store, key, "scim-000000000000000000000000", tenant.client_secret) is None

    assert comparisons == [(64, 64)] * 3


def test_an_authorization_header_over_the_bound_is_refused_before_any_lookup(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header past MAX_AUTHORIZATION_HEADER is refused without reading the credentials table."""
    reads: list[str] = []
    monkeypatch.setattr(CredentialStore, "get_credential", lambda self, client_id: reads.append(client_id))
    tenant = tenants.a_tenant
    oversized = f"{tenant.client_id}:{tenant.client_secret}{'x' * MAX_AUTHORIZATION_HEADER}"
    oversized = "Basic " + base64.b64encode(oversized.encode()).decode()

    response = Scim(tenants.a.client, oversized).get("/Users")

    assert parse_authorization(oversized) is None
    assert response.status_code == 401
    assert response.json["schemas"] == [ERROR]
    assert reads == []


# -- Nothing secret leaves, and nothing is cached --------------------------------------------------------------


LEAKS = [
    ("create with a password", "POST", "/Users", user_body("leak1@globex.example", password=PASSWORD)),
    (
        "create with a password of the wrong type",
        "POST",
        "/Users",
        user_body("leak2@globex.example", password=[PASSWORD]),
    ),
    (
        "create with a password and a bad attribute",
        "POST",
        "/Users",
        user_body("leak3@globex.example", password=PASSWORD, active="maybe"),
    ),
    (
        "create with a password and a bad userName",
        "POST",
        "/Users",
        {"schemas": [CORE_USER], "userName": 7, "password": PASSWORD},
    ),
    (
        "create with a password breaking the policy",
        "POST",
        "/Users",
        user_body("zebra@globex.example", password="zebra-piano"),
    ),
    (
        "create with a cut-off body",
        "POST",
        "/Users",
        json.dumps(user_body("leak4@globex.example", password=PASSWORD))[:-5],
    ),
    ("replace with a password", "PUT", "/Users/{b_user}", user_body("bob@globex.example", password=PASSWORD)),
    (
        "replace with a password and a bad attribute",
        "PUT",
        "/Users/{b_user}",
        user_body("bob@globex.example", password=PASSWORD, costCenter=1),
    ),
    ("patch the password", "PATCH", "/Users/{b_user}", replace("password", PASSWORD)),
    ("patch the password with a wrong type", "PATCH", "/Users/{b_user}", replace("password", [PASSWORD])),
    (
        "patch the password without a path",
        "PATCH",
        "/Users/{b_user}",
        replace(None, {"password": PASSWORD, "bogus": 1}),
    ),
    ("patch the password into a filter", "PATCH", "/Users/{b_user}", replace(f'password[value eq "{PASSWORD}"]', "x")),
    ("filter on the password", "GET", "/Users", None),
]


@pytest.mark.parametrize(("name", "method", "path", "body"), LEAKS, ids=[leak[0] for leak in LEAKS])
def test_passwords_and_secrets_never_reach_a_response_or_a_log_line(
    tenants: Tenants,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    name: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    caplog.set_level(logging.INFO)  # what production logs; botocore's DEBUG lines are off there
    query = {"filter": f'password eq "{PASSWORD}"'} if method == "GET" else None
    raw = body.encode() if isinstance(body, str) else None

    response = tenants.b.request(
        method, path.format(**tenants.ids), body if raw is None else None, raw=raw, query=query
    )

    captured = capsys.readouterr()
    assert response.status_code < 500, response.body
    seen = response.body.decode() + json.dumps(dict(response.headers)) + captured.out + captured.err + caplog.text
    seen += activity_trail_of(tenants.b_tenant.name)
    assert "scim.request" in captured.out
    assert "$argon2" not in seen
    for secret in (PASSWORD, tenants.b_tenant.client_secret, tenants.b_tenant.authorization.split()[1]):
        assert secret not in seen


def activity_trail_of(tenant: str) -> str:
    """Every item of the tenant's activity trail, as stored."""
    config = settings()
    items = connection.dynamodb(config).query(
        TableName=config.activity_table,
        KeyConditionExpression="pk = :t",
        ExpressionAttributeValues={":t": {"S": tenant}},
    )["Items"]
    assert items, "every write and every refused request leaves an entry"
    return json.dumps(items)


NO_STORE = [
    ("anonymous discovery", None, "GET", "/ServiceProviderConfig", None),
    ("no credentials", None, "GET", "/Users", None),
    ("a refused credential", "Basic bm86cGU=", "GET", "/Users", None),
    ("an unknown path", "b", "GET", "/Widgets", None),
    ("a method no route serves", "b", "DELETE", "/Users", None),
    ("a list", "b", "GET", "/Users", None),
    ("a read", "b", "GET", "/Users/{b_user}", None),
    ("a read not modified", "b", "GET", "/Users/{b_user}", "if-none-match"),
    ("a 404", "b", "GET", "/Users/{a_user}", None),
    ("a creation", "b", "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Cached?"}),
    ("a refused creation", "b", "POST", "/Users", {"schemas": [CORE_USER]}),
    ("a group PATCH without content", "b", "PATCH", "/Groups/{b_group}", replace("displayName", "finance")),
    ("a deletion", "b", "DELETE", "/Users/{b_user}", None),
    (
        "bulk",
        "b",
        "POST",
        "/Bulk",
        {"schemas": [BULK_REQUEST], "Operations": []},
    ),
    ("discovery", "b", "GET", "/Schemas", None),
]


@pytest.mark.parametrize(("name", "who", "method", "path", "body"), NO_STORE, ids=[case[0] for case in NO_STORE])
def test_every_response_carries_cache_control_no_store(
    tenants: Tenants, name: str, who: str | None, method: str, path: str, body: Any
) -> None:
    authorization = tenants.b_tenant.authorization if who == "b" else who
    headers = None
    if body == "if-none-match":
        body = None
        headers = {"If-None-Match": tenants.b.get(path.format(**tenants.ids)).json["meta"]["version"]}

    response = Scim(tenants.a.client, authorization).request(method, path.format(**tenants.ids), body, headers=headers)

    assert response.headers.get("Cache-Control") == "no-store", (response.status_code, dict(response.headers))


def test_b_s_activity_and_status_show_only_b_s_own_requests(tenants: Tenants) -> None:
    # Given A's trail (A created users and groups) and B's (B's own requests, some aimed at A's ids)
    def command(*arguments: str) -> Any:
        out = io.StringIO()
        with redirect_stdout(out):
            admin(["--stage", "test", *arguments, "--json"])
        return json.loads(out.getvalue())

    ids = tenants.ids
    # When the operator lists B's trail every way there is
    listings = [
        command("activity", "globex"),
        command("activity", "globex", "--errors"),
        command("activity", "globex", "--user", ids["a_user"]),
        command("activity", "globex", "--user", ids["a_user_name"]),
        command("activity", "globex", "--group", ids["a_group"]),
    ]
    report = command("status", "globex")
    # Then every entry is one of B's requests, and A's trail is A's alone
    entries = [entry for listing in listings for entry in listing]
    assert entries and {entry["client_id"] for entry in entries} == {tenants.b_tenant.client_id}
    assert not [entry for entry in entries if entry["status"] < 400 and entry["resource_id"] in tenants.a_markers()]
    for shown in (report["last_successful_write"], report["last_error"]):
        assert shown is None or shown["client_id"] == tenants.b_tenant.client_id
    # (A's trail also holds the operator's management writes for A, e.g. a role mapping: client "management")
    assert {entry["client_id"] for entry in command("activity", "acme")} - {"management"} == {
        tenants.a_tenant.client_id
    }
