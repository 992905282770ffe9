"""Direct grants: a user's roles (Application Access Roles) and entitlements (Data Access Roles), checked
against the tenant's catalogue, and the user's effective roles with their sources."""

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.activity import ActivityTable
from chalicelib.store.role_catalogue import DeclaredRole
from chalicelib.store.role_mappings import RoleMapping
from chalicelib.store.users import UserTable
from tests.conftest import DynamoCalls, Scim, user_body
from tests.helpers import CORE_GROUP, ONEMODEL_USER, patch_body
from tests.test_management_api import Admin
from tests.test_role_catalogue import declared, mappings
from tests.test_role_source import sign_in


@pytest.fixture
def catalogue(scim: Scim) -> None:
    mappings().put(RoleMapping("Finance", ("Payroll",), ("Dashboards",)))
    declared().declare(DeclaredRole("Auditor", "application", "Reads every report", "2026-01-02T03:04:05+00:00"))
    declared().declare(DeclaredRole("Board Pack", "data", "", "2026-01-02T03:04:05+00:00"))


@pytest.fixture
def user(scim: Scim, catalogue: None) -> dict[str, Any]:
    created = scim.post("/Users", user_body())
    assert created.status_code == 201
    return dict(created.json)


def test_create_grants_roles_and_entitlements_in_the_catalogues_spelling(scim: Scim, catalogue: None) -> None:
    body = user_body(roles=[{"value": "auditor"}], entitlements=[{"value": "Board Pack"}, {"value": "payroll"}])
    created = scim.post("/Users", body)

    assert created.status_code == 201
    assert created.json["roles"] == [{"value": "Auditor", "display": "Auditor", "type": "Application Access Role"}]
    assert [grant["value"] for grant in created.json["entitlements"]] == ["Board Pack", "Payroll"]
    product = created.json[ONEMODEL_USER]
    assert product["applicationAccessRoles"] == ["Auditor"]
    assert product["dataAccessRoles"] == ["Board Pack", "Payroll"]
    assert scim.get(f"/Users/{created.json['id']}").json["roles"] == created.json["roles"]


@pytest.mark.parametrize(
    ("attribute", "value", "named"),
    [("roles", "Payroll", "'Payroll' is no Application Access Role"), ("entitlements", "Ghost", "'Ghost' is no Data")],
)
def test_an_unknown_grant_is_a_400_naming_it_and_nothing_is_written(
    scim: Scim, user: dict[str, Any], attribute: str, value: str, named: str
) -> None:
    refused = scim.post("/Users", user_body("other@example.com", **{attribute: [{"value": value}]}))
    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    assert named in refused.json["detail"]
    assert scim.get("/Users", query={"filter": 'userName eq "other@example.com"'}).json["totalResults"] == 0

    patched = scim.patch(
        f"/Users/{user['id']}", patch_body({"op": "add", "path": attribute, "value": [{"value": value}]})
    )
    assert (patched.status_code, patched.json["scimType"]) == (400, "invalidValue")
    assert named in patched.json["detail"]
    assert scim.get(f"/Users/{user['id']}").json["meta"]["version"] == user["meta"]["version"]


def test_granting_the_same_role_twice_changes_nothing(scim: Scim, user: dict[str, Any]) -> None:
    grant = patch_body({"op": "add", "path": "roles", "value": [{"value": "Auditor", "display": "Auditor"}]})
    first = scim.patch(f"/Users/{user['id']}", grant)
    assert first.status_code == 200
    assert first.json["meta"]["version"] != user["meta"]["version"]

    for again in (grant, patch_body({"op": "add", "path": "roles", "value": [{"value": "AUDITOR"}]})):
        second = scim.patch(f"/Users/{user['id']}", again)
        assert second.status_code == 200
        assert second.json["meta"]["version"] == first.json["meta"]["version"]
        assert [grant["value"] for grant in second.json["roles"]] == ["Auditor"]


def test_patch_grants_and_removes_with_a_value_filter_as_okta_does(scim: Scim, user: dict[str, Any]) -> None:
    path = f"/Users/{user['id']}"
    granted = scim.patch(
        path,
        patch_body(
            {"op": "add", "path": "roles", "value": [{"value": "Auditor"}]},
            {"op": "add", "path": "entitlements", "value": [{"value": "Board Pack"}]},
        ),
    )
    assert granted.json[ONEMODEL_USER]["applicationAccessRoles"] == ["Auditor"]
    removed = scim.patch(path, patch_body({"op": "remove", "path": 'entitlements[value eq "board pack"]'}))

    assert removed.status_code == 200
    assert removed.json.get("entitlements", []) == []
    assert removed.json[ONEMODEL_USER].get("dataAccessRoles", []) == []
    assert removed.json[ONEMODEL_USER]["applicationAccessRoles"] == ["Auditor"]
    replaced = scim.patch(path, patch_body({"op": "replace", "value": {"roles": [{"value": "Dashboards"}]}}))
    assert [grant["value"] for grant in replaced.json["roles"]] == ["Dashboards"]


