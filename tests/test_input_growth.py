"""The work of every list or string a client controls grows no faster than linearly (issue #27).

Each input is sent at two sizes, n and 10n, in the same run (the larger at or below its bound where it has
one, so that both are processed; an input over its bound is refused before any work, tests/test_input_bounds.py);
the test fails when the CPU time grows by more than :data:`tests.growth.LINEAR` (linear work gives about
10, quadratic about 100). Ratios, not times: the absolute costs are ``make bench``'s. The bounds and the
errors past them: docs/reference/input-bounds.md.
"""

import base64
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from scim2_server.requests import ScimRequest

from chalicelib.provisioning.activity import WriteNotes
from chalicelib.provisioning.limits import MAX_VALUES
from chalicelib.scim import dialects
from tests.conftest import Scim, SeedUsers, Tenant, user_body
from tests.growth import LINEAR, Work, growth
from tests.helpers import CORE_GROUP, CORE_USER, SEARCH_REQUEST, patch_body

names = itertools.count()


def _group(members: range) -> dict[str, Any]:
    return {"id": "g-1", "displayName": "Finance", "members": [{"value": f"u-{n:06d}"} for n in members]}


def test_the_trail_s_member_diff_is_linear_in_the_members() -> None:
    # 20,000 members took 94 s after the write committed: a set was rebuilt for each member.
    def diff(n: int) -> Work:
        before, after = _group(range(n)), _group(range(n // 2, n + n // 2))
        return lambda: WriteNotes().wrote_documents("Group", before, after)

    assert growth(diff, 2_000) < LINEAR


def test_the_schemas_dialect_is_linear_in_the_schemas() -> None:
    # 60,000 distinct schemas took 50 s: the de-duplication looked each up in a list.
    def normalise(n: int) -> Work:
        body = json.dumps({"schemas": [CORE_USER, *(f"urn:x:{i}" for i in range(n))], "userName": "a"})
        request = ScimRequest(method="POST", base_url="https://scim.example/scim/v2", path="/Users", body=body.encode())
        return lambda: dialects.normalise(request)

    assert growth(normalise, 5_000) < LINEAR


def _new_user_name() -> str:
    return f"grow-{next(names)}@example.com"


Send = Callable[[Scim, dict[str, str], int], Any]
"""Sends one request with an input of size n; the context holds a user's and a group's ids, and seeded users."""

INPUTS: dict[str, tuple[Send, int]] = {
    "schemas (over the bound at 10x)": (
        lambda s, c, n: s.post("/Users", user_body(_new_user_name(), schemas=[CORE_USER] * n)),
        32,
    ),
    "emails": (
        lambda s, c, n: s.post(
            "/Users", user_body(_new_user_name(), emails=[{"value": f"e{i}@x.com"} for i in range(n)])
        ),
        10,
    ),
    "attributes no schema defines": (
        lambda s, c, n: s.post("/Users", user_body(_new_user_name(), **{f"custom{i}": "x" for i in range(n)})),
        500,
    ),
    "a string attribute (title)": (
        lambda s, c, n: s.post("/Users", user_body(_new_user_name(), title="t" * n)),
        10_000,
    ),
    "userName (over the bound at 10x)": (
        lambda s, c, n: s.post("/Users", user_body("u" * n + f"{next(names)}@x.com")),
        240,
    ),
    "password": (lambda s, c, n: s.post("/Users", user_body(_new_user_name(), password="Ab1!" + "x" * n)), 25),
    "password of combining marks (over the bound)": (
        lambda s, c, n: s.post("/Users", user_body(_new_user_name(), password="Ab1!e" + "\u0301" * n)),
        10_000,
    ),
    "PATCH operations": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}", patch_body(*({"op": "replace", "path": "title", "value": f"t{i}"} for i in range(n)))
        ),
        50,
    ),
    "PATCH operations filtering a full multi-valued attribute": (
        lambda s, c, n: s.patch(
            f"/Users/{c['full']}",
            patch_body(*({"op": "remove", "path": f'emails[value eq "x{i}@example.com"]'} for i in range(n))),
        ),
        20,
    ),
    "PATCH value (emails)": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}",
            patch_body({"op": "replace", "path": "emails", "value": [{"value": f"e{i}@x.com"} for i in range(n)]}),
        ),
        10,
    ),
    "PATCH path-less value's names": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}", patch_body({"op": "replace", "value": {f"k{i}": "v" for i in range(n)}})
        ),
        100,
    ),
    "PATCH path": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}", patch_body({"op": "remove", "path": f'emails[value eq "{"a" * (n - 20)}"]'})
        ),
        204,
    ),
    "group members": (
        lambda s, c, n: s.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": _new_user_name(), "members": c["members"][:n]}
        ),
        100,
    ),
    "group PATCH members": (
        lambda s, c, n: s.patch(
            f"/Groups/{c['group']}",
            patch_body(
                {"op": "add", "path": "members", "value": c["members"][:n]},
                {"op": "remove", "path": "members", "value": c["members"][:n]},
            ),
        ),
        100,
    ),
    "group PATCH filtering members": (
        lambda s, c, n: s.patch(
            f"/Groups/{c['big']}",
            patch_body(*({"op": "remove", "path": f'members[display eq "nobody-{i}"]'} for i in range(n))),
        ),
        10,
    ),
    "attributes": (lambda s, c, n: s.get(f"/Users/{c['user']}", query={"attributes": ",".join(["userName"] * n)}), 10),
    "excludedAttributes": (
        lambda s, c, n: s.get(f"/Users/{c['user']}", query={"excludedAttributes": ",".join(["title"] * n)}),
        10,
    ),
    "filter length": (lambda s, c, n: s.get("/Users", query={"filter": f'title eq "{"a" * (n - 12)}"'}), 204),
    "filter terms": (lambda s, c, n: s.get("/Users", query={"filter": " or ".join(['title eq "a"'] * n)}), 10),
    "sortBy": (lambda s, c, n: s.get("/Users", query={"sortBy": "a" * n}), 204),
    "a SearchRequest's attributes": (
        lambda s, c, n: s.post(
            "/Users/.search", {"schemas": [SEARCH_REQUEST], "attributes": ["userName"] * n, "count": 1}
        ),
        10,
    ),
    "query parameters": (lambda s, c, n: s.get("/Users", query={f"p{i}": "v" for i in range(n)}), 100),
    "startIndex digits": (lambda s, c, n: s.get("/Users", query={"startIndex": "9" * n}), 100),
    "If-Match": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}",
            patch_body({"op": "replace", "path": "title", "value": "x"}),
            headers={"If-Match": f'W/"{"9" * n}"'},
        ),
        1000,
    ),
    "If-Match list": (
        lambda s, c, n: s.patch(
            f"/Users/{c['user']}",
            patch_body({"op": "replace", "path": "title", "value": "x"}),
            headers={"If-Match": ", ".join(['W/"9"'] * n)},
        ),
        100,
    ),
    "id in the path": (lambda s, c, n: s.get("/Users/" + "a" * n), 1000),
    "id in a refused write's path (the trail)": (
        lambda s, c, n: s.put("/Users/" + "a" * n, user_body("x@example.com")),
        1000,
    ),
    "Authorization": (
        lambda s, c, n: Scim(s.client, "Basic " + base64.b64encode(b"x" * n).decode()).get("/Users"),
        70,
    ),
}


