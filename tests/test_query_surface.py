"""The RFC 7644 query surface: filters, the query planner, sorting, paging by index and cursor, projection."""

import threading
from typing import Any

import pytest

from chalicelib.config import settings
from tests.conftest import DynamoCalls, Scim, SeedUsers, user_body
from tests.helpers import CORE_GROUP, CUSTOM_USER, ENTERPRISE_USER, SEARCH_REQUEST, patch_body


@pytest.fixture
def people(scim: Scim) -> dict[str, str]:
    """Five users with the case, missing values and types that filters tend to get wrong."""
    bodies = {
        "alice": user_body(
            "alice@example.com",
            title="Boss",
            externalId="ext-alice",
            emails=[
                {"value": "alice@home.example", "type": "home"},
                {"value": "alice@work.example", "type": "work", "primary": True},
            ],
            **{ENTERPRISE_USER: {"employeeNumber": "100", "department": "Sales"}, CUSTOM_USER: {"personId": "P-1"}},
        ),
        "bob": user_body("Bob@example.com", active=False, emails=[{"value": "bob@work.example", "type": "work"}]),
        "carol": user_body(
            "carol@example.com", title="", name={"familyName": "smith"}, **{ENTERPRISE_USER: {"employeeNumber": "2"}}
        ),
        "dave": user_body("dave_%@example.com", title="50% off", emails=[{"value": "dave@home.example"}]),
        "erin": user_body("erin@example.org", **{CUSTOM_USER: {"personId": "p-1"}}),
    }
    ids = {}
    for name, body in bodies.items():
        response = scim.post("/Users", body)
        assert response.status_code == 201, response.body
        ids[name] = response.json["id"]
    return ids


@pytest.mark.parametrize(
    ("scim_filter", "expected"),
    [
        ('userName eq "ALICE@example.com"', {"alice"}),
        ('userName ne "alice@example.com"', {"bob", "carol", "dave", "erin"}),
        ('userName co "EXAMPLE.COM"', {"alice", "bob", "carol", "dave"}),
        ('userName sw "b"', {"bob"}),
        ('userName ew ".org"', {"erin"}),
        ('userName gt "d"', {"dave", "erin"}),
        ('userName ge "dave_%@example.com"', {"dave", "erin"}),
        ('userName lt "b"', {"alice"}),
        ('userName le "bob@example.com"', {"alice", "bob"}),
        ("title pr", {"alice", "dave"}),
        ('title eq "boss"', {"alice"}),
        ("active eq false", {"bob"}),
        ("not (active eq false)", {"alice", "carol", "dave", "erin"}),
        ('externalId eq "ext-alice"', {"alice"}),
        ('externalId eq "EXT-ALICE"', set()),  # externalId is caseExact
        ('name.familyName eq "SMITH"', {"carol"}),
        ('emails[type eq "work" and value co "alice"]', {"alice"}),
        ('emails.type eq "home"', {"alice"}),
        ('emails co "work.example"', {"alice", "bob"}),
        (f'{ENTERPRISE_USER}:employeeNumber eq "100"', {"alice"}),
        (f'{ENTERPRISE_USER}:department eq "sales"', {"alice"}),
        (f'{CUSTOM_USER}:personId eq "P-1"', {"alice"}),  # personId keeps its case
        ('meta.created gt "2000-01-01T00:00:00Z"', {"alice", "bob", "carol", "dave", "erin"}),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
        ('title eq "Boss" or userName eq "bob@example.com"', {"alice", "bob"}),
        ('(title pr and active eq true) and not (userName sw "dave")', {"alice"}),
        ('userName eq "nobody@example.com"', set()),
    ],
)
def test_filter(scim: Scim, people: dict[str, str], scim_filter: str, expected: set[str]) -> None:
    response = scim.get("/Users", query={"filter": scim_filter})

    assert response.status_code == 200, response.body
    names = {name for name, user_id in people.items() if user_id in {r["id"] for r in response.json["Resources"]}}
    assert names == expected
    assert response.json["totalResults"] == len(expected)


@pytest.mark.parametrize(
    ("scim_filter", "max_items_read"),
    [
        # Three auth reads on every request are included (the secret's hash, the credential, the account).
        ('userName eq "alice@example.com"', 3 + 2),  # the userName claim, then the user
        ('id eq "{alice}"', 3 + 1),
        ('externalId eq "ext-alice"', 3 + 1),  # one index query
        ('userName sw "b"', 3 + 1 + 1 + 1),  # a count of the claim range, the range, the user
    ],
)
def test_indexed_filters_read_only_what_they_return(
    scim: Scim, people: dict[str, str], dynamo_calls: DynamoCalls, scim_filter: str, max_items_read: int
) -> None:
    dynamo_calls.reset()

    response = scim.get("/Users", query={"filter": scim_filter.format(**people), "attributes": "userName"})

    assert response.json["totalResults"] == 1
    assert dynamo_calls.items_read <= max_items_read
    assert not [
        q for q in dynamo_calls.named("Query") if q["ExpressionAttributeValues"].get(":p", {}).get("S") == "user#"
    ]


