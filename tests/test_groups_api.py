"""Groups as Customer Supplied Roles: memberships, renames, role mappings, and groups of any size."""

from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.resources import user_groups
from chalicelib.store import connection
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from tests.conftest import DynamoCalls, Scim, user_body
from tests.helpers import CORE_GROUP, ERROR, ONEMODEL_USER, patch_body


def group_body(name: str = "Sales EMEA", members: list[str] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": m} for m in members], **extra}


def new_user(scim: Scim, name: str) -> str:
    response = scim.post("/Users", user_body(f"{name}@example.com"))
    assert response.status_code == 201
    return str(response.json["id"])


def member_ids(scim: Scim, group_id: str) -> list[str]:
    response = scim.get(f"/Groups/{group_id}")
    assert response.status_code == 200
    return sorted(member["value"] for member in response.json.get("members", []))


def group_items(tenant: str) -> list[dict[str, Any]]:
    items = connection.dynamodb(settings()).scan(TableName=settings().groups_table)["Items"]
    return [item for item in items if item["pk"]["S"] == tenant]


@pytest.fixture
def alice(scim: Scim) -> str:
    return new_user(scim, "alice")


@pytest.fixture
def bob(scim: Scim) -> str:
    return new_user(scim, "bob")


def test_create_group_with_members(scim: Scim, alice: str, bob: str) -> None:
    response = scim.post("/Groups", group_body(members=[alice, bob], externalId="okta-00g1"))

    assert response.status_code == 201
    group = response.json
    assert response.headers["Location"] == f"http://localhost/scim/v2/Groups/{group['id']}"
    assert response.headers["ETag"] == group["meta"]["version"]
    assert group["displayName"] == "Sales EMEA"
    assert group["externalId"] == "okta-00g1"
    assert sorted(group["members"], key=lambda m: m["display"]) == [
        {
            "value": alice,
            "display": "alice@example.com",
            "type": "User",
            "$ref": f"http://localhost/scim/v2/Users/{alice}",
        },
        {"value": bob, "display": "bob@example.com", "type": "User", "$ref": f"http://localhost/scim/v2/Users/{bob}"},
    ]
    assert member_ids(scim, group["id"]) == sorted([alice, bob])


def test_display_name_is_unique_per_tenant_without_regard_to_case(scim: Scim) -> None:
    scim.post("/Groups", group_body("Sales EMEA"))

    response = scim.post("/Groups", group_body("sales emea"))

    assert response.status_code == 409
    assert response.json["scimType"] == "uniqueness"


def test_unknown_member_is_400_naming_it_and_nothing_is_written(scim: Scim, alice: str) -> None:
    response = scim.post("/Groups", group_body(members=[alice, "no-such-user"]))

    assert response.status_code == 400
    assert response.json["scimType"] == "invalidValue"
    assert "no-such-user" in response.json["detail"]
    assert group_items("acme") == []


def test_another_tenants_user_cannot_be_a_member(scim: Scim, other_scim: Scim) -> None:
    stranger = new_user(other_scim, "stranger")

    response = scim.post("/Groups", group_body(members=[stranger]))

    assert response.status_code == 400
    assert stranger in response.json["detail"]


def test_a_group_cannot_be_a_member(scim: Scim) -> None:
    inner = scim.post("/Groups", group_body("Inner")).json["id"]

    response = scim.post("/Groups", {**group_body("Outer"), "members": [{"value": inner, "type": "Group"}]})

    assert response.status_code == 400
    assert response.json["scimType"] == "invalidValue"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"displayName": "d" * 1100}, "displayName is too long"),
        ({"displayName": "\U0001f600" * 255}, "displayName is too long"),
        ({"externalId": "e" * 2100}, "externalId is too long"),
    ],
)
def test_values_dynamodb_cannot_keep_are_400_naming_them_and_write_nothing(
    scim: Scim, extra: dict[str, str], named: str
) -> None:
    """Found by tests/test_fuzz.py: DynamoDB's key limits answered 500."""
    response = scim.post("/Groups", {**group_body(), **extra})

    assert response.status_code == 400, response.body
    assert response.json["scimType"] == "invalidValue"
    assert named in response.json["detail"]
    assert group_items("acme") == []


