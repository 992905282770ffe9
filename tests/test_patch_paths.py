"""Every PATCH path form of RFC 7644 §3.5.2 on a user, table-driven: operation in, resulting user out."""

from typing import Any

import pytest

from tests.conftest import Scim, user_body
from tests.helpers import CUSTOM_USER, ENTERPRISE_USER, ONEMODEL_USER, patch_body

START = user_body(
    "bjensen@example.com",
    emails=[
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@home.example", "type": "home"},
    ],
    phoneNumbers=[{"value": "555-0100", "type": "work"}],
    **{ENTERPRISE_USER: {"employeeNumber": "701", "department": "Sales"}},
)


def emails(user: dict[str, Any]) -> dict[str, str]:
    return {e.get("type", ""): e["value"] for e in user.get("emails", [])}


@pytest.mark.parametrize(
    ("operations", "check"),
    [
        ([{"op": "replace", "path": "title", "value": "CFO"}], lambda u: u["title"] == "CFO"),
        ([{"op": "add", "path": "name.middleName", "value": "Q"}], lambda u: u["name"]["middleName"] == "Q"),
        ([{"op": "remove", "path": "name.givenName"}], lambda u: "givenName" not in u["name"]),
        (
            [{"op": "replace", "path": 'emails[type eq "home"].value', "value": "b@home.example"}],
            lambda u: emails(u) == {"work": "bjensen@example.com", "home": "b@home.example"},
        ),
        ([{"op": "remove", "path": 'emails[type eq "home"]'}], lambda u: emails(u) == {"work": "bjensen@example.com"}),
        (
            [{"op": "add", "path": "emails", "value": [{"value": "other@example.com", "type": "other"}]}],
            lambda u: emails(u)["other"] == "other@example.com" and len(u["emails"]) == 3,
        ),
        (
            [{"op": "replace", "path": "emails", "value": [{"value": "x@example.com"}]}],
            lambda u: emails(u) == {"": "x@example.com"},
        ),
        ([{"op": "remove", "path": "phoneNumbers"}], lambda u: "phoneNumbers" not in u),
        (
            [{"op": "replace", "path": f"{ENTERPRISE_USER}:department", "value": "R&D"}],
            lambda u: u[ENTERPRISE_USER]["department"] == "R&D",
        ),
        (
            [{"op": "remove", "path": f"{ENTERPRISE_USER}:employeeNumber"}],
            lambda u: "employeeNumber" not in u[ENTERPRISE_USER],
        ),
        (
            [{"op": "add", "path": f"{CUSTOM_USER}:personId", "value": "P-7"}],
            lambda u: u[CUSTOM_USER] == {"personId": "P-7"},
        ),
        (
            [{"op": "add", "value": {"title": "CTO", "nickName": "Babs"}}],
            lambda u: (u["title"], u["nickName"]) == ("CTO", "Babs"),
        ),
        ([{"op": "replace", "value": {"name.familyName": "Smith"}}], lambda u: u["name"]["familyName"] == "Smith"),
        (
            [{"op": "replace", "value": {f"{ENTERPRISE_USER}:employeeNumber": "9"}}],
            lambda u: u[ENTERPRISE_USER]["employeeNumber"] == "9",
        ),
        (
            [{"op": "replace", "value": {CUSTOM_USER: {"personId": "P-9"}}}],
            lambda u: u[CUSTOM_USER]["personId"] == "P-9",
        ),
        (
            [{"op": "replace", "path": "active", "value": False}, {"op": "replace", "path": "title", "value": "VP"}],
            lambda u: u["active"] is False and u["title"] == "VP",
        ),
        ([{"op": "Replace", "path": "displayName", "value": "Babs J"}], lambda u: u["displayName"] == "Babs J"),
    ],
)
def test_patch_path_forms(scim: Scim, operations: list[dict[str, Any]], check: Any) -> None:
    user = scim.post("/Users", START).json

    response = scim.patch(f"/Users/{user['id']}", patch_body(*operations))

    assert response.status_code == 200, response.body
    assert check(response.json)
    assert scim.get(f"/Users/{user['id']}").json == response.json
    assert response.json["meta"]["version"] != user["meta"]["version"]


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "replace", "path": "active", "value": False}, {"op": "replace", "path": "active", "value": True}],
        [{"op": "replace", "path": "title", "value": "CFO"}, {"op": "remove", "path": "title"}],
        [{"op": "replace", "path": "userName", "value": "bjensen@example.com"}],
        [{"op": "remove", "path": ONEMODEL_USER}],
    ],
    ids=["toggle back", "set and remove", "same userName", "read-only product extension"],
)
def test_a_patch_that_changes_nothing_stored_keeps_the_version(scim: Scim, operations: list[dict[str, Any]]) -> None:
    user = scim.post("/Users", START).json

    response = scim.patch(f"/Users/{user['id']}", patch_body(*operations))

    assert response.status_code == 200, response.body
    assert response.json["meta"]["version"] == user["meta"]["version"]
    assert response.headers["ETag"] == user["meta"]["version"]
    assert scim.get(f"/Users/{user['id']}").json == response.json


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "replace", "path": "groups", "value": []}, "mutability"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidValue"),
        ({"op": "replace", "path": 'emails[type eq "fax"].value', "value": "f@example.com"}, None),
        ({"op": "replace", "path": 'emails[type eq "work"].value', "value": "not-an-email"}, "invalidValue"),
        ({"op": "add", "path": "userName", "value": 7}, "invalidValue"),
        # An undefined attribute is ignored, not refused (tests/test_unknown_attributes.py); bad syntax is not.
        ({"op": "replace", "path": 'emails[type eq "work"', "value": 1}, "invalidPath"),
    ],
)
def test_bad_patches_are_4xx_scim_errors_and_change_nothing(
    scim: Scim, operation: dict[str, Any], scim_type: Any
) -> None:
    user = scim.post("/Users", START).json

    response = scim.patch(f"/Users/{user['id']}", patch_body(operation))

    if scim_type is None:  # Entra: a filter that matches nothing on replace adds the entry
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.body
    assert response.json["scimType"] == scim_type
    assert scim.get(f"/Users/{user['id']}").json["meta"]["version"] == user["meta"]["version"]
