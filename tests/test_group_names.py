"""A user read by id names its groups from the names the container kept, and never shows one that changed.

The names are kept under the tenant's group-names generation, which every rename and delete
increments in its own transaction; the generation comes in the read's first trip, with the
tenant's mappings and role source (one query).
"""

from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.resources import user_groups
from chalicelib.resources.group_names import CONTAINER, GroupNames
from chalicelib.store import connection
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.role_sources import SAML_ATTRIBUTE, RoleSource, RoleSourceTable
from tests.conftest import DynamoCalls, Scim, user_body
from tests.helpers import CORE_GROUP, ONEMODEL_USER, patch_body

TENANT = "acme"  # the tenant of the `scim` fixture


def _mappings() -> RoleMappingTable:
    return RoleMappingTable(connection.dynamodb(settings()), settings().role_mappings_table, TENANT)


@pytest.fixture
def alice(scim: Scim) -> str:
    user_id: str = scim.post("/Users", user_body("alice@example.com")).json["id"]
    return user_id


@pytest.fixture
def finance(scim: Scim, alice: str) -> str:
    """Alice's group Finance; Finance and Treasury are mapped."""
    _mappings().put(RoleMapping("Finance", ("Payroll data",), ()))
    _mappings().put(RoleMapping("Treasury", ("Cash data",), ("Cash app",)))
    body = {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": alice}]}
    group_id: str = scim.post("/Groups", body).json["id"]
    return group_id


def _group_reads(calls: DynamoCalls) -> list[str]:
    """The calls of the last requests that read the groups table's items (the memberships' index aside)."""
    table = settings().groups_table
    return [
        name
        for name, params in calls.calls
        if (params.get("TableName") == table and "IndexName" not in params) or table in params.get("RequestItems", {})
    ]


def _named(user: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    product = user[ONEMODEL_USER]
    groups = [group["display"] for group in user.get("groups", [])]
    return groups, product.get("dataAccessRoles", []), product.get("applicationAccessRoles", [])


def test_a_second_read_of_a_user_names_its_groups_without_reading_them(
    scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls
) -> None:
    dynamo_calls.reset()
    first = scim.get(f"/Users/{alice}")
    assert _group_reads(dynamo_calls) == ["BatchGetItem"]

    dynamo_calls.reset()
    second = scim.get(f"/Users/{alice}")

    assert second.status_code == 200
    assert second.json == first.json
    assert _named(second.json) == (["Finance"], ["Payroll data"], [])
    assert _group_reads(dynamo_calls) == []
    # The user, its memberships, and one query of the tenant's mappings and settings: no role source read of its own.
    mappings_table = settings().role_mappings_table
    assert [name for name, params in dynamo_calls.calls if params.get("TableName") == mappings_table] == ["Query"]


@pytest.mark.parametrize("how", ["PATCH", "PUT"])
def test_a_rename_shows_at_once_with_the_new_name_s_roles(scim: Scim, alice: str, finance: str, how: str) -> None:
    assert _named(scim.get(f"/Users/{alice}").json) == (["Finance"], ["Payroll data"], [])

    if how == "PATCH":
        renamed = scim.patch(
            f"/Groups/{finance}", patch_body({"op": "replace", "path": "displayName", "value": "Treasury"})
        )
    else:
        body = {"schemas": [CORE_GROUP], "displayName": "Treasury", "members": [{"value": alice}]}
        renamed = scim.put(f"/Groups/{finance}", body)
    assert renamed.status_code in (200, 204)

    assert _named(scim.get(f"/Users/{alice}").json) == (["Treasury"], ["Cash data"], ["Cash app"])
    assert _named(scim.get(f"/Users/{alice}").json) == (["Treasury"], ["Cash data"], ["Cash app"])


def test_a_new_spelling_of_the_same_name_shows_at_once(scim: Scim, alice: str, finance: str) -> None:
    assert _named(scim.get(f"/Users/{alice}").json)[0] == ["Finance"]

    scim.patch(f"/Groups/{finance}", patch_body({"op": "replace", "path": "displayName", "value": "FINANCE"}))

    assert _named(scim.get(f"/Users/{alice}").json) == (["FINANCE"], ["Payroll data"], [])


def test_a_group_deleted_before_its_memberships_are_gone_shows_on_no_user(
    scim: Scim, alice: str, finance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _named(scim.get(f"/Users/{alice}").json)[0] == ["Finance"]
    # The delete commits, then its Lambda stops before the memberships are deleted (a timeout).
    monkeypatch.setattr(GroupTable, "_delete_memberships", lambda self, members: None)

    assert scim.delete(f"/Groups/{finance}").status_code == 204

    user = scim.get(f"/Users/{alice}").json
    assert "groups" not in user
    assert _named(user) == ([], [], [])
    assert user[ONEMODEL_USER].get("customerSuppliedRoles", []) == []


def test_a_member_change_reads_no_name_again(scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls) -> None:
    bob = scim.post("/Users", user_body("bob@example.com")).json["id"]
    scim.get(f"/Users/{alice}")

    scim.patch(f"/Groups/{finance}", patch_body({"op": "add", "path": "members", "value": [{"value": bob}]}))
    dynamo_calls.reset()
    read = scim.get(f"/Users/{bob}").json
    scim.get(f"/Users/{alice}")

    assert _named(read) == (["Finance"], ["Payroll data"], [])
    assert _group_reads(dynamo_calls) == []


def test_a_group_created_meanwhile_is_read_once_then_kept(
    scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls
) -> None:
    scim.get(f"/Users/{alice}")
    body = {"schemas": [CORE_GROUP], "displayName": "Treasury", "members": [{"value": alice}]}
    scim.post("/Groups", body)

    dynamo_calls.reset()
    assert _named(scim.get(f"/Users/{alice}").json) == (
        ["Finance", "Treasury"],
        ["Cash data", "Payroll data"],
        ["Cash app"],
    )
    # Only the new group is read.
    (batch,) = dynamo_calls.named("BatchGetItem")
    assert len(batch["RequestItems"][settings().groups_table]["Keys"]) == 1

    dynamo_calls.reset()
    scim.get(f"/Users/{alice}")
    assert _group_reads(dynamo_calls) == []


@pytest.mark.parametrize("read_whole", [100, 1], ids=["mappings read whole", "mappings read by key"])
def test_the_role_source_comes_with_the_mappings_however_many_they_are(
    scim: Scim, alice: str, finance: str, read_whole: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_groups, "MAPPINGS_READ_WHOLE", read_whole)
    roles = RoleSourceTable(connection.dynamodb(settings()), settings().role_mappings_table, TENANT)

    assert _named(scim.get(f"/Users/{alice}").json) == (["Finance"], ["Payroll data"], [])
    roles.put(RoleSource(SAML_ATTRIBUTE, "roles"))

    user = scim.get(f"/Users/{alice}").json
    # Under a SAML attribute the groups grant no role (roles come at sign-in).
    assert _named(user) == (["Finance"], [], [])


def test_the_settings_query_reads_settings_first_and_stops_after_the_limit(aws: None) -> None:
    table = _mappings()
    for number in range(5):
        table.put(RoleMapping(f"role {number}", (f"data {number}",), ()))
    RoleSourceTable(table.client, table.table, TENANT).put(RoleSource(SAML_ATTRIBUTE, "roles"))

    few = table.with_settings(5)
    many = table.with_settings(4)
    settings_only = table.with_settings(4, mappings=False)

    assert few.mappings is not None and sorted(m.customer_supplied_role for m in few.mappings) == [
        f"role {number}" for number in range(5)
    ]
    assert many.mappings is None and settings_only.mappings is None
    assert few.role_source == many.role_source == settings_only.role_source == RoleSource(SAML_ATTRIBUTE, "roles")
    assert few.group_names_generation == 0


def test_renames_and_deletes_count_in_the_generation_and_member_changes_do_not(scim: Scim, alice: str) -> None:
    def generation() -> int:
        return _mappings().with_settings(0, mappings=False).group_names_generation

    body = {"schemas": [CORE_GROUP], "displayName": "Finance", "members": []}
    group = scim.post("/Groups", body).json["id"]
    scim.patch(f"/Groups/{group}", patch_body({"op": "add", "path": "members", "value": [{"value": alice}]}))
    scim.patch(f"/Groups/{group}", patch_body({"op": "replace", "path": "externalId", "value": "fin-1"}))
    assert generation() == 0

    scim.patch(f"/Groups/{group}", patch_body({"op": "replace", "path": "displayName", "value": "Treasury"}))
    assert generation() == 1
    scim.delete(f"/Groups/{group}")
    assert generation() == 2


def test_kept_names_are_bounded_least_recently_used_first() -> None:
    kept = GroupNames(max_names=3)
    scope = ("groups", "mappings", "acme", 0)
    kept.keep(scope, {"a": "A", "b": "B", "c": "C"})
    assert kept.known(scope, ["a"]) == {"a": "A"}

    kept.keep(scope, {"d": "D"})

    assert len(kept) == 3
    assert kept.known(scope, ["a", "b", "c", "d"]) == {"a": "A", "c": "C", "d": "D"}


def test_kept_names_belong_to_one_tenant_and_one_generation() -> None:
    kept = GroupNames()
    kept.keep(("groups", "mappings", "acme", 4), {"g": "Finance"})

    assert kept.known(("groups", "mappings", "acme", 5), ["g"]) == {}
    assert kept.known(("groups", "mappings", "globex", 4), ["g"]) == {}
    assert kept.known(("groups", "restored-mappings", "acme", 4), ["g"]) == {}
    assert kept.known(("groups", "mappings", "acme", 4), ["g"]) == {"g": "Finance"}


def test_the_container_s_names_are_shared_by_every_tenant_s_storage() -> None:
    assert user_groups.GroupReader.__init__.__defaults__ == (CONTAINER,)