def test_a_rename_dynamodb_cannot_keep_is_400_and_changes_nothing(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    response = scim.patch(
        f"/Groups/{group['id']}", patch_body({"op": "replace", "path": "displayName", "value": "d" * 1100})
    )

    assert response.status_code == 400
    assert scim.get(f"/Groups/{group['id']}").json == group


@pytest.mark.usefixtures("dynamodb_key_limits")
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_id_longer_than_any_key_is_404_without_asking_dynamodb(scim: Scim, method: str) -> None:
    """DynamoDB refuses such a key in a read too (moto does not: the fixture does it as AWS does)."""
    body = patch_body({"op": "add", "path": "members", "value": [{"value": "m" * 1100}]}) if method == "PATCH" else None

    response = scim.request(method, "/Groups/" + "g" * 1100, body or group_body())

    assert response.status_code == 404, response.body


@pytest.mark.usefixtures("dynamodb_key_limits")
@pytest.mark.parametrize("attribute", ["id", "displayName", "externalId", "members.value", "members"])
@pytest.mark.parametrize("operator", ["eq", "sw"])
def test_filter_values_longer_than_any_key_find_nothing(scim: Scim, alice: str, attribute: str, operator: str) -> None:
    scim.post("/Groups", group_body("Finance", [alice]))
    too_long = "\U0001f600" * 520  # 2080 bytes: over every key's limit

    response = scim.get("/Groups", query={"filter": f'{attribute} {operator} "{too_long}"'})

    assert response.status_code == 200, response.body
    assert response.json["totalResults"] == 0


def test_get_unknown_group_is_404(scim: Scim) -> None:
    response = scim.get("/Groups/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json["schemas"] == [ERROR]


def test_list_groups_the_way_entra_checks_existence(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json
    scim.post("/Groups", group_body("Legal"))

    response = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "finance"')

    assert response.status_code == 200
    assert response.json["totalResults"] == 1
    (found,) = response.json["Resources"]
    assert found["id"] == group["id"]
    assert "members" not in found


def test_filter_groups_by_external_id_and_by_member(scim: Scim, alice: str, bob: str) -> None:
    finance = scim.post("/Groups", group_body("Finance", [alice], externalId="e-1")).json["id"]
    legal = scim.post("/Groups", group_body("Legal", [bob], externalId="e-2")).json["id"]

    by_external_id = scim.get('/Groups?filter=externalId eq "e-2"').json["Resources"]
    by_member = scim.get(f'/Groups?filter=members.value eq "{alice}"').json["Resources"]

    assert [g["id"] for g in by_external_id] == [legal]
    assert [g["id"] for g in by_member] == [finance]


def test_put_replaces_members_writing_only_the_difference(
    scim: Scim, dynamo_calls: DynamoCalls, alice: str, bob: str
) -> None:
    carol = new_user(scim, "carol")
    group = scim.post("/Groups", group_body("Finance", [alice, bob])).json
    dynamo_calls.reset()

    response = scim.put(f"/Groups/{group['id']}", group_body("Finance", [bob, carol]))

    assert response.status_code == 200
    assert sorted(m["value"] for m in response.json["members"]) == sorted([bob, carol])
    assert member_ids(scim, group["id"]) == sorted([bob, carol])
    (transaction,) = dynamo_calls.named("TransactWriteItems")
    keys = [op.get("Put", op.get("Delete", {})) for op in transaction["TransactItems"]]
    touched = sorted((item.get("Item") or item.get("Key"))["sk"]["S"] for item in keys)
    assert touched == sorted([f"group#{group['id']}", f"member#{group['id']}#{alice}", f"member#{group['id']}#{carol}"])


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "{carol}"}]},  # Entra
        {"op": "add", "path": "members", "value": [{"value": "{carol}", "display": "carol"}]},  # Okta
        {"op": "add", "value": {"members": [{"value": "{carol}"}]}},  # path-less
    ],
)
def test_patch_adds_members(scim: Scim, alice: str, operation: dict[str, Any]) -> None:
    carol = new_user(scim, "carol")
    group = scim.post("/Groups", group_body("Finance", [alice])).json
    body = patch_body(_fill(operation, carol))

    response = scim.patch(f"/Groups/{group['id']}", body)

    assert response.status_code == 204
    assert response.headers["ETag"] != group["meta"]["version"]
    assert member_ids(scim, group["id"]) == sorted([alice, carol])


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Remove", "path": "members", "value": [{"value": "{bob}"}]},  # Entra's default dialect
        {"op": "remove", "path": 'members[value eq "{bob}"]'},  # Okta, Entra with aadOptscim062020
    ],
)
def test_patch_removes_a_member(scim: Scim, alice: str, bob: str, operation: dict[str, Any]) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice, bob])).json

    response = scim.patch(f"/Groups/{group['id']}", patch_body(_fill(operation, bob)))

    assert response.status_code == 204
    assert member_ids(scim, group["id"]) == [alice]


def test_patch_removes_every_member(scim: Scim, alice: str, bob: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice, bob])).json

    scim.patch(f"/Groups/{group['id']}", patch_body({"op": "remove", "path": "members"}))

    assert member_ids(scim, group["id"]) == []