def test_a_non_indexed_filter_reads_the_tenants_users(
    scim: Scim, people: dict[str, str], dynamo_calls: DynamoCalls
) -> None:
    dynamo_calls.reset()

    scim.get("/Users", query={"filter": 'title eq "Boss"', "attributes": "userName"})

    assert [q for q in dynamo_calls.named("Query") if q["ExpressionAttributeValues"].get(":p", {}).get("S") == "user#"]


def test_a_non_indexed_filter_reads_groups_of_the_matches_only(
    scim: Scim, people: dict[str, str], dynamo_calls: DynamoCalls
) -> None:
    dynamo_calls.reset()

    response = scim.get("/Users", query={"filter": 'title eq "Boss"'})

    assert [user["userName"] for user in response.json["Resources"]] == ["alice@example.com"]
    group_queries = [q for q in dynamo_calls.named("Query") if q.get("IndexName") == "byMember"]
    assert len(group_queries) == 1  # alice's, not one per user of the tenant


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("userName", "ascending", ["alice", "bob", "carol", "dave", "erin"]),
        ("userName", "descending", ["erin", "dave", "carol", "bob", "alice"]),
        ("meta.created", "ascending", ["alice", "bob", "carol", "dave", "erin"]),
        ("meta.lastModified", "descending", ["erin", "dave", "carol", "bob", "alice"]),
        # Without a value, last when ascending, first when descending (RFC 7644 §3.4.2.3), in id order.
        # carol's title "" clears it, as Entra means it (issue #16): she sorts with the users without one.
        ("title", "ascending", ["dave", "alice", {"bob", "carol", "erin"}]),
        ("title", "descending", [{"bob", "carol", "erin"}, "alice", "dave"]),
    ],
)
def test_sorting(scim: Scim, people: dict[str, str], sort_by: str, order: str, expected: list[Any]) -> None:
    by_id = {user_id: name for name, user_id in people.items()}

    response = scim.get("/Users", query={"sortBy": sort_by, "sortOrder": order})

    names = [by_id[r["id"]] for r in response.json["Resources"]]
    grouped: list[Any] = []
    position = 0
    for item in expected:
        size = len(item) if isinstance(item, set) else 1
        taken = names[position : position + size]
        grouped.append(set(taken) if isinstance(item, set) else taken[0])
        position += size
    assert grouped == expected


@pytest.mark.slow
def test_paging_1000_users_by_index_and_by_cursor_returns_each_exactly_once(
    scim: Scim, dynamo_calls: DynamoCalls, seed_users: SeedUsers
) -> None:
    ids = set(seed_users(1000))

    by_index: list[str] = []
    for start in range(1, 1001, 100):
        page = scim.get("/Users", query={"startIndex": str(start), "count": "100", "attributes": "userName"}).json
        assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (1000, start, 100)
        by_index += [r["id"] for r in page["Resources"]]

    by_cursor: list[str] = []
    cursor = ""
    pages_read = []
    while cursor is not None:
        dynamo_calls.reset()
        page = scim.get("/Users", query={"cursor": cursor, "count": "100", "attributes": "userName"}).json
        pages_read.append(dynamo_calls.items_read)
        by_cursor += [r["id"] for r in page["Resources"]]
        cursor = page.get("nextCursor")

    assert len(by_index) == len(set(by_index)) == 1000 and set(by_index) == ids
    assert len(by_cursor) == len(set(by_cursor)) == 1000 and set(by_cursor) == ids
    assert by_index == by_cursor  # one stable order (userName) whichever way a client pages
    # Each cursor page reads its 100 users and 101 claims (plus auth), never the pages before it.
    assert max(pages_read) <= 3 + 101 + 100


def test_cursor_pages_back_with_previous_cursor(scim: Scim, seed_users: SeedUsers) -> None:
    seed_users(25)
    first = scim.get("/Users", query={"cursor": "", "count": "10"}).json
    second = scim.get("/Users", query={"cursor": first["nextCursor"], "count": "10"}).json

    back = scim.get("/Users", query={"cursor": second["previousCursor"], "count": "10"}).json

    assert [r["id"] for r in back["Resources"]] == [r["id"] for r in first["Resources"]]
    assert "previousCursor" not in back or back["previousCursor"] is None


def test_a_forged_cursor_is_400_invalid_cursor(scim: Scim) -> None:
    response = scim.get("/Users", query={"cursor": "bm90LWEtY3Vyc29y", "count": "10"})

    assert response.status_code == 400
    assert response.json["scimType"] == "invalidCursor"