@pytest.fixture
def context(scim: Scim) -> dict[str, Any]:
    user = scim.post("/Users", user_body("base@example.com")).json["id"]
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Base"}).json["id"]
    emails = [{"value": f"e{n}@example.com"} for n in range(MAX_VALUES)]
    full = scim.post("/Users", user_body("full@example.com", emails=emails)).json["id"]
    return {"user": user, "group": group, "full": full}


@pytest.mark.parametrize("name", list(INPUTS))
def test_each_client_sized_input_costs_at_most_linear_cpu(
    scim: Scim, tenant: Tenant, context: dict[str, Any], seed_users: SeedUsers, name: str
) -> None:
    send, n = INPUTS[name]
    if name.startswith("group"):  # only these need users to add; any other tenant stays small
        context["members"] = [{"value": member} for member in seed_users(10 * n)]
    if name == "group PATCH filtering members":  # each operation's filter walks the same 100 members
        context["members"] = [{"value": member} for member in seed_users(100)]
        big = {"schemas": [CORE_GROUP], "displayName": "Big", "members": context["members"]}
        context["big"] = scim.post("/Groups", big).json["id"]
    for size in (n, 10 * n):  # once each before measuring: caches and first-use imports are not the input's work
        assert send(scim, context, size).status_code < 500

    ratio = growth(lambda size: lambda: send(scim, context, size), n)

    assert ratio < LINEAR, f"{name}: t(10n)/t(n) = {ratio:.1f}"