def test_patch_replaces_members(scim: Scim, alice: str, bob: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    scim.patch(f"/Groups/{group['id']}", patch_body({"op": "replace", "path": "members", "value": [{"value": bob}]}))

    assert member_ids(scim, group["id"]) == [bob]


def test_okta_rename_with_id_in_the_value(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    response = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "replace", "value": {"id": group["id"], "displayName": "Finance EMEA"}}),
    )

    assert response.status_code == 204
    renamed = scim.get(f"/Groups/{group['id']}").json
    assert renamed["displayName"] == "Finance EMEA"
    assert [m["value"] for m in renamed["members"]] == [alice]
    assert scim.post("/Groups", group_body("Finance")).status_code == 201


def test_rename_onto_a_taken_display_name_is_409(scim: Scim) -> None:
    scim.post("/Groups", group_body("Legal"))
    group = scim.post("/Groups", group_body("Finance")).json

    response = scim.patch(
        f"/Groups/{group['id']}", patch_body({"op": "replace", "path": "displayName", "value": "LEGAL"})
    )

    assert response.status_code == 409
    assert response.json["scimType"] == "uniqueness"
    assert scim.get(f"/Groups/{group['id']}").json["displayName"] == "Finance"


def test_patch_with_attributes_answers_200_with_the_group(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance")).json

    response = scim.patch(
        f"/Groups/{group['id']}?attributes=members",
        patch_body({"op": "add", "path": "members", "value": [{"value": alice}]}),
    )

    assert response.status_code == 200
    assert [m["value"] for m in response.json["members"]] == [alice]


def test_patch_adding_an_unknown_member_is_400_and_changes_nothing(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    response = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "add", "path": "members", "value": [{"value": "ghost"}, {"value": alice}]}),
    )

    assert response.status_code == 400
    assert "ghost" in response.json["detail"]
    assert scim.get(f"/Groups/{group['id']}").json["meta"]["version"] == group["meta"]["version"]


def test_patch_that_changes_nothing_keeps_the_version(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    response = scim.patch(
        f"/Groups/{group['id']}", patch_body({"op": "add", "path": "members", "value": [{"value": alice}]})
    )

    assert response.headers["ETag"] == group["meta"]["version"]


def test_patch_with_a_stale_if_match_is_412(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance")).json
    scim.patch(f"/Groups/{group['id']}", patch_body({"op": "add", "path": "members", "value": [{"value": alice}]}))

    response = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "remove", "path": "members"}),
        headers={"If-Match": group["meta"]["version"]},
    )

    assert response.status_code == 412
    assert member_ids(scim, group["id"]) == [alice]