def test_count_above_the_maximum_is_clamped(scim: Scim, seed_users: SeedUsers) -> None:
    seed_users(3)
    response = scim.get("/Users", query={"count": str(settings().max_page_size + 5000)})
    assert response.status_code == 200
    assert response.json["itemsPerPage"] == 3


def test_search_with_post_and_a_search_request_body(scim: Scim, people: dict[str, str]) -> None:
    response = scim.post(
        "/Users/.search",
        {
            "schemas": [SEARCH_REQUEST],
            "filter": 'userName sw "a"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )

    assert response.status_code == 200
    (user,) = response.json["Resources"]
    assert set(user) == {"schemas", "id", "userName"}


def test_groups_search_with_post(scim: Scim, people: dict[str, str]) -> None:
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance"})

    response = scim.post("/Groups/.search", {"schemas": [SEARCH_REQUEST], "filter": 'displayName sw "fin"'})

    assert [g["displayName"] for g in response.json["Resources"]] == ["Finance"]


def test_search_at_the_root_spans_users_and_groups(scim: Scim, other_scim: Scim, people: dict[str, str]) -> None:
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance"})
    other_scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Fin"})
    query = 'userName sw "a" or displayName sw "fin"'

    by_get = scim.get("", query={"filter": query, "attributes": "userName,displayName"})
    by_post = scim.post(
        "/.search", {"schemas": [SEARCH_REQUEST], "filter": query, "attributes": ["userName", "displayName"]}
    )

    for response in (by_get, by_post):
        assert response.status_code == 200, response.body
        assert response.json["totalResults"] == 2
        found = {
            (r["schemas"][0].rsplit(":", 1)[-1], r.get("userName") or r.get("displayName"))
            for r in response.json["Resources"]
        }
        assert found == {("User", "alice@example.com"), ("Group", "Finance")}
    assert by_post.json["Resources"] == by_get.json["Resources"]


def test_search_at_the_root_pages_across_resource_types(scim: Scim, people: dict[str, str]) -> None:
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance"})
    total = scim.get("", query={"count": "0"}).json["totalResults"]

    seen: list[str] = []
    for start in range(1, total + 1, 2):
        page = scim.post("/.search", {"schemas": [SEARCH_REQUEST], "startIndex": start, "count": 2}).json
        seen += [resource["id"] for resource in page["Resources"]]

    assert total == len(people) + 1
    assert len(seen) == len(set(seen)) == total


@pytest.mark.parametrize(
    ("method", "path_suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", "user"),
        ("PATCH", "", patch_body({"op": "replace", "path": "title", "value": "CFO"})),
    ],
)
def test_attributes_and_excluded_attributes_on_every_response(
    scim: Scim, people: dict[str, str], method: str, path_suffix: str, body: Any
) -> None:
    payload = user_body("alice@example.com") if body == "user" else body
    only = scim.request(method, f"/Users/{people['alice']}?attributes=userName", payload)
    without = scim.request(method, f"/Users/{people['alice']}?excludedAttributes=emails,name", payload)

    assert set(only.json) == {"schemas", "id", "userName"}
    assert "emails" not in without.json and "name" not in without.json and "userName" in without.json


def test_attributes_on_create(scim: Scim) -> None:
    response = scim.post("/Users?attributes=userName", user_body(password="Correct-Horse-42"))

    assert response.status_code == 201
    assert set(response.json) == {"schemas", "id", "userName"}
    assert response.headers["Location"].endswith(response.json["id"])


def test_password_is_never_returned_even_when_asked_for(scim: Scim) -> None:
    response = scim.post("/Users?attributes=password,userName", user_body(password="Correct-Horse-42"))
    assert "password" not in response.json


def test_filters_over_the_limits_are_400(scim: Scim) -> None:
    deep = "(" * 40 + 'userName eq "x"' + ")" * 40
    assert scim.get("/Users", query={"filter": deep}).json["scimType"] == "invalidFilter"
    quoted = 'userName eq "' + "(" * 100 + '"'
    assert scim.get("/Users", query={"filter": quoted}).status_code == 200
    response = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "' + "x" * 3000 + '"'})
    assert response.json["scimType"] == "invalidFilter"


@pytest.mark.usefixtures("atomic_dynamodb_calls")
def test_concurrent_patches_of_one_user_keep_both_changes(scim: Scim, people: dict[str, str]) -> None:
    user = people["alice"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def change(path: str, value: str) -> None:
        barrier.wait()
        response = scim.patch(f"/Users/{user}", patch_body({"op": "replace", "path": path, "value": value}))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=change, args=args) for args in (("title", "CFO"), ("nickName", "Al"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    final = scim.get(f"/Users/{user}").json
    assert (final["title"], final["nickName"]) == ("CFO", "Al")
