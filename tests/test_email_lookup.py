"""Lookups by email (``emails.value eq``, ``emails[type eq "work"].value eq``), as Okta and Entra ID can match
users: answered from pointer items written in the user's transaction, once the tenant's pointers are complete;
before that (a tenant older than the pointers, until ``admin emails backfill``) by reading every user.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from admin.__main__ import main
from chalicelib.config import settings
from chalicelib.management.operations import Actor, Management
from chalicelib.store import connection, emails
from chalicelib.store.users import UserTable
from tests.conftest import DynamoCalls, Scim, user_body
from tests.helpers import CORE_GROUP, patch_body


@pytest.fixture(autouse=True)
def marks_forgotten(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's container has seen no tenant's mark yet (moto is emptied between tests)."""
    monkeypatch.setattr(emails, "_complete", set())
    yield


def users_table(tenant: str = "acme") -> UserTable:
    return UserTable(connection.dynamodb(settings()), settings().users_table, tenant)


@pytest.fixture
def complete(scim: Scim) -> None:
    """The tenant's pointers are complete (as for a tenant created since they exist)."""
    users_table().emails.mark_complete()


def created(scim: Scim, user_name: str, **extra: Any) -> dict[str, Any]:
    response = scim.post("/Users", user_body(user_name, **extra))
    assert response.status_code == 201, response.json
    return dict(response.json)


def ids_found(scim: Scim, scim_filter: str) -> list[str]:
    response = scim.get("/Users", query={"filter": scim_filter})
    assert response.status_code == 200, response.json
    return [user["id"] for user in response.json["Resources"]]


def read_every_user(calls: DynamoCalls) -> bool:
    """Whether a request read the tenant's users page by page (the scan-like path), not by key."""
    return any(
        params.get("ExpressionAttributeValues", {}).get(":p", {}).get("S") == "user#" for params in calls.named("Query")
    )


def pointers() -> list[str]:
    found = connection.dynamodb(settings()).scan(TableName=settings().users_table)["Items"]
    return sorted(item["sk"]["S"].rsplit("#", 1)[0] for item in found if item["sk"]["S"].startswith("email"))


@pytest.mark.usefixtures("complete")
def test_email_eq_finds_the_user_by_its_pointer_whatever_the_case(scim: Scim, dynamo_calls: DynamoCalls) -> None:
    user = created(scim, "bjensen@example.com")
    created(scim, "jsmith@example.com")
    dynamo_calls.reset()

    assert ids_found(scim, 'emails.value eq "BJensen@Example.com"') == [user["id"]]
    assert ids_found(scim, 'emails[type eq "work"].value eq "bjensen@example.com"') == [user["id"]]
    assert ids_found(scim, 'emails eq "nobody@example.com"') == []
    assert not read_every_user(dynamo_calls)


@pytest.mark.usefixtures("complete")
def test_the_type_in_the_filter_still_decides(scim: Scim) -> None:
    home = [{"value": "bj@home.example", "type": "home"}]
    user = created(scim, "bjensen@example.com", emails=home)

    assert ids_found(scim, 'emails[type eq "work"].value eq "bj@home.example"') == []
    assert ids_found(scim, 'emails[type eq "home"].value eq "bj@home.example"') == [user["id"]]


@pytest.mark.usefixtures("complete")
def test_a_changed_address_moves_its_pointer_and_a_shared_one_finds_both(scim: Scim) -> None:
    first = created(scim, "bjensen@example.com")
    second = created(scim, "barbara@example.com", emails=[{"value": "shared@example.com", "type": "work"}])
    change = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "shared@example.com"}
    response = scim.patch(f"/Users/{first['id']}", patch_body(change))
    assert response.status_code == 200, response.json

    assert ids_found(scim, 'emails.value eq "bjensen@example.com"') == []
    assert sorted(ids_found(scim, 'emails.value eq "shared@example.com"')) == sorted([first["id"], second["id"]])
    assert pointers() == ["email#shared@example.com", "email#shared@example.com"]


@pytest.mark.usefixtures("complete")
def test_a_user_with_more_addresses_than_pointed_is_found_by_any(scim: Scim) -> None:
    many = [{"value": f"bj{n}@example.com", "type": "other"} for n in range(emails.MAX_POINTED_EMAILS + 1)]
    user = created(scim, "bjensen@example.com", emails=many)
    other = created(scim, "jsmith@example.com")

    assert ids_found(scim, 'emails.value eq "bj7@example.com"') == [user["id"]]
    assert ids_found(scim, 'emails.value eq "jsmith@example.com"') == [other["id"]]
    assert "emailAny" in pointers()


@pytest.mark.usefixtures("complete")
def test_email_eq_shows_the_users_groups_read_beside_its_item(scim: Scim, dynamo_calls: DynamoCalls) -> None:
    user = created(scim, "bjensen@example.com")
    body = {"schemas": [CORE_GROUP], "displayName": "Engineering", "members": [{"value": user["id"]}]}
    assert scim.post("/Groups", body).status_code == 201
    dynamo_calls.reset()

    response = scim.get("/Users", query={"filter": 'emails[type eq "work"].value eq "bjensen@example.com"'})

    assert [g["display"] for g in response.json["Resources"][0]["groups"]] == ["Engineering"]
    # the groups' names in one batch, predicted from the address taken as the userName
    assert len(dynamo_calls.named("BatchGetItem")) == 1


def test_until_the_tenant_is_complete_lookups_read_every_user_then_backfill_makes_them_keyed(
    scim: Scim, dynamo_calls: DynamoCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tenant older than the pointers: users without them, and no mark
    for n in range(3):
        created(scim, f"user{n}@example.com")
    table = connection.dynamodb(settings())
    for item in table.scan(TableName=settings().users_table)["Items"]:
        if item["sk"]["S"].startswith("email"):
            table.delete_item(TableName=settings().users_table, Key={"pk": item["pk"], "sk": item["sk"]})
    dynamo_calls.reset()

    # Then a lookup is still right, reading every user
    assert len(ids_found(scim, 'emails.value eq "user1@example.com"')) == 1
    assert read_every_user(dynamo_calls)

    # When the operator backfills (a first run that stopped after one user, then a second)
    first_user = next(iter(users_table().all()))
    for put in users_table().emails.puts(first_user.id, emails.pointer_keys(first_user.id, first_user.document)):
        table.put_item(**put)
    table.put_item(
        TableName=settings().users_table,
        Item={"pk": {"S": "acme"}, "sk": {"S": emails.MARK}, "after": {"S": f"user#{first_user.id}"}},
    )
    assert main(["--stage", "test", "emails", "backfill", "acme"]) == 0
    out = capsys.readouterr().out

    # Then the second run covers only what is left, says how far it got, and lookups go by key
    assert "3 of 3 users" in out
    assert "(2 users this run)" in out
    assert len(pointers()) == 3
    dynamo_calls.reset()
    assert main(["--stage", "test", "emails", "backfill", "acme"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert len(ids_found(scim, 'emails.value eq "user1@example.com"')) == 1
    assert not read_every_user(dynamo_calls)


def test_a_tenant_created_now_is_complete_from_the_start(scim: Scim) -> None:
    Management(connection.dynamodb(settings()), settings()).create_tenant("initech", "SCIM", Actor("test", "cli"))

    assert users_table("initech").emails.complete()
    assert not users_table("acme").emails.complete()
