"""The one rule for reference attributes (chalicelib/references.py), then through the API on every reference attribute.

Microsoft's SCIM validator sends a random 12-letter string as profileUrl (issue #16), a relative URI reference
that must pass; schemes that run script or read local files are refused with a 400 naming the attribute (issue #14).
"""

from typing import Any

import pytest

from chalicelib.references import reference_problem
from tests.conftest import Scim, user_body
from tests.helpers import CORE_GROUP, CORE_USER, ENTERPRISE_USER, patch_body


@pytest.mark.parametrize(
    "reference",
    [
        "Pzkwqyrtmxlc",
        "https://example.com/users/bjensen",
        "http://example.com/a%20b?x=1#top",
        "/scim/v2/Users/1",
        "../photos/1.jpg",
        CORE_USER,
        "mailto:bjensen@example.com",
        "javascript",
        "datafile.png",
        "a:b",
    ],
)
def test_any_uri_reference_is_accepted(reference: str) -> None:
    assert reference_problem(reference) is None


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("javascript:alert(1)", "javascript: scheme"),
        ("JavaScript:alert(1)", "javascript: scheme"),
        ("vbscript:msgbox(1)", "vbscript: scheme"),
        ("data:text/html,<script>alert(1)</script>", "data: scheme"),
        ("file:///etc/passwd", "file: scheme"),
        (" javascript:alert(1)", "whitespace at an end"),
        ("java\tscript:alert(1)", "control character"),
        ("java\nscript:alert(1)", "control character"),
        ("https://example.com/\x00", "control character"),
    ],
)
def test_script_capable_and_local_schemes_are_refused(reference: str, why: str) -> None:
    problem = reference_problem(reference)

    assert problem is not None and why in problem


def refused(response: Any, attribute: str) -> bool:
    body = response.json
    return response.status_code == 400 and body["scimType"] == "invalidValue" and body["detail"].startswith(attribute)


def test_validator_random_profile_url_and_photo_are_stored(scim: Scim) -> None:
    response = scim.post("/Users", user_body(profileUrl="Pzkwqyrtmxlc", photos=[{"value": "Xqwrtzmkplvn"}]))

    assert response.status_code == 201
    assert response.json["profileUrl"] == "Pzkwqyrtmxlc"
    assert response.json["photos"] == [{"value": "Xqwrtzmkplvn"}]


@pytest.mark.parametrize("scheme", ["javascript:alert(1)", "vbscript:x", "data:text/html,x", "file:///etc/passwd"])
def test_every_user_reference_attribute_refuses_the_scheme(scim: Scim, scheme: str) -> None:
    manager = scim.post("/Users", user_body("manager@example.com")).json["id"]
    cases = {
        "profileUrl": user_body(profileUrl=scheme),
        "photos.value": user_body(photos=[{"value": scheme}]),
        f"{ENTERPRISE_USER}:manager.$ref": user_body(
            **{ENTERPRISE_USER: {"manager": {"value": manager, "$ref": scheme}}}
        ),
    }
    for attribute, body in cases.items():
        assert refused(scim.post("/Users", body), attribute), attribute

    assert scim.get('/Users?filter=userName eq "bjensen@example.com"').json["totalResults"] == 0


def test_patch_and_put_refuse_the_scheme_and_write_nothing(scim: Scim) -> None:
    user = scim.post("/Users", user_body(profileUrl="https://example.com/me")).json
    patch = patch_body({"op": "Replace", "path": "profileUrl", "value": "javascript:x"})

    assert refused(scim.patch(f"/Users/{user['id']}", patch), "profileUrl")
    assert refused(scim.put(f"/Users/{user['id']}", user_body(profileUrl="data:,x")), "profileUrl")
    assert scim.get(f"/Users/{user['id']}").json["profileUrl"] == "https://example.com/me"


def test_group_member_reference_refuses_the_scheme_on_create_and_patch(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json["id"]
    member = {"value": user, "$ref": "javascript:alert(1)"}
    group = {"schemas": [CORE_GROUP], "displayName": "g", "members": [member]}

    assert refused(scim.post("/Groups", group), "members.$ref")
    created = scim.post("/Groups", {**group, "members": []}).json["id"]
    add = patch_body({"op": "Add", "path": "members", "value": [member]})
    assert refused(scim.patch(f"/Groups/{created}", add), "members.$ref")
    assert scim.get(f"/Groups/{created}").json.get("members", []) == []


@pytest.mark.parametrize("address", ["a\x00b@example.com", "a\x1b@example.com", "a@example.com\x7f"])
def test_an_email_with_a_control_character_is_a_400(scim: Scim, address: str) -> None:
    response = scim.post("/Users", user_body(emails=[{"value": address, "type": "work"}]))

    assert response.status_code == 400
    assert response.json["scimType"] == "invalidValue"
    assert "control character" in response.json["detail"]
