"""The activity trail written by the routes: one entry per write or refused request, never a secret."""

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from admin.activity import line
from chalicelib.config import settings
from chalicelib.scim.trail import REDACTED, _scrubbed
from chalicelib.store import connection
from chalicelib.store.activity import ActivityEntry, ActivityTable
from chalicelib.store.errors import Unavailable
from tests.conftest import DynamoCalls, Scim, Tenant, user_body
from tests.helpers import CORE_GROUP, CUSTOM_USER, patch_body

PASSWORD = "Zebra-Piano-4711-Quartz"


def entries(tenant: str = "acme") -> list[ActivityEntry]:
    return ActivityTable(connection.dynamodb(settings()), settings().activity_table, tenant).newest(limit=1000)


def raw_items() -> str:
    client = connection.dynamodb(settings())
    return json.dumps(client.scan(TableName=settings().activity_table)["Items"])


def paths(entry: ActivityEntry) -> list[str]:
    return [change.path for change in entry.changes]


@pytest.fixture
def ada(scim: Scim) -> dict[str, Any]:
    user: dict[str, Any] = scim.post("/Users", user_body("ada@example.com", externalId="00u-ada")).json
    return user


@pytest.fixture
def finance(scim: Scim, ada: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": ada["id"]}]}
    ).json
    return group


def one_new_entry(action: Callable[[], Any]) -> tuple[Any, ActivityEntry]:
    before = entries()
    response = action()
    after = entries()
    assert len(after) == len(before) + 1, [e.operation for e in after[: len(after) - len(before)]]
    return response, after[0]


def test_creating_a_user_leaves_one_entry_with_its_attributes(scim: Scim, tenant: Tenant) -> None:
    response, entry = one_new_entry(lambda: scim.post("/Users", user_body("ada@example.com", password=PASSWORD)))
    assert response.status_code == 201
    assert (entry.operation, entry.method, entry.status, entry.resource_type) == ("create", "POST", 201, "User")
    assert (entry.resource_id, entry.resource_name, entry.client_id) == (
        response.json["id"],
        "ada@example.com",
        tenant.client_id,
    )
    assert {"userName", "name.givenName", "name.familyName", "emails", "active", "password"} <= set(paths(entry))
    password = next(change for change in entry.changes if change.path == "password")
    assert password.secret and password.old is None and password.new is None
    given = next(change for change in entry.changes if change.path == "name.givenName")
    assert (given.old, given.new) == (None, "Barbara")


@pytest.mark.parametrize(
    ("name", "method", "body", "operation", "changed"),
    [
        (
            "patch a name",
            "PATCH",
            patch_body({"op": "replace", "path": "name.givenName", "value": "Augusta"}),
            "patch",
            {"name.givenName": ("Barbara", "Augusta")},
        ),
        (
            "patch Entra's way",
            "PATCH",
            patch_body({"op": "Replace", "path": "active", "value": "False"}),
            "patch",
            {"active": (True, False)},
        ),
        (
            "patch the custom extension",
            "PATCH",
            patch_body(
                {
                    "op": "add",
                    "path": f"{CUSTOM_USER}:personId",
                    "value": "P-1",
                }
            ),
            "patch",
            {f"{CUSTOM_USER}:personId": (None, "P-1")},
        ),
        (
            "replace with a new family name",
            "PUT",
            user_body("ada@example.com", externalId="00u-ada", name={"givenName": "Barbara", "familyName": "King"}),
            "replace",
            {"name.familyName": ("Jensen", "King")},
        ),
        ("deactivate", "DELETE", None, "deactivate", {"active": (True, False)}),
        (
            "a patch that changes nothing",
            "PATCH",
            patch_body({"op": "replace", "path": "active", "value": True}),
            "patch",
            {},
        ),
    ],
)
def test_each_user_write_leaves_exactly_one_entry_with_the_paths_it_changed(
    scim: Scim,
    ada: dict[str, Any],
    name: str,
    method: str,
    body: Any,
    operation: str,
    changed: dict[str, tuple[Any, Any]],
) -> None:
    response, entry = one_new_entry(lambda: scim.request(method, f"/Users/{ada['id']}", body))
    assert response.status_code < 300, response.json
    assert (entry.operation, entry.resource_id, entry.resource_name) == (operation, ada["id"], "ada@example.com")
    assert {c.path: (c.old, c.new) for c in entry.changes} == changed


