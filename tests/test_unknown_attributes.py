"""Attributes no schema defines are ignored and named on the access log line (issue #16 item 7).

A typo in an IdP's mapping, or a custom attribute the admin added, must not stop a whole tenant from
provisioning; what is invalid for a known attribute is still refused.
"""

import json
from typing import Any

import pytest

from tests.conftest import Scim, user_body

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TAG = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"log"')]


def test_unknown_attributes_are_ignored_and_their_names_logged_never_their_values(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    body = user_body(
        costCentre="SECRET-VALUE-1",
        name={"givenName": "Barbara", "middleNameTypo": "SECRET-VALUE-2"},
        **{ENTERPRISE: {"department": "Sales", "dept": "SECRET-VALUE-3"}, TAG: {"tag": "SECRET-VALUE-4"}},
    )
    body["schemas"] = [*body["schemas"], ENTERPRISE, TAG]
    capsys.readouterr()

    response = scim.post("/Users", body)

    assert response.status_code == 201
    assert response.json["schemas"] == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        ENTERPRISE,
        "urn:onemodel:params:scim:schemas:extension:2.0:User",
    ]
    assert response.json[ENTERPRISE] == {"department": "Sales"}
    assert "costCentre" not in response.json and TAG not in response.json
    output = capsys.readouterr().out
    assert "SECRET-VALUE" not in output
    (line,) = [json.loads(line) for line in output.splitlines() if line.startswith('{"log"')]
    assert sorted(line["ignored_attributes"]) == sorted(
        ["costCentre", "name.middleNameTypo", f"{ENTERPRISE}:dept", TAG]
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

    response = scim.patch(f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": operations})

    assert response.status_code == 200
    assert response.json["title"] == "Boss"
    (line,) = access_lines(capsys)
    assert line["ignored_attributes"] == ["favouriteColour", "shoeSize"]


def test_a_patch_of_only_unknown_attributes_keeps_the_version(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json
    operation = {"op": "replace", "path": "nosuch", "value": 1}

    response = scim.patch(f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [operation]})

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
    [{"active": "maybe"}, {"emails": [{"value": "not an address"}]}, {"name": "Barbara"}, {ENTERPRISE: "x"}],
)
def test_an_invalid_value_of_a_known_attribute_is_still_refused(scim: Scim, invalid: dict[str, Any]) -> None:
    response = scim.post("/Users", user_body(**invalid))

    assert response.status_code == 400
