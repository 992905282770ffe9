"""The operators' view of provisioning: ``activity``, ``status`` and the last use of each credential."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.auth.authorizer import authenticate
from chalicelib.auth.credentials import verify
from chalicelib.auth.usage import CredentialUsage, refused_in_last_day
from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.activity import ActivityEntry, ActivityTable, AttributeChange
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from tests.conftest import DynamoCalls, Scim, Tenant, user_body
from tests.helpers import CORE_GROUP
from tests.test_admin_cli import run


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # the access lines of the requests before
    return run(capsys, *argv)


def trail(tenant: str) -> ActivityTable:
    return ActivityTable(connection.dynamodb(settings()), settings().activity_table, tenant)


def at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds")


def entry(minutes_ago: float, **fields: Any) -> ActivityEntry:
    defaults: dict[str, Any] = {
        "at": at(minutes_ago),
        "client_id": "scim-okta",
        "operation": "patch",
        "method": "PATCH",
        "path": "/Users/u-1",
        "status": 200,
        "resource_type": "User",
        "resource_id": "u-1",
        "resource_name": "ada@example.com",
    }
    return ActivityEntry(**{**defaults, **fields})


@pytest.fixture
def kept(aws: None) -> list[ActivityEntry]:
    """Given an IdP's trail in tenant acme: two users changed, a group's members, a refused create."""
    entries = [
        entry(300, operation="create", method="POST", path="/Users", status=201),
        entry(
            120,
            changes=(AttributeChange("name.givenName", "Ada", "Augusta"), AttributeChange("password", secret=True)),
        ),
        entry(
            60,
            resource_id="u-2",
            resource_name="grace@example.com",
            path="/Users/u-2",
            changes=(AttributeChange("active", True, False),),
            operation="deactivate",
            method="DELETE",
            status=204,
        ),
        entry(
            30,
            resource_type="Group",
            resource_id="g-1",
            resource_name="Finance",
            path="/Groups/g-1",
            status=204,
            members_added=120,
            members_added_sample=tuple(f"u-{n}" for n in range(10)),
            members_removed=1,
            members_removed_sample=("u-2",),
        ),
        entry(
            5,
            operation="create",
            method="POST",
            path="/Users",
            status=409,
            scim_type="uniqueness",
            detail="userName 'ada@example.com' is already taken",
            resource_id=None,
            resource_name="ADA@example.com",
            resource_name_key="ada@example.com",
        ),
    ]
    for kept_entry in entries:
        trail("acme").record(kept_entry)
    return entries


def test_activity_lists_the_tenant_newest_first_one_line_per_change(
    kept: list[ActivityEntry], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "activity", "acme")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 5
    assert "409 uniqueness" in lines[0] and "already taken" in lines[0]
    assert "Group Finance [g-1]" in lines[1]
    assert "members +120 (u-0, u-1, u-2, u-3, u-4, u-5, u-6, u-7, u-8, u-9, ... 110 more)" in lines[1]
    assert "members -1 (u-2)" in lines[1]
    assert "active: true -> false" in lines[2]
    assert 'name.givenName: "Ada" -> "Augusta"' in lines[3]
    assert "password (changed, value never kept)" in lines[3]
    assert lines[4].split()[2] == "create"
    assert all("(scim-okta)" in line for line in lines)


def test_activity_of_one_user_by_user_name_or_id_includes_its_refused_create(
    kept: list[ActivityEntry], scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    # The user exists under another id than the kept trail's; by name the refused create is found
    by_name = cli(capsys, "activity", "acme", "--user", "Ada@Example.com", "--json")[1]
    assert [e["status"] for e in json.loads(by_name)] == [409]
    by_id = json.loads(cli(capsys, "activity", "acme", "--user", "u-1", "--json")[1])
    assert [e["status"] for e in by_id] == [200, 201]
    assert by_id[0]["changes"] == [
        {"path": "name.givenName", "old": "Ada", "new": "Augusta"},
        {"path": "password", "secret": True},
    ]


def test_activity_of_an_existing_user_by_user_name_finds_it_by_id(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    user = scim.post("/Users", user_body("ada@example.com")).json
    trail("acme").record(entry(1, resource_id=user["id"], path=f"/Users/{user['id']}"))
    entries = json.loads(cli(capsys, "activity", "acme", "--user", "ADA@example.com", "--json")[1])
    assert [(e["operation"], e["resource_id"]) for e in entries] == [("create", user["id"]), ("patch", user["id"])]


def test_activity_since_and_errors_only(kept: list[ActivityEntry], capsys: pytest.CaptureFixture[str]) -> None:
    recent = json.loads(cli(capsys, "activity", "acme", "--since", "90m", "--json")[1])
    assert [e["operation"] for e in recent] == ["create", "patch", "deactivate"]
    errors = json.loads(cli(capsys, "activity", "acme", "--errors", "--json")[1])
    assert [(e["status"], e["scim_type"]) for e in errors] == [(409, "uniqueness")]
    group = json.loads(cli(capsys, "activity", "acme", "--group", "g-1", "--json")[1])
    assert [e["members_added"] for e in group] == [120]


def test_a_bad_since_is_a_usage_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "activity", "acme", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err


def test_another_tenant_sees_none_of_the_trail_through_any_command(
    kept: list[ActivityEntry], capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["activity", "globex", "--json"],
        ["activity", "globex", "--errors", "--json"],
        ["activity", "globex", "--user", "u-1", "--json"],
        ["activity", "globex", "--user", "ada@example.com", "--json"],
        ["activity", "globex", "--group", "g-1", "--json"],
    ):
        assert json.loads(cli(capsys, *argv)[1]) == [], argv
    report = json.loads(cli(capsys, "status", "globex", "--json")[1])
    assert report["errors_24h"] == 0 and report["last_successful_write"] is None and report["last_error"] is None


def test_the_tenant_newest_first_and_one_resource_newest_first_are_each_one_query(
    kept: list[ActivityEntry], dynamo_calls: DynamoCalls
) -> None:
    dynamo_calls.reset()
    assert len(trail("acme").newest(limit=10)) == 5
    assert len(trail("acme").of_resource("User", "u-1")) == 2
    assert len(trail("acme").newest(errors_only=True)) == 1
    assert [name for name, _ in dynamo_calls.calls] == ["Query", "Query", "Query"]
    assert all(params["ScanIndexForward"] is False for params in dynamo_calls.named("Query"))


def test_entries_expire_after_the_stage_retention(aws: None) -> None:
    table = ActivityTable(connection.dynamodb(settings()), settings().activity_table, "acme", retention_days=7)
    table.record(entry(0))
    item = connection.dynamodb(settings()).scan(TableName=settings().activity_table)["Items"][0]
    expires = datetime.fromtimestamp(int(item["expires_at"]["N"]), UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    ttl = connection.dynamodb(settings()).describe_time_to_live(TableName=settings().activity_table)
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_credentials_list_shows_last_use_and_refused_attempts_in_24h(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a credential never used
    out = cli(capsys, "credentials", "list", "acme")[1]
    row = next(line.split("\t") for line in out.splitlines() if line.startswith(tenant.client_id))
    assert row[3:5] == ["never", "0"]
    # When the IdP uses it, and someone presents it with a wrong secret three times
    assert scim.get("/Users").status_code == 200
    wrong = Scim(scim.client, f"Bearer {tenant.client_id}.not-the-secret")
    assert [wrong.get(f"/Users?n={n}").status_code for n in range(3)] == [401, 401, 401]
    # Then the list shows when it was last used, and at least the first refusal (counted once a minute)
    out = cli(capsys, "credentials", "list", "acme")[1]
    row = next(line.split("\t") for line in out.splitlines() if line.startswith(tenant.client_id))
    assert datetime.now(UTC) - datetime.fromisoformat(row[3]) < timedelta(minutes=1)
    assert int(row[4]) >= 1
    assert tenant.client_secret not in out


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def test_the_authorizer_writes_last_use_and_refusals_at_most_once_a_minute_per_credential(
    tenant: Tenant, credential_store: CredentialStore, dynamo_calls: DynamoCalls
) -> None:
    clock = Clock()
    usage = CredentialUsage(clock)
    key = settings().credential_hash_key

    def present(secret: str, times: int) -> None:
        for _ in range(times):
            verify(credential_store, key, tenant.client_id, secret, usage=usage)

    dynamo_calls.reset()
    present(tenant.client_secret, 50)
    present("wrong", 20)
    updates = dynamo_calls.named("UpdateItem")
    assert len(updates) == 2  # one last use, one count of refusals
    clock.now += 61
    present(tenant.client_secret, 50)
    present("wrong", 5)
    assert len(dynamo_calls.named("UpdateItem")) == 4
    # The first refusal is counted at once, the next 19 with the first one a minute later; 4 still wait
    assert refused_in_last_day(credential_store, tenant.client_id, clock.now) == 21


def test_an_unknown_client_id_is_never_counted(credential_store: CredentialStore, dynamo_calls: DynamoCalls) -> None:
    dynamo_calls.reset()
    assert authenticate("Bearer scim-made-up.secret") is None
    assert dynamo_calls.named("UpdateItem") == []


def test_a_failed_last_use_write_never_refuses_the_request(
    tenant: Tenant, credential_store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.exceptions

    def throttled(*args: Any, **kwargs: Any) -> None:
        raise botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")

    monkeypatch.setattr(credential_store, "mark_used", throttled)
    principal = verify(
        credential_store, settings().credential_hash_key, tenant.client_id, tenant.client_secret, CredentialUsage()
    )
    assert principal is not None and principal.tenant == "acme"


def test_status_says_provisioning_works_and_shows_errors_counts_and_role_gaps(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an IdP that provisioned two users and a group, one mapping with no group, and two refused requests
    scim.post("/Users", user_body("ada@example.com"))
    grace = scim.post("/Users", user_body("grace@example.com")).json
    scim.delete(f"/Users/{grace['id']}")
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance"})
    client = connection.dynamodb(settings())
    RoleMappingTable(client, settings().role_mappings_table, "acme").put(RoleMapping("Payroll", ("HR",), ()))
    trail("acme").record(entry(10, status=201, operation="create"))
    trail("acme").record(entry(3, status=400, scim_type="invalidValue", detail="bad"))
    trail("acme").record(entry(2, status=409, scim_type="uniqueness", detail="taken"))
    # When the operator asks for the status
    code, out, _ = cli(capsys, "status", "acme")
    report = json.loads(cli(capsys, "status", "acme", "--json")[1])
    # Then it shows the credential in use, the last write, the errors by scimType and the gaps
    assert report["credential"]["client_id"] == tenant.client_id
    assert report["credential"]["last_used"] is not None
    assert report["last_successful_write"]["status"] == 201
    assert report["errors_24h"] == 2
    assert sorted(report["top_scim_types_24h"]) == [["invalidValue", 1], ["uniqueness", 1]]
    assert (report["users"], report["active_users"], report["groups"]) == (2, 1, 1)
    assert report["mappings_without_group"] == ["Payroll"]
    assert report["groups_without_mapping"] == ["Finance"]
    assert "Errors in 24 h    2 (" in out and "invalidValue 1" in out
    assert "Role mappings with no group: Payroll" in out
    assert code == 1 and "activity acme --errors" in out


def test_status_of_a_tenant_whose_credential_was_revoked_says_what_to_do(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scim.get("/Users").status_code == 200
    assert cli(capsys, "credentials", "revoke", tenant.client_id)[0] == 0
    assert scim.get("/Users").status_code == 401  # the IdP still sends the revoked credential
    code, out, _ = cli(capsys, "status", "acme")
    assert code == 1
    assert "No active credential" in out and "credentials generate acme" in out
    assert f"The IdP still sends the revoked credential {tenant.client_id}" in out


def test_status_of_a_quiet_tenant(tenant: Tenant, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "status", "acme")
    assert code == 1
    assert "never been used" in out


def test_activity_ignored_lists_the_writes_that_ignored_attributes_and_status_counts_them(
    kept: list[ActivityEntry], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given writes whose IdP mapping sends attributes no schema defines, among writes that ignored nothing
    trail("acme").record(entry(20, ignored_attributes=("costCentre", "preferredLangauge")))
    trail("acme").record(entry(4, resource_id="u-2", path="/Users/u-2", ignored_attributes=("costCentre",)))
    # When the operator lists them, for the tenant and for one user
    ignoring = json.loads(cli(capsys, "activity", "acme", "--ignored", "--json")[1])
    of_user = json.loads(cli(capsys, "activity", "acme", "--user", "u-1", "--ignored", "--json")[1])
    out = cli(capsys, "status", "acme")[1]
    report = json.loads(cli(capsys, "status", "acme", "--json")[1])
    # Then only those writes are listed, with the names, and status counts each name over the day
    assert [e["ignored_attributes"] for e in ignoring] == [["costCentre"], ["costCentre", "preferredLangauge"]]
    assert [e["ignored_attributes"] for e in of_user] == [["costCentre", "preferredLangauge"]]
    assert report["writes_ignoring_attributes_24h"] == 2
    assert report["ignored_attributes_24h"] == [["costCentre", 2], ["preferredLangauge", 1]]
    assert "Ignored in 24 h   2 writes" in out and "costCentre 2, preferredLangauge 1" in out
    assert "activity acme --ignored" in out
    # An informational line, not a problem: a tenant may send an attribute we do not keep on purpose
    assert not any("ignored" in problem for problem in report["problems"])
    with pytest.raises(SystemExit) as usage_error:
        cli(capsys, "activity", "acme", "--ignored", "--errors")
    assert usage_error.value.code == 2
    # And the other tenant sees none of it
    assert json.loads(cli(capsys, "activity", "globex", "--ignored", "--json")[1]) == []