def test_group_writes_each_leave_one_entry_with_members_counted(
    scim: Scim, ada: dict[str, Any], finance: dict[str, Any]
) -> None:
    created = entries()[0]
    assert (created.operation, created.resource_name, created.members_added) == ("create", "Finance", 1)
    assert created.members_added_sample == (ada["id"],)
    others = [scim.post("/Users", user_body(f"user{n}@example.com")).json["id"] for n in range(12)]
    group = f"/Groups/{finance['id']}"

    _, added = one_new_entry(
        lambda: scim.patch(group, patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in others]}))
    )
    assert (added.operation, added.members_added, added.members_removed) == ("patch", 12, 0)
    assert added.members_added_sample == tuple(others[:10])
    assert added.resource_name == "Finance"

    _, removed = one_new_entry(
        lambda: scim.patch(group, patch_body({"op": "Remove", "path": "members", "value": [{"value": others[0]}]}))
    )
    assert (removed.members_added, removed.members_removed_sample) == (0, (others[0],))

    _, renamed = one_new_entry(
        lambda: scim.patch(
            group, patch_body({"op": "replace", "value": {"id": finance["id"], "displayName": "Finance EMEA"}})
        )
    )
    assert {c.path: (c.old, c.new) for c in renamed.changes} == {"displayName": (None, "Finance EMEA")}

    _, replaced = one_new_entry(
        lambda: scim.put(
            group, {"schemas": [CORE_GROUP], "displayName": "Finance EU", "members": [{"value": ada["id"]}]}
        )
    )
    assert replaced.operation == "replace"
    assert {c.path: (c.old, c.new) for c in replaced.changes} == {"displayName": ("Finance EMEA", "Finance EU")}
    assert (replaced.members_added, replaced.members_removed) == (0, 11)

    _, deleted = one_new_entry(lambda: scim.delete(group))
    assert (deleted.operation, deleted.status, deleted.resource_id) == ("delete", 204, finance["id"])
    assert deleted.resource_name == "Finance EU"  # the role that was deleted, by its name
    assert "delete     Group Finance EU [" in line(deleted) and "204  deleted" in line(deleted)


def test_refused_requests_leave_their_status_scim_type_and_detail_but_reads_and_401_leave_nothing(
    scim: Scim, ada: dict[str, Any]
) -> None:
    _, taken = one_new_entry(lambda: scim.post("/Users", user_body("ADA@example.com")))
    assert (taken.status, taken.scim_type, taken.operation, taken.resource_id) == (409, "uniqueness", "create", None)
    assert taken.resource_name == "ADA@example.com" and taken.detail

    _, missing = one_new_entry(
        lambda: scim.patch("/Users/nobody", patch_body({"op": "replace", "path": "active", "value": False}))
    )
    assert (missing.status, missing.resource_id) == (404, "nobody")

    _, bad_filter = one_new_entry(lambda: scim.get("/Users?filter=userName eq"))
    assert (bad_filter.status, bad_filter.scim_type, bad_filter.operation) == (400, "invalidFilter", "search")

    count = len(entries())
    assert scim.get(f"/Users/{ada['id']}").status_code == 200
    assert scim.get('/Users?filter=userName eq "ada@example.com"').status_code == 200
    assert Scim(scim.client, "Bearer scim-nobody.x").get("/Users").status_code == 401
    assert len(entries()) == count