def test_delete_group_removes_it_and_its_memberships_and_keeps_the_users(scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    assert scim.delete(f"/Groups/{group['id']}").status_code == 204

    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert scim.get(f"/Users/{alice}").json.get("groups", []) == []
    assert group_items("acme") == []
    assert scim.post("/Groups", group_body("Finance")).status_code == 201


@pytest.mark.parametrize("read_whole", [100, 1], ids=["mappings read whole", "mappings read by key"])
def test_users_groups_and_effective_roles_follow_memberships_and_mappings(
    scim: Scim, alice: str, read_whole: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tenant with more mappings than a user read takes whole reads those of the user's groups by key.
    monkeypatch.setattr(user_groups, "MAPPINGS_READ_WHOLE", read_whole)
    mappings = RoleMappingTable(connection.dynamodb(settings()), settings().role_mappings_table, "acme")
    mappings.put(RoleMapping("Finance", ("Payroll data",), ("Dashboards",)))
    mappings.put(RoleMapping("legal", ("Contracts data", "Payroll data"), ("Reports",)))
    finance = scim.post("/Groups", group_body("Finance", [alice])).json["id"]
    legal = scim.post("/Groups", group_body("Legal")).json["id"]

    user = scim.get(f"/Users/{alice}").json
    assert user["groups"] == [
        {"value": finance, "display": "Finance", "type": "direct", "$ref": f"http://localhost/scim/v2/Groups/{finance}"}
    ]
    assert user[ONEMODEL_USER]["customerSuppliedRoles"] == ["Finance"]
    assert user[ONEMODEL_USER]["dataAccessRoles"] == ["Payroll data"]
    assert user[ONEMODEL_USER]["applicationAccessRoles"] == ["Dashboards"]

    scim.patch(f"/Groups/{legal}", patch_body({"op": "add", "path": "members", "value": [{"value": alice}]}))
    user = scim.get(f"/Users/{alice}").json
    assert user[ONEMODEL_USER]["customerSuppliedRoles"] == ["Finance", "Legal"]
    assert user[ONEMODEL_USER]["dataAccessRoles"] == ["Contracts data", "Payroll data"]
    assert user[ONEMODEL_USER]["applicationAccessRoles"] == ["Dashboards", "Reports"]

    # A user write answers with the same groups and roles, read beside the write.
    patched = scim.patch(f"/Users/{alice}", patch_body({"op": "replace", "path": "title", "value": "Controller"})).json
    assert patched["groups"] == user["groups"]
    assert patched[ONEMODEL_USER] == user[ONEMODEL_USER]
    listed = scim.get(f'/Users?filter=userName eq "{patched["userName"]}"').json["Resources"]
    assert [found[ONEMODEL_USER] for found in listed] == [user[ONEMODEL_USER]]
    paged = scim.get("/Users?count=10").json["Resources"]
    assert [found[ONEMODEL_USER]["dataAccessRoles"] for found in paged if found["id"] == alice] == [
        ["Contracts data", "Payroll data"]
    ]

    mappings.put(RoleMapping("Finance", ("Headcount data",), ()))
    scim.patch(f"/Groups/{legal}", patch_body({"op": "remove", "path": f'members[value eq "{alice}"]'}))
    user = scim.get(f"/Users/{alice}").json
    assert user[ONEMODEL_USER]["customerSuppliedRoles"] == ["Finance"]
    assert user[ONEMODEL_USER]["dataAccessRoles"] == ["Headcount data"]
    assert user[ONEMODEL_USER].get("applicationAccessRoles", []) == []  # empty lists are omitted, never null


def test_members_of_a_group_are_listed_page_by_page(scim: Scim) -> None:
    users = sorted(new_user(scim, f"user{n}") for n in range(5))
    outsider = new_user(scim, "outsider")
    group = scim.post("/Groups", group_body("Finance", users)).json["id"]

    pages = [
        scim.get(f'/Users?filter=groups.value eq "{group}"&startIndex={start}&count=2').json for start in (1, 3, 5)
    ]

    assert [page["totalResults"] for page in pages] == [5, 5, 5]
    assert [page["startIndex"] for page in pages] == [1, 3, 5]
    listed = [user["id"] for page in pages for user in page["Resources"]]
    assert listed == users
    assert outsider not in listed


def test_members_of_an_unknown_group_is_an_empty_list(scim: Scim) -> None:
    response = scim.get('/Users?filter=groups.value eq "no-such-group"')
    assert (response.status_code, response.json["totalResults"]) == (200, 0)


def test_another_tenant_cannot_see_or_touch_groups(scim: Scim, other_scim: Scim, alice: str) -> None:
    group = scim.post("/Groups", group_body("Finance", [alice])).json

    assert other_scim.get(f"/Groups/{group['id']}").status_code == 404
    assert other_scim.get("/Groups").json["totalResults"] == 0
    assert other_scim.get(f'/Groups?filter=members.value eq "{alice}"').json["totalResults"] == 0
    assert other_scim.get(f'/Users?filter=groups.value eq "{group["id"]}"').json["totalResults"] == 0
    assert (
        other_scim.patch(f"/Groups/{group['id']}", patch_body({"op": "remove", "path": "members"})).status_code == 404
    )
    assert other_scim.put(f"/Groups/{group['id']}", group_body("Finance")).status_code == 404
    assert other_scim.delete(f"/Groups/{group['id']}").status_code == 404
    assert member_ids(scim, group["id"]) == [alice]
    assert other_scim.post("/Groups", group_body("Finance")).status_code == 201


def _fill(operation: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Put a user id where a parametrised operation names one of {carol} or {bob}."""
    import json

    text = json.dumps(operation).replace("{carol}", user_id).replace("{bob}", user_id)
    filled: dict[str, Any] = json.loads(text)
    return filled


def test_members_display_follows_a_rename_of_the_user(scim: Scim, alice: str, bob: str) -> None:
    groups = [
        scim.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": alice}, {"value": bob}]}
        )
        for name in ("Sales", "Finance")
    ]
    rename = patch_body({"op": "replace", "path": "userName", "value": "alice.smith"})

    assert scim.patch(f"/Users/{alice}", rename).status_code == 200

    for group in groups:
        members = {m["value"]: m["display"] for m in scim.get(f"/Groups/{group.json['id']}").json["members"]}
        assert members == {alice: "alice.smith", bob: "bob@example.com"}
    listed = scim.get("/Groups", query={"filter": f'members.value eq "{alice}"'}).json["Resources"]
    assert {m["display"] for g in listed for m in g["members"] if m["value"] == alice} == {"alice.smith"}

    assert scim.put(f"/Users/{alice}", user_body("alice.jones@example.com")).status_code == 200
    assert {m["display"] for m in scim.get(f"/Groups/{groups[0].json['id']}").json["members"]} == {
        "alice.jones@example.com",
        "bob@example.com",
    }
