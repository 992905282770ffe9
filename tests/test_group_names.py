"""A user read by id names its groups from the names the container kept, and never shows one that changed.

The names are kept with the tenant's group-names generation, which every rename and delete writes
in its own transaction, naming the group; the generation comes in the read's first trip, with the
tenant's mappings and role source (one query), and the names of the groups it lists as changed
since are forgotten before anything is named.
"""

from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.resources import user_groups
from chalicelib.resources.group_names import CONTAINER, MAX_AGE_SECONDS, GroupNames
from chalicelib.store import connection, group_names
from chalicelib.store.group_names import REMEMBERED, GroupNamesGeneration
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
    assert few.group_names == GroupNamesGeneration()


def test_renames_and_deletes_count_in_the_generation_and_member_changes_do_not(scim: Scim, alice: str) -> None:
    def generation() -> GroupNamesGeneration:
        return _mappings().with_settings(0, mappings=False).group_names

    body = {"schemas": [CORE_GROUP], "displayName": "Finance", "members": []}
    group = scim.post("/Groups", body).json["id"]
    scim.patch(f"/Groups/{group}", patch_body({"op": "add", "path": "members", "value": [{"value": alice}]}))
    scim.patch(f"/Groups/{group}", patch_body({"op": "replace", "path": "externalId", "value": "fin-1"}))
    assert generation() == GroupNamesGeneration()

    scim.patch(f"/Groups/{group}", patch_body({"op": "replace", "path": "displayName", "value": "Treasury"}))
    assert generation() == GroupNamesGeneration(1, {group: 1})
    other = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Legal"}).json["id"]
    scim.delete(f"/Groups/{group}")
    scim.delete(f"/Groups/{other}")
    assert generation() == GroupNamesGeneration(3, {group: 2, other: 3})


def test_a_delete_makes_a_container_forget_that_group_s_name_only(
    scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls
) -> None:
    scim.get(f"/Users/{alice}")
    other = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Legal", "members": [{"value": alice}]})
    scim.get(f"/Users/{alice}")

    assert scim.delete(f"/Groups/{other.json['id']}").status_code == 204
    dynamo_calls.reset()

    assert _named(scim.get(f"/Users/{alice}").json)[0] == ["Finance"]
    assert _group_reads(dynamo_calls) == []


def test_more_changes_than_the_generation_lists_forget_every_name_of_the_tenant(
    scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls
) -> None:
    scim.get(f"/Users/{alice}")
    for number in range(REMEMBERED + 1):
        created = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": f"Temporary {number}"})
        scim.delete(f"/Groups/{created.json['id']}")
    assert _mappings().with_settings(0, mappings=False).group_names.forgotten == 1
    dynamo_calls.reset()

    assert _named(scim.get(f"/Users/{alice}").json)[0] == ["Finance"]
    assert _group_reads(dynamo_calls) == ["BatchGetItem"]