def test_a_body_nested_too_deep_for_json_still_leaves_its_refusal_in_the_trail(
    scim: Scim, ada: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Found by `make fuzz`: the service refused the body (400), then the trail's own parse of it raised
    RecursionError, so the refusal had no entry and an ERROR with a traceback was logged instead."""
    deep = b"[" * 5000 + b"]" * 5000

    with caplog.at_level(logging.ERROR):
        response, entry = one_new_entry(lambda: scim.patch(f"/Users/{ada['id']}", raw=deep))

    assert (response.status_code, response.json["scimType"]) == (400, "invalidSyntax")
    assert (entry.status, entry.scim_type, entry.resource_id) == (400, "invalidSyntax", ada["id"])
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_refusals_detail_is_scrubbed_of_the_password_however_deep_the_body_nests() -> None:
    """json.loads on 3.13 accepts 5,000 levels; the scrub walked them by recursion and raised RecursionError."""
    deep: Any = "end"
    for _ in range(20_000):
        deep = [deep]
    body = {"password": "Tr0ub4dor&3-secret", "nested": deep}

    detail = _scrubbed("the password Tr0ub4dor&3-secret is too weak", body)

    assert detail == f"the password {REDACTED} is too weak"


def test_the_trail_of_one_user_is_one_query_newest_first(
    scim: Scim, ada: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scim.patch(f"/Users/{ada['id']}", patch_body({"op": "replace", "path": "name.givenName", "value": "Augusta"}))
    scim.delete(f"/Users/{ada['id']}")
    trail = ActivityTable(connection.dynamodb(settings()), settings().activity_table, "acme")
    assert [e.operation for e in trail.of_resource("User", ada["id"])] == ["deactivate", "patch", "create"]


def test_a_failed_trail_write_leaves_the_scim_answer_unchanged(
    scim: Scim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given the same requests answered with the trail working, and then with every trail write failing
    def session(prefix: str) -> list[tuple[int, Any]]:
        created = scim.post("/Users", user_body(f"{prefix}@example.com"))
        answers = [created, scim.post("/Users", user_body(f"{prefix}@example.com"))]
        answers.append(
            scim.patch(f"/Users/{created.json['id']}", patch_body({"op": "replace", "path": "active", "value": False}))
        )
        answers.append(scim.get("/Users/nobody"))
        return [(a.status_code, _comparable(a.json)) for a in answers]

    working = session("first")

    def failing(self: ActivityTable, entry: ActivityEntry) -> None:
        raise Unavailable("the activity table is throttled")

    monkeypatch.setattr(ActivityTable, "record", failing)
    caplog.set_level(logging.WARNING)
    capsys.readouterr()
    failed = session("second")
    # Then the answers are the same, and the lost entries are logged and counted
    assert [(s, _renamed(b)) for s, b in failed] == [(s, _renamed(b)) for s, b in working]
    lost = [json.loads(r.getMessage()) for r in caplog.records if "activity.lost" in r.getMessage()]
    assert [(line["status"], line["operation"]) for line in lost] == [
        (201, "create"),
        (409, "create"),
        (200, "patch"),
        (404, "read"),
    ]
    counted = [line for line in capsys.readouterr().out.splitlines() if '"ActivityWriteFailures":[1.0]' in line]
    assert len(counted) == 4


def _comparable(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if k not in ("id", "meta")}


def _renamed(body: Any) -> str:
    return json.dumps(body).replace("second", "X").replace("first", "X")


def test_no_password_secret_or_hash_reaches_the_trail(scim: Scim, tenant: Tenant, ada: dict[str, Any]) -> None:
    scim.post("/Users", user_body("grace@example.com", password=PASSWORD))
    scim.patch(f"/Users/{ada['id']}", patch_body({"op": "replace", "path": "password", "value": PASSWORD + "x"}))
    scim.patch(f"/Users/{ada['id']}", patch_body({"op": "replace", "value": {"password": PASSWORD + "y"}}))
    scim.put(f"/Users/{ada['id']}", user_body("ada@example.com", password=PASSWORD + "z"))
    scim.patch(f"/Users/{ada['id']}", patch_body({"op": "replace", "path": "password", "value": [PASSWORD + "w"]}))
    scim.post("/Users", user_body("short@example.com", password="Tiny7!"))
    scim.post("/Users", user_body("typed@example.com", password={"value": PASSWORD + "v"}))
    kept = raw_items()
    assert len(entries()) == 8
    for secret in (PASSWORD, "Tiny7!", "$argon2", tenant.client_secret):
        assert secret not in kept
    assert sum(change.secret for entry in entries() for change in entry.changes) == 4


def test_a_write_costs_one_put_item_more_for_its_trail(
    scim: Scim, ada: dict[str, Any], dynamo_calls: DynamoCalls
) -> None:
    dynamo_calls.reset()
    scim.patch(f"/Users/{ada['id']}", patch_body({"op": "replace", "path": "name.givenName", "value": "Augusta"}))
    trail_writes = [p for name, p in dynamo_calls.calls if p.get("TableName") == settings().activity_table]
    assert [name for name, p in dynamo_calls.calls if p.get("TableName") == settings().activity_table] == ["PutItem"]
    assert len(trail_writes) == 1


def test_tenant_b_never_sees_tenant_a_s_trail(scim: Scim, other_scim: Scim, ada: dict[str, Any]) -> None:
    assert other_scim.get(f"/Users/{ada['id']}").status_code == 404
    assert other_scim.post("/Users", user_body("ada@example.com")).status_code == 201
    assert [e.resource_name for e in entries("acme")] == ["ada@example.com"]
    assert [(e.status, e.operation) for e in entries("globex")] == [(201, "create"), (404, "read")]
    assert all(e.resource_id != ada["id"] or e.status == 404 for e in entries("globex"))


def test_a_huge_value_is_cut_to_256_characters_in_the_trail_and_in_a_lost_entry_s_log_line(
    scim: Scim, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a client that sends a 60,000-character givenName
    huge = {"givenName": "G" * 60_000, "familyName": "Jensen"}
    created = scim.post("/Users", user_body("ada@example.com", name=huge))
    assert created.status_code == 201
    # Then the trail keeps its first 255 characters and an ellipsis
    given = next(change for change in entries()[0].changes if change.path == "name.givenName")
    assert given.new == "G" * 255 + "…"
    assert len(raw_items()) < 2_000

    # And when the trail cannot be written, the activity.lost log line is as bounded
    def failing(self: ActivityTable, entry: ActivityEntry) -> None:
        raise Unavailable("the activity table is throttled")

    monkeypatch.setattr(ActivityTable, "record", failing)
    caplog.set_level(logging.WARNING)
    scim.patch(
        f"/Users/{created.json['id']}", patch_body({"op": "replace", "path": "name.familyName", "value": "J" * 60_000})
    )
    (lost,) = [json.loads(r.getMessage()) for r in caplog.records if "activity.lost" in r.getMessage()]
    assert lost["changes"] == [{"path": "name.familyName", "old": "Jensen", "new": "J" * 255 + "…"}]


def test_a_refused_request_with_a_lone_surrogate_still_leaves_its_entry(
    scim: Scim, caplog: pytest.LogCaptureFixture
) -> None:
    # The service refuses "\ud800", json.loads accepts it, and UTF-8 cannot carry it: the entry was lost, and
    # each such request counted ActivityWriteFailures (ten fired the alarm on demand).
    raw = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada\\ud800"}'

    with caplog.at_level(logging.WARNING, logger="scim.activity"):
        response, entry = one_new_entry(lambda: scim.post("/Users", raw=raw))

    assert response.status_code == 400
    assert (entry.status, entry.resource_name) == (400, "ada\ufffd")
    assert "activity.lost" not in caplog.text


def test_every_field_a_refused_request_stores_is_cut_to_256_characters(scim: Scim) -> None:
    long_id = "x" * 60_000

    response, entry = one_new_entry(lambda: scim.patch(f"/Users/{long_id}", patch_body()))

    assert response.status_code in (400, 404)
    assert entry.resource_id is not None and entry.resource_id.startswith("xxx")
    stored = json.loads(raw_items())[0]
    keys = {"pk", "sk", "resource_key", "error_key", "ignored_key"}  # the tenant, the time, and the cut id
    longest = max(len(value["S"]) for name, value in stored.items() if "S" in value and name not in keys)
    assert longest <= 256, longest
