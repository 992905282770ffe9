"""Groups of any size: 10,000 members in moto, O(1) work to add or remove one, and bounded responses."""

import json
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.store import connection
from tests.conftest import DynamoCalls, Scim, SeedUsers
from tests.helpers import CORE_GROUP, patch_body

# A 10,000-member group: make test-all.
pytestmark = pytest.mark.slow

SIZE = int(__import__("os").environ.get("LARGE_GROUP_SIZE", "10000"))


def add(ids: list[str]) -> dict[str, Any]:
    return patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids]})


def request_work(counted: DynamoCalls) -> tuple[int, int, int]:
    """Calls, items written and queries, less the authorizer's note of a credential's last use (written at most
    once a minute, so whether a request pays it depends on how long the test has run) and less the activity
    trail's one PutItem per write (tests/test_activity_trail.py counts it)."""
    credentials, trail = settings().credentials_table, settings().activity_table
    calls = [
        (name, p)
        for name, p in counted.calls
        if not (name == "UpdateItem" and p["TableName"] == credentials) and p.get("TableName") != trail
    ]
    written = sum(
        len(p["TransactItems"]) if name == "TransactWriteItems" else 1
        for name, p in calls
        if name in {"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"}
    )
    return len(calls), written, sum(name == "Query" for name, _ in calls)


def test_a_10000_member_group_is_built_in_batches_read_whole_and_changed_one_member_at_a_time(
    scim: Scim, dynamo_calls: DynamoCalls, seed_users: SeedUsers
) -> None:
    users = seed_users(SIZE + 1)
    members, newcomer = users[:SIZE], users[SIZE]
    half = SIZE // 2
    created = scim.post(
        "/Groups",
        {"schemas": [CORE_GROUP], "displayName": "Everyone", "members": [{"value": u} for u in members[:half]]},
    )
    assert created.status_code == 201
    group_id = created.json["id"]
    assert scim.patch(f"/Groups/{group_id}", add(members[half:])).status_code == 204

    whole = scim.get(f"/Groups/{group_id}")
    assert whole.status_code == 200
    assert sorted(m["value"] for m in whole.json["members"]) == sorted(members)

    dynamo_calls.reset()
    assert scim.patch(f"/Groups/{group_id}", add([newcomer])).status_code == 204
    added_work = request_work(dynamo_calls)
    dynamo_calls.reset()
    removal = patch_body({"op": "remove", "path": f'members[value eq "{members[0]}"]'})
    assert scim.patch(f"/Groups/{group_id}", removal).status_code == 204
    removed_work = request_work(dynamo_calls)

    # Authorizer reads (2) + group read + membership check + user check + one transaction of 2 items
    # + the read-back of the version (member changes commute, so other writers may have moved it).
    assert added_work == (7, 2, 0)
    assert removed_work == (6, 2, 0)
    # How an IdP walks a huge group's members: only the attributes it needs, page by page.
    page = scim.get(f'/Users?filter=groups.value eq "{group_id}"&startIndex=101&count=100&attributes=userName').json
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (SIZE, 101, 100)
    assert {user["id"] for user in page["Resources"]} <= set(members)

    items = connection.dynamodb(settings()).scan(TableName=settings().groups_table)["Items"]
    assert max(len(json.dumps(item)) for item in items) < 1_000


def test_a_group_too_large_for_one_response_answers_too_many(
    scim: Scim, monkeypatch: pytest.MonkeyPatch, seed_users: SeedUsers
) -> None:
    monkeypatch.setenv("MAX_MEMBERS_IN_RESPONSE", "3")
    users = seed_users(4)
    group_id = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Big", "members": [{"value": u} for u in users]}
    ).json["id"]

    for response in (scim.get(f"/Groups/{group_id}"), scim.get("/Groups")):
        assert response.status_code == 400
        assert response.json["scimType"] == "tooMany"
        assert "excludedAttributes=members" in response.json["detail"]
        assert f'groups.value eq "{group_id}"' in response.json["detail"]
    assert scim.get(f"/Groups/{group_id}?excludedAttributes=members").status_code == 200
    assert scim.get("/Groups?excludedAttributes=members").status_code == 200
    assert scim.get(f'/Users?filter=groups.value eq "{group_id}"').json["totalResults"] == 4