def test_a_rename_that_lost_the_generation_to_another_reads_it_again_and_commits(
    scim: Scim, alice: str, finance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another group's delete writes the generation between this rename's read of it and its transaction.
    other = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Legal"}).json["id"]
    table = GroupTable(connection.dynamodb(settings()), settings().groups_table, TENANT, settings().role_mappings_table)
    real = group_names.next_generation
    interfered: list[str] = []

    def after_another(names_table: str, tenant: str, current: GroupNamesGeneration, group_id: str) -> Any:
        if not interfered:
            interfered.append(group_id)
            other_group = table.get(other)
            assert other_group is not None
            table.delete(other_group)
        return real(names_table, tenant, current, group_id)

    monkeypatch.setattr(group_names, "next_generation", after_another)
    renamed = scim.patch(
        f"/Groups/{finance}", patch_body({"op": "replace", "path": "displayName", "value": "Treasury"})
    )

    assert renamed.status_code in (200, 204)
    assert interfered == [finance]
    assert _mappings().with_settings(0, mappings=False).group_names == GroupNamesGeneration(2, {other: 1, finance: 2})
    assert _named(scim.get(f"/Users/{alice}").json)[0] == ["Treasury"]


def test_the_generation_lists_the_last_changes_and_what_it_forgot() -> None:
    generation = GroupNamesGeneration()
    for number in range(REMEMBERED + 2):
        generation = generation.after(f"g{number}")
    generation = generation.after("g5")  # a group changed again keeps one entry, its last

    assert generation.generation == REMEMBERED + 3
    assert len(generation.changed) == REMEMBERED
    assert generation.forgotten == 2  # g0 and g1 went; g5's second change took the place of its first
    assert generation.changed_since(1) is None
    assert generation.changed_since(2) is not None and len(generation.changed_since(2) or []) == REMEMBERED
    assert generation.changed_since(REMEMBERED + 1) == [f"g{REMEMBERED + 1}", "g5"]


def _kept(max_names: int = 3) -> tuple[GroupNames, Any]:
    return GroupNames(max_names=max_names), ("groups", "mappings", "acme")


def test_kept_names_are_bounded_least_recently_used_first() -> None:
    kept, scope = _kept()
    start = GroupNamesGeneration()
    kept.known(scope, start, [])
    kept.keep(scope, 0, {"a": "A", "b": "B", "c": "C"})
    assert kept.known(scope, start, ["a"]) == {"a": "A"}

    kept.keep(scope, 0, {"d": "D"})

    assert len(kept) == 3
    assert kept.known(scope, start, ["a", "b", "c", "d"]) == {"a": "A", "c": "C", "d": "D"}


def test_kept_names_follow_the_generation() -> None:
    kept, scope = _kept(max_names=10)
    start = GroupNamesGeneration()
    kept.known(scope, start, [])
    kept.keep(scope, 0, {"a": "A", "b": "B"})
    renamed_a = start.after("a")

    assert kept.known(scope, renamed_a, ["a", "b"]) == {"b": "B"}
    kept.keep(scope, 0, {"a": "old A"})  # read for the older generation: not kept
    assert kept.known(scope, renamed_a, ["a"]) == {}
    kept.keep(scope, 1, {"a": "new A"})
    # A read that learnt an older generation is shown the newer names.
    assert kept.known(scope, start, ["a", "b"]) == {"a": "new A", "b": "B"}
    assert kept.known(("groups", "mappings", "globex"), start, ["a"]) == {}


def test_a_tenant_forgotten_for_others_starts_again_with_no_name() -> None:
    kept = GroupNames(max_names=10, max_tenants=1)
    acme, globex = ("groups", "mappings", "acme"), ("groups", "mappings", "globex")
    kept.known(acme, GroupNamesGeneration(), [])
    kept.keep(acme, 0, {"a": "A"})

    kept.known(globex, GroupNamesGeneration(), [])

    # Acme's generation moved on while it was forgotten: its old names must not come back.
    assert kept.known(acme, GroupNamesGeneration(), ["a"]) == {}


def test_the_container_s_names_are_shared_by_every_tenant_s_storage() -> None:
    assert user_groups.GroupReader.__init__.__defaults__ == (CONTAINER,)


def test_a_kept_name_is_read_again_after_its_maximum_age() -> None:
    now = [1000.0]
    kept, scope = GroupNames(clock=lambda: now[0]), ("groups", "mappings", "acme")
    start = GroupNamesGeneration()
    kept.known(scope, start, [])
    kept.keep(scope, 0, {"a": "A"})

    now[0] += MAX_AGE_SECONDS
    assert kept.known(scope, start, ["a"]) == {"a": "A"}
    now[0] += 1
    assert kept.known(scope, start, ["a"]) == {}


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda scim, user_id: scim.get(f"/Users/{user_id}").json, id="GET by id"),
        pytest.param(
            lambda scim, user_id: scim.get("/Users", query={"filter": 'userName eq "ALICE@example.com"'}).json[
                "Resources"
            ][0],
            id="userName eq",
        ),
        pytest.param(
            lambda scim, user_id: scim.get("/Users", query={"filter": 'emails.value eq "alice@example.com"'}).json[
                "Resources"
            ][0],
            id="emails.value eq",
        ),
        pytest.param(
            lambda scim, user_id: (
                scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": "title", "value": "CFO"})).json
            ),
            id="PATCH",
        ),
        pytest.param(
            lambda scim, user_id: scim.put(f"/Users/{user_id}", user_body("alice@example.com")).json, id="PUT"
        ),
    ],
)
def test_every_user_read_names_groups_from_kept_names_and_never_a_stale_one(
    scim: Scim, alice: str, finance: str, dynamo_calls: DynamoCalls, read: Any
) -> None:
    assert _named(read(scim, alice)) == (["Finance"], ["Payroll data"], [])
    dynamo_calls.reset()
    assert _named(read(scim, alice)) == (["Finance"], ["Payroll data"], [])
    assert _group_reads(dynamo_calls) == []

    scim.patch(f"/Groups/{finance}", patch_body({"op": "replace", "path": "displayName", "value": "Treasury"}))
    dynamo_calls.reset()
    assert _named(read(scim, alice)) == (["Treasury"], ["Cash data"], ["Cash app"])
    assert _group_reads(dynamo_calls) == ["BatchGetItem"]

    scim.delete(f"/Groups/{finance}")
    assert _named(read(scim, alice)) == ([], [], [])
