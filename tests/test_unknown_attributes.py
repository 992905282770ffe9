"""Attributes no schema defines are ignored and named in the trail and on the access log line (issue #16 item 7).

A typo in an IdP's mapping, or a custom attribute the admin added, must not stop a whole tenant from
provisioning; what is invalid for a known attribute is still refused. The names (never the values)
are kept with the write's trail entry, where ``admin activity`` shows them.
"""

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.activity import ActivityEntry, ActivityTable
from tests.conftest import Scim, Tenant, user_body
from tests.helpers import CORE_USER, ENTERPRISE_USER, ONEMODEL_USER, patch_body
from tests.replay import Replayer, load
from tests.test_admin_cli import run

TAG = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"log"')]


def test_unknown_attributes_are_ignored_and_their_names_logged_never_their_values(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    body = user_body(
        costCentre="SECRET-VALUE-1",
        name={"givenName": "Barbara", "middleNameTypo": "SECRET-VALUE-2"},
        **{ENTERPRISE_USER: {"department": "Sales", "dept": "SECRET-VALUE-3"}, TAG: {"tag": "SECRET-VALUE-4"}},
    )
    body["schemas"] = [*body["schemas"], ENTERPRISE_USER, TAG]
    capsys.readouterr()

    response = scim.post("/Users", body)

    assert response.status_code == 201
    assert response.json["schemas"] == [
        CORE_USER,
        ENTERPRISE_USER,
        ONEMODEL_USER,
    ]
    assert response.json[ENTERPRISE_USER] == {"department": "Sales"}
    assert "costCentre" not in response.json and TAG not in response.json
    output = capsys.readouterr().out
    assert "SECRET-VALUE" not in output
    (line,) = [json.loads(line) for line in output.splitlines() if line.startswith('{"log"')]
    assert sorted(line["ignored_attributes"]) == sorted(
        ["costCentre", "name.middleNameTypo", f"{ENTERPRISE_USER}:dept", TAG]
    )


def test_a_put_with_an_unknown_attribute_replaces_the_rest(scim: Scim) -> None:
    user = scim.post("/Users", user_body(title="Boss")).json

    response = scim.put(f"/Users/{user['id']}", user_body(title="Chief", nickname_typo="x"))

    assert response.status_code == 200
    assert response.json["title"] == "Chief"


def test_a_patch_of_an_unknown_attribute_changes_nothing_and_is_logged(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    user = scim.post("/Users", user_body()).json
    operations = [
        {"op": "Replace", "path": "favouriteColour", "value": "SECRET-VALUE"},
        {"op": "replace", "value": {"title": "Boss", "shoeSize": 44}},
    ]
    capsys.readouterr()

    response = scim.patch(f"/Users/{user['id']}", patch_body(*operations))

    assert response.status_code == 200
    assert response.json["title"] == "Boss"
    (line,) = access_lines(capsys)
    assert line["ignored_attributes"] == ["favouriteColour", "shoeSize"]


def test_a_patch_of_only_unknown_attributes_keeps_the_version(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json
    operation = {"op": "replace", "path": "nosuch", "value": 1}

    response = scim.patch(f"/Users/{user['id']}", patch_body(operation))

    assert response.status_code == 200
    assert response.json["meta"]["version"] == user["meta"]["version"]


def test_a_request_without_unknown_attributes_logs_no_such_field(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    scim.post("/Users", user_body())

    (line,) = access_lines(capsys)
    assert "ignored_attributes" not in line


def test_the_names_logged_are_bounded(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = {f"x{index:03d}" + "y" * 300: 1 for index in range(100)}
    capsys.readouterr()

    assert scim.post("/Users", user_body(**unknown)).status_code == 201

    (line,) = access_lines(capsys)
    assert len(line["ignored_attributes"]) == 20
    assert all(len(name) <= 128 for name in line["ignored_attributes"])


@pytest.mark.parametrize(
    "invalid",
    [{"active": "maybe"}, {"emails": [{"value": "not an address"}]}, {"name": "Barbara"}, {ENTERPRISE_USER: "x"}],
)
def test_an_invalid_value_of_a_known_attribute_is_still_refused(scim: Scim, invalid: dict[str, Any]) -> None:
    response = scim.post("/Users", user_body(**invalid))

    assert response.status_code == 400


def trail_entries() -> list[ActivityEntry]:
    return ActivityTable(connection.dynamodb(settings()), settings().activity_table, "acme").newest(limit=100)


def stored_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = connection.dynamodb(settings()).scan(TableName=settings().activity_table)["Items"]
    return items


def admin(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code, out, _ = run(capsys, *argv)
    assert code == 0
    return out


def test_entra_writes_with_unmapped_attributes_keep_their_names_in_the_trail_never_their_values(
    chalice_client: Client, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Entra's create with a mistyped target attribute and a custom extension, then a PATCH of that extension
    steps = [step for step in load("entra") if step.name.split("/")[1][:2] in ("54", "55")]
    Replayer(chalice_client, tenant).replay(steps)
    # Then each write's entry names what was ignored, and the rest of it was applied
    patched, created = trail_entries()[:2]
    assert (created.operation, created.status) == ("create", 201)
    assert created.ignored_attributes == ("preferredLangauge", TAG)
    assert f"{ENTERPRISE_USER}:department" in [change.path for change in created.changes]
    assert (patched.operation, patched.status) == ("patch", 200)
    assert patched.ignored_attributes == (f"{TAG}:tag",)
    assert [change.path for change in patched.changes] == ["displayName"]
    # And no value of an ignored attribute is stored, or shown by the admin CLI
    assert "Kiwi-Value" not in json.dumps(stored_items())
    out = admin(capsys, "activity", "acme")
    assert "Kiwi-Value" not in out
    lines = out.splitlines()
    assert f"ignored: {TAG}:tag" in lines[0] and 'displayName = "Pvlo"' in lines[0]
    assert f"ignored: preferredLangauge, {TAG}" in lines[1]


def test_a_put_with_a_mistyped_key_keeps_the_name_in_the_trail(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    user = scim.post("/Users", user_body(nickName="Babs")).json
    # Okta's PUT, its mapping sending nickName as "nickNmae"
    body = user_body(nickNmae="Kiwi-Value-put", id=user["id"], groups=[], meta={"resourceType": "User"})

    response = scim.put(f"/Users/{user['id']}", body)

    assert response.status_code == 200 and "nickName" not in response.json
    replaced = trail_entries()[0]
    assert (replaced.operation, replaced.ignored_attributes) == ("replace", ("nickNmae",))
    assert [(c.path, c.old, c.new) for c in replaced.changes] == [("nickName", "Babs", None)]
    assert "Kiwi-Value" not in json.dumps(stored_items())
    out = admin(capsys, "activity", "acme", "--user", user["id"], "--json")
    assert json.loads(out)[0]["ignored_attributes"] == ["nickNmae"] and "Kiwi-Value" not in out


def test_a_refused_write_keeps_no_ignored_names(scim: Scim) -> None:
    scim.post("/Users", user_body("ada@example.com"))

    taken = scim.post("/Users", user_body("ADA@example.com", costCentre="Kiwi-Value"))
    invalid = scim.post("/Users", user_body("grace@example.com", costCentre="x", active="maybe"))

    assert (taken.status_code, invalid.status_code) == (409, 400)
    refused = trail_entries()[:2]
    assert [entry.status for entry in refused] == [400, 409]
    assert all(entry.ignored_attributes == () for entry in refused)
    assert not any("ignored_attributes" in item or "ignored_key" in item for item in stored_items())


def test_a_write_with_nothing_unknown_stores_no_ignored_field(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json
    scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "Replace", "path": "title", "value": "Boss"}),
    )

    assert [entry.ignored_attributes for entry in trail_entries()] == [(), ()]
    assert not any("ignored_attributes" in item or "ignored_key" in item for item in stored_items())


def test_a_patch_of_only_unknown_attributes_is_a_write_that_changed_nothing_and_names_them(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    user = scim.post("/Users", user_body()).json
    operation = {"op": "Add", "path": "favouriteColour", "value": "Kiwi-Value"}

    scim.patch(f"/Users/{user['id']}", patch_body(operation))

    patched = trail_entries()[0]
    assert (patched.changes, patched.ignored_attributes) == ((), ("favouriteColour",))
    line = admin(capsys, "activity", "acme", "--limit", "1")
    assert "no change; ignored: favouriteColour" in line and "Kiwi-Value" not in line


def test_the_names_kept_in_the_trail_are_bounded(scim: Scim) -> None:
    unknown = {f"x{index:03d}" + "y" * 300: 1 for index in range(100)}

    assert scim.post("/Users", user_body(**unknown)).status_code == 201

    names = trail_entries()[0].ignored_attributes
    assert len(names) == 20 and all(len(name) <= 128 for name in names)
