"""Every list or string a client controls is bounded before work proportional to it starts (issue #27).

Each test is one finding of the second security pass: what a client sees when it sends more than a bound,
and that nothing is written. How the work grows below the bounds is tests/test_input_growth.py.
"""

from typing import Any

import pytest

from chalicelib.provisioning.limits import MAX_MEMBER_SCANS, MAX_SCHEMAS, MAX_VALUES
from tests.conftest import Scim, SeedUsers, user_body
from tests.helpers import CORE_GROUP, CORE_USER, ERROR, PATCH_OP, patch_body


def test_a_create_listing_thousands_of_schemas_is_a_400_naming_schemas_and_writes_nothing(scim: Scim) -> None:
    # 60,000 distinct URNs took 50 s and answered 201: the de-duplication looked each up in a list.
    schemas = [CORE_USER, *(f"urn:example:{n}" for n in range(5000))]

    response = scim.post("/Users", user_body(schemas=schemas))

    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
    assert response.json["detail"] == f"schemas lists more than {MAX_SCHEMAS} URNs"
    assert scim.get("/Users").json["totalResults"] == 0


def test_a_create_repeating_its_schemas_up_to_the_bound_is_served(scim: Scim) -> None:
    response = scim.post("/Users", user_body(schemas=[CORE_USER] * MAX_SCHEMAS))

    assert response.status_code == 201
    assert response.json["schemas"][0] == CORE_USER


@pytest.mark.parametrize("member", [{"value": None}, {"value": ""}, {"display": "Barbara"}])
def test_a_group_member_without_a_value_is_a_400_naming_members_and_writes_nothing(
    scim: Scim, member: dict[str, Any]
) -> None:
    # It was a 201 with no member: the Entra dialect dropped the entry as a cleared value.
    response = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Admins", "members": [member]})

    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
    assert response.json["detail"].startswith("members")
    assert scim.get("/Groups").json["totalResults"] == 0


@pytest.mark.parametrize("member", [{"value": None}, {"value": ""}, {"display": "Barbara"}])
def test_a_group_replaced_with_a_member_without_a_value_is_a_400_naming_members(
    scim: Scim, member: dict[str, Any]
) -> None:
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Admins"}).json

    response = scim.put(
        f"/Groups/{group['id']}", {"schemas": [CORE_GROUP], "displayName": "Admins", "members": [member]}
    )

    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
    assert response.json["detail"].startswith("members")


def test_a_page_of_groups_whose_members_pass_the_bound_together_answers_too_many(
    scim: Scim, monkeypatch: pytest.MonkeyPatch, seed_users: SeedUsers
) -> None:
    # Each group fitted the bound alone: 18 groups of 1,800 members took 17 s, past Lambda's 6 MB response.
    monkeypatch.setenv("MAX_MEMBERS_IN_RESPONSE", "5")
    users = seed_users(3)
    for name in ("A", "B"):
        members = [{"value": u} for u in users]
        assert (
            scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name, "members": members}).status_code == 201
        )

    response = scim.get("/Groups")

    assert (response.status_code, response.json["scimType"]) == (400, "tooMany")
    assert "count" in response.json["detail"] and "excludedAttributes=members" in response.json["detail"]
    assert scim.get("/Groups", query={"count": "1"}).json["Resources"][0]["members"]
    assert scim.get("/Groups", query={"excludedAttributes": "members"}).json["totalResults"] == 2
    assert scim.get("/Groups", query={"filter": 'displayName eq "B"'}).status_code == 200


def test_a_multi_valued_attribute_over_the_bound_is_a_400_naming_it_and_writes_nothing(scim: Scim) -> None:
    emails = [{"value": f"e{n}@example.com"} for n in range(MAX_VALUES + 1)]

    response = scim.post("/Users", user_body(emails=emails))

    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
    assert response.json["detail"] == f"emails lists more than {MAX_VALUES} values"
    assert scim.get("/Users").json["totalResults"] == 0


def test_a_patch_whose_operations_carry_too_many_values_is_a_400_and_writes_nothing(scim: Scim) -> None:
    # 400 filtered removes on a user of 2,000 emails took 21 s of CPU: each scans the list it applies to.
    user = scim.post("/Users", user_body()).json
    adds = [
        {"op": "add", "path": "emails", "value": [{"value": f"e{n}-{m}@example.com"} for m in range(30)]}
        for n in range(4)
    ]
    patch = patch_body(*adds)

    response = scim.patch(f"/Users/{user['id']}", patch)

    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
    assert "at most 100 values" in response.json["detail"]
    assert scim.get(f"/Users/{user['id']}").json["meta"]["version"] == user["meta"]["version"]


def test_group_members_are_not_counted_as_values(scim: Scim, seed_users: SeedUsers) -> None:
    members = [{"value": u} for u in seed_users(MAX_VALUES + 1)]
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Big", "members": members})
    assert group.status_code == 201
    patch = patch_body({"op": "remove", "path": "members", "value": members})
    assert scim.patch(f"/Groups/{group.json['id']}", patch).status_code in (200, 204)


def test_a_group_patch_whose_member_filters_would_compare_too_many_members_is_a_400(
    scim: Scim, seed_users: SeedUsers
) -> None:
    # Each operation with a filter on members compares every member: 200 on 2,000 members took 12 s of CPU.
    members = [{"value": u} for u in seed_users(1000)]
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Big", "members": members}).json
    fits = MAX_MEMBER_SCANS // 1000
    removes = [{"op": "remove", "path": f'members[display eq "nobody-{n}"]'} for n in range(fits + 1)]

    response = scim.patch(f"/Groups/{group['id']}", patch_body(*removes))

    assert (response.status_code, response.json["scimType"]) == (400, "tooMany")
    assert f"at most {fits} operations with a filter on members" in response.json["detail"]
    fitting = patch_body(*removes[:fits])
    assert scim.patch(f"/Groups/{group['id']}", fitting).status_code in (200, 204)


@pytest.mark.parametrize("depth", [900, 5_000])
def test_a_body_nested_deeper_than_python_recurses_is_a_400_on_every_supported_python(scim: Scim, depth: int) -> None:
    # Python 3.13's json.loads accepts 5,000 levels (3.11's refuses ~1,000): the bounds' walk of the body then
    # recursed past the interpreter's limit and answered 500. An object nested in a value, and in a PATCH's value.
    nested = "1"
    for _ in range(depth):
        nested = '{"a":' + nested + "}"
    create = ('{"schemas":["' + CORE_USER + '"],"userName":"deep@example.com","x":' + nested + "}").encode()
    user = scim.post("/Users", user_body("shallow@example.com")).json
    patch = ('{"schemas":["' + PATCH_OP + '"],"Operations":[{"op":"add","value":' + nested + "}]}").encode()

    created = scim.post("/Users", raw=create)
    patched = scim.patch(f"/Users/{user['id']}", raw=patch)

    # Refused as a SCIM 400 (too deep to parse) or served with the unknown member ignored; never a 500.
    assert created.status_code in (201, 400), created.body[:300]
    assert patched.status_code in (200, 400), patched.body[:300]
    for response in (created, patched):
        if response.status_code == 400:
            assert response.json["schemas"] == [ERROR] and response.json["scimType"], response.json
    assert scim.get('/Users?filter=userName eq "deep@example.com"').json["totalResults"] == (
        1 if created.status_code == 201 else 0
    )
