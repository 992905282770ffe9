"""``userName eq``, the read an IdP makes before nearly every create: its groups come in the second round trip,
read by userName key beside the claim, and a stale prediction costs a third trip, never a wrong group or role.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.store import connection, groups
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from tests.conftest import DynamoCalls, Scim, user_body
from tests.helpers import CORE_GROUP, ONEMODEL_USER, patch_body


@pytest.fixture(autouse=True)
def index_state_forgotten(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with the container knowing nothing of a missing index."""
    monkeypatch.setattr(groups, "_index_absent_until", {})
    yield


def created(scim: Scim, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = scim.post(path, body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def group(scim: Scim, name: str, *member_ids: str) -> str:
    body = {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": i} for i in member_ids]}
    return str(created(scim, "/Groups", body)["id"])


def found_by_user_name(scim: Scim, user_name: str) -> list[dict[str, Any]]:
    response = scim.get("/Users", query={"filter": f'userName eq "{user_name}"'})
    assert response.status_code == 200
    return list(response.json["Resources"])


def group_names(user: dict[str, Any]) -> list[str]:
    return [g["display"] for g in user.get("groups", [])]


def membership_items() -> list[dict[str, Any]]:
    client = connection.dynamodb(settings())
    found = client.scan(TableName=settings().groups_table)["Items"]
    return [item for item in found if item["sk"]["S"].startswith("member#")]


def refile(member_name_key: str | None) -> None:
    """Give every membership another userName key (or none): what a rename, or an index not yet filled, leaves."""
    client = connection.dynamodb(settings())
    for item in membership_items():
        key = {"pk": item["pk"], "sk": item["sk"]}
        if member_name_key is None:
            client.update_item(TableName=settings().groups_table, Key=key, UpdateExpression="REMOVE member_name_key")
        else:
            client.update_item(
                TableName=settings().groups_table,
                Key=key,
                UpdateExpression="SET member_name_key = :k",
                ExpressionAttributeValues={":k": {"S": f"{item['pk']['S']}#{member_name_key}"}},
            )


def test_user_name_eq_shows_the_users_groups_and_roles_from_the_name_index(
    scim: Scim, dynamo_calls: DynamoCalls
) -> None:
    # Given a user in two groups, one of them mapped to roles
    user = created(scim, "/Users", user_body("bjensen@example.com"))
    group(scim, "Engineering", user["id"])
    group(scim, "Sales", user["id"])
    RoleMappingTable(connection.dynamodb(settings()), settings().role_mappings_table, "acme").put(
        RoleMapping("Engineering", ("DAR-eng",), ("AAR-eng",))
    )
    dynamo_calls.reset()

    # When an IdP looks it up by userName, in another case
    [found] = found_by_user_name(scim, "BJensen@Example.com")

    # Then it sees the groups and roles, read once each: the names in one batch, beside the user
    assert found["id"] == user["id"]
    assert group_names(found) == ["Engineering", "Sales"]
    assert found[ONEMODEL_USER]["dataAccessRoles"] == ["DAR-eng"]
    assert [p.get("IndexName") for p in dynamo_calls.named("Query") if p.get("IndexName")] == [
        "byMemberName",
        "byMember",
    ]
    assert len(dynamo_calls.named("BatchGetItem")) == 1


def test_user_name_eq_after_a_rename_shows_the_groups_under_the_new_name_only(scim: Scim) -> None:
    user = created(scim, "/Users", user_body("bjensen@example.com"))
    group(scim, "Engineering", user["id"])

    rename = patch_body({"op": "replace", "path": "userName", "value": "bj@example.com"})
    assert scim.patch(f"/Users/{user['id']}", rename).status_code == 200

    assert found_by_user_name(scim, "bjensen@example.com") == []
    [found] = found_by_user_name(scim, "bj@example.com")
    assert group_names(found) == ["Engineering"]
    assert {item["member_name_key"]["S"] for item in membership_items()} == {"acme#bj@example.com"}


def test_a_membership_the_name_index_misses_costs_a_third_trip_not_a_group(
    scim: Scim, dynamo_calls: DynamoCalls
) -> None:
    # Given memberships filed under no userName (written before the index, or not yet moved by a rename)
    user = created(scim, "/Users", user_body("bjensen@example.com"))
    group(scim, "Engineering", user["id"])
    refile(None)
    group(scim, "Sales", user["id"])
    dynamo_calls.reset()

    [found] = found_by_user_name(scim, "bjensen@example.com")

    # Then both groups show: the missed one's name read in one more batch, once the memberships by id named it
    assert group_names(found) == ["Engineering", "Sales"]
    assert len(dynamo_calls.named("BatchGetItem")) == 2


def test_a_former_holders_membership_under_the_name_never_shows(scim: Scim) -> None:
    # Given a user whose memberships are still filed under a userName another user now holds
    former = created(scim, "/Users", user_body("old@example.com"))
    group(scim, "Former's group", former["id"])
    refile("bjensen@example.com")
    current = created(scim, "/Users", user_body("bjensen@example.com"))

    [found] = found_by_user_name(scim, "bjensen@example.com")

    assert found["id"] == current["id"]
    assert group_names(found) == []
    assert found[ONEMODEL_USER].get("customerSuppliedRoles", []) == []


def test_without_the_name_index_the_lookup_reads_by_id(
    scim: Scim, dynamo_calls: DynamoCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stage whose groups table has no such index yet (its infra not redeployed)
    user = created(scim, "/Users", user_body("bjensen@example.com"))
    group(scim, "Engineering", user["id"])
    monkeypatch.setattr(groups, "GROUPS_BY_MEMBER_NAME", "byMemberNameNotCreated")
    dynamo_calls.reset()

    [first] = found_by_user_name(scim, "bjensen@example.com")
    [second] = found_by_user_name(scim, "bjensen@example.com")

    # Then both answers are right, and the container stops asking for the missing index after the first
    assert group_names(first) == group_names(second) == ["Engineering"]
    asked = [p.get("IndexName") for p in dynamo_calls.named("Query")]
    assert asked.count("byMemberNameNotCreated") == 1
    assert asked.count("byMember") == 2