def test_put_replaces_the_grants(scim: Scim, user: dict[str, Any]) -> None:
    replaced = scim.put(f"/Users/{user['id']}", user_body(roles=[{"value": "Dashboards"}, {"value": "Auditor"}]))
    assert replaced.status_code == 200
    assert [grant["value"] for grant in replaced.json["roles"]] == ["Auditor", "Dashboards"]
    refused = scim.put(f"/Users/{user['id']}", user_body(roles=[{"value": "Nobody"}]))
    assert refused.status_code == 400
    assert "'Nobody'" in refused.json["detail"]
    without = scim.put(f"/Users/{user['id']}", user_body())
    assert without.json.get("roles", []) == []  # RFC 7644 §3.5.1: what a PUT omits goes


def test_effective_roles_are_the_union_of_groups_and_grants_each_with_its_source(
    scim: Scim, user: dict[str, Any]
) -> None:
    finance = scim.post("/Groups", {"displayName": "Finance", "members": [{"value": user["id"]}]})
    assert finance.status_code == 201
    patched = scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "add", "path": "roles", "value": [{"value": "Auditor"}, {"value": "Dashboards"}]},
            {"op": "add", "path": "entitlements", "value": [{"value": "Board Pack"}]},
        ),
    )
    product = patched.json[ONEMODEL_USER]

    assert product["applicationAccessRoles"] == ["Auditor", "Dashboards"]
    assert product["dataAccessRoles"] == ["Board Pack", "Payroll"]
    assert product["effectiveRoles"] == [
        {"value": "Auditor", "type": "Application Access Role", "source": "direct"},
        {"value": "Dashboards", "type": "Application Access Role", "source": "direct"},
        {"value": "Dashboards", "type": "Application Access Role", "source": "group", "display": "Finance"},
        {"value": "Board Pack", "type": "Data Access Role", "source": "direct"},
        {"value": "Payroll", "type": "Data Access Role", "source": "group", "display": "Finance"},
    ]
    # The group leaves: what the grants give stays.
    scim.delete(f"/Groups/{finance.json['id']}")
    after = scim.get(f"/Users/{user['id']}").json[ONEMODEL_USER]
    assert (after["applicationAccessRoles"], after["dataAccessRoles"]) == (["Auditor", "Dashboards"], ["Board Pack"])


def test_a_role_withdrawn_from_the_catalogue_stays_held_and_blocks_no_other_change(
    scim: Scim, user: dict[str, Any]
) -> None:
    path = f"/Users/{user['id']}"
    scim.patch(path, patch_body({"op": "add", "path": "roles", "value": [{"value": "Auditor"}]}))
    assert declared().withdraw("application", "Auditor")

    renamed = scim.patch(path, patch_body({"op": "replace", "path": "displayName", "value": "Babs"}))
    assert renamed.status_code == 200
    assert [grant["value"] for grant in renamed.json["roles"]] == ["Auditor"]
    regranted = scim.patch(path, patch_body({"op": "add", "path": "roles", "value": [{"value": "auditor"}]}))
    assert regranted.json["meta"]["version"] == renamed.json["meta"]["version"]
    removed = scim.patch(path, patch_body({"op": "remove", "path": 'roles[value eq "Auditor"]'}))
    assert removed.status_code == 200
    assert removed.json.get("roles", []) == []
    assert (
        scim.patch(path, patch_body({"op": "add", "path": "roles", "value": [{"value": "Auditor"}]})).status_code == 400
    )


@pytest.mark.parametrize(
    ("grants", "detail"),
    [
        ([{"value": f"r{i}"} for i in range(101)], "at most 100 values"),  # the request's own bound comes first
        ([{"value": "x" * 257}], "at most 256 characters"),
        ([{"display": "Auditor"}], "every grant needs a value"),
    ],
)
def test_grants_are_bounded_before_any_lookup(
    scim: Scim, user: dict[str, Any], grants: list[dict[str, Any]], detail: str
) -> None:
    refused = scim.patch(f"/Users/{user['id']}", patch_body({"op": "add", "path": "roles", "value": grants}))
    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    assert detail in refused.json["detail"]


def test_a_user_holds_at_most_100_grants_of_a_kind_whatever_each_request_carries(scim: Scim, catalogue: None) -> None:
    # Each request within the bound on values (100) can still add to what the user holds.
    for n in range(101):
        declared().declare(DeclaredRole(f"Role {n:03}", "application", "", "2026-01-02T03:04:05+00:00"))
    held = scim.post("/Users", user_body(roles=[{"value": f"Role {n:03}"} for n in range(100)]))
    assert held.status_code == 201 and len(held.json["roles"]) == 100

    refused = scim.patch(
        f"/Users/{held.json['id']}", patch_body({"op": "add", "path": "roles", "value": [{"value": "Role 100"}]})
    )

    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    assert refused.json["detail"] == "roles: at most 100 grants per user"
    assert scim.get(f"/Users/{held.json['id']}").json["meta"]["version"] == held.json["meta"]["version"]


def test_the_trail_records_grants_like_any_attribute_change(scim: Scim, user: dict[str, Any]) -> None:
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "add", "path": "roles", "value": [{"value": "Auditor"}]}))
    trail = ActivityTable(
        connection.dynamodb(settings()), settings().activity_table, "acme", settings().activity_retention_days
    )
    latest = trail.of_resource("User", user["id"], limit=1)[0]
    assert (latest.method, latest.status) == ("PATCH", 200)
    (change,) = [change for change in latest.changes if change.path.startswith("roles")]
    assert "Auditor" in str(change.new)


def test_a_grant_costs_one_batch_read_of_the_declared_roles_and_a_held_one_none(
    scim: Scim, user: dict[str, Any], dynamo_calls: DynamoCalls
) -> None:
    """Counted, not timed: a grant of a declared role adds one BatchGetItem to a PATCH; of a role only a mapping
    names, that and one query of the mappings; a PATCH that adds no new value reads no catalogue."""
    path = f"/Users/{user['id']}"

    def calls_of(*operations: dict[str, Any]) -> list[str]:
        dynamo_calls.reset()
        assert scim.patch(path, patch_body(*operations)).status_code == 200
        return sorted(name for name, _ in dynamo_calls.calls)

    baseline = calls_of({"op": "replace", "path": "displayName", "value": "Babs"})
    declared_grant = calls_of({"op": "add", "path": "roles", "value": [{"value": "Auditor"}]})
    mapped_grant = calls_of({"op": "add", "path": "roles", "value": [{"value": "Dashboards"}]})
    held_again = calls_of({"op": "add", "path": "roles", "value": [{"value": "auditor"}, {"value": "Dashboards"}]})

    assert declared_grant == sorted([*baseline, "BatchGetItem"])
    assert mapped_grant == sorted([*baseline, "BatchGetItem", "Query"])
    unwritten = list(baseline)
    unwritten.remove("PutItem")  # the user's write: nothing changed (the trail's entry is the other PutItem)
    assert held_again == unwritten


def test_roles_an_idp_stored_before_the_catalogue_grant_nothing_until_the_catalogue_holds_them(
    scim: Scim, user: dict[str, Any]
) -> None:
    """Before the catalogue, roles were inert data kept as sent (Entra maps app role assignments to roles): such a
    value must not become an Application Access Role on its own, nor block the user's other changes."""
    users = UserTable(connection.dynamodb(settings()), settings().users_table, "acme")
    record = users.get(user["id"])
    assert record is not None
    legacy = {**record.document, "roles": [{"value": "Admin", "primary": True}, {"value": "Auditor"}]}
    users.replace(record, replace(record, document=legacy, version=record.version + 1))

    read = scim.get(f"/Users/{user['id']}").json
    assert read[ONEMODEL_USER].get("applicationAccessRoles", []) == []
    renamed = scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "path": "displayName", "value": "Babs"}))
    assert renamed.status_code == 200
    # Auditor is in the catalogue: this write checks it and grants it; Admin is not, and stays inert, as stored.
    assert renamed.json["roles"] == [
        {"value": "Admin", "primary": True},
        {"value": "Auditor", "display": "Auditor", "type": "Application Access Role"},
    ]
    assert renamed.json[ONEMODEL_USER]["applicationAccessRoles"] == ["Auditor"]
    forged = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": 'roles[value eq "Admin"].type', "value": "Application Access Role"}),
    )
    assert forged.json[ONEMODEL_USER]["applicationAccessRoles"] == ["Auditor"]
    assert forged.json["meta"]["version"] == renamed.json["meta"]["version"]


def test_direct_grants_count_at_sign_in_whichever_the_role_source(
    scim: Scim, catalogue: None, chalice_client: Any
) -> None:
    # The role source decides where a user's Customer Supplied Roles come from; a governance product's grants
    # are no Customer Supplied Roles: they count beside them, with the groups' mappings or the SAML attribute's.
    admin = Admin(chalice_client)
    body = user_body("ada@example.com", roles=[{"value": "Auditor"}], entitlements=[{"value": "Board Pack"}])
    ada = scim.post("/Users", body).json["id"]
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": ada}]})

    by_groups = sign_in(admin, "ada@example.com", roles=["Legal"])
    assert (by_groups["dataAccessRoles"], by_groups["applicationAccessRoles"]) == (
        ["Board Pack", "Payroll"],
        ["Auditor", "Dashboards"],
    )

    admin.put("/tenants/acme/role-source", {"source": "saml-attribute", "attribute": "roles", "actor": "a"})
    by_saml = sign_in(admin, "ada@example.com", roles=["Unmapped"])
    assert (by_saml["customerSuppliedRoles"], by_saml["dataAccessRoles"], by_saml["applicationAccessRoles"]) == (
        ["Unmapped"],
        ["Board Pack"],
        ["Auditor"],
    )
    # The SCIM user keeps its grants; its effective roles are decided at each sign-in, so it lists none
    user = scim.get(f"/Users/{ada}").json
    assert [grant["value"] for grant in user["roles"]] == ["Auditor"]
    assert not {"dataAccessRoles", "applicationAccessRoles", "effectiveRoles"} & set(user[ONEMODEL_USER])
