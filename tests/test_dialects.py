"""The IdP dialect rewrites, one row per quirk: the IdP's request in, the RFC's form out (chalicelib/scim/dialects.py).

The replays in tests/test_idp_*.py prove each quirk end to end; these rows pin the rewrite itself.
"""

import json
from typing import Any

import pytest
from scim2_server.requests import ScimRequest

from chalicelib.scim.dialects import normalise
from tests.helpers import CORE_GROUP, CORE_USER, ENTERPRISE_USER, patch_body

BASE = "https://scim.example.com/api/scim/v2"
MANAGER = {"value": "m-1", "$ref": f"{BASE}/Users/m-1"}


def rewritten(method: str, path: str, body: Any) -> Any:
    request = normalise(ScimRequest(method=method, base_url=BASE, path=path, body=json.dumps(body).encode()))
    return json.loads(request.body)


@pytest.mark.parametrize(
    ("idp_request", "rfc_request"),
    [
        pytest.param(
            ("POST", "/Users", {"schemas": [CORE_USER], "userName": "a", "addresses": None, "department": None}),
            {"schemas": [CORE_USER], "userName": "a"},
            id="entra-json-nulls-are-absent",
        ),
        pytest.param(
            ("POST", "/Users", {"schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"]}),
            {"schemas": [CORE_USER, ENTERPRISE_USER]},
            id="entra-misspelled-enterprise-urn",
        ),
        pytest.param(
            (
                "POST",
                "/Groups",
                {"schemas": [CORE_GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]},
            ),
            {"schemas": [CORE_GROUP]},
            id="entra-adscim-group-schema",
        ),
        pytest.param(
            ("PUT", "/Users/u-1", {"schemas": ["urn:scim:schemas:core:1.0"], "userName": "a"}),
            {"schemas": [CORE_USER], "userName": "a"},
            id="onelogin-scim-1-core-urn-on-users",
        ),
        pytest.param(
            ("POST", "/Groups", {"schemas": ["urn:scim:schemas:core:1.0"], "displayName": "g"}),
            {"schemas": [CORE_GROUP], "displayName": "g"},
            id="onelogin-scim-1-core-urn-on-groups",
        ),
        pytest.param(
            ("POST", "/Users", {"schemas": [CORE_USER], ENTERPRISE_USER: {"manager": "m-1"}}),
            {"schemas": [CORE_USER], ENTERPRISE_USER: {"manager": MANAGER}},
            id="entra-manager-as-an-id",
        ),
        pytest.param(
            ("POST", "/Users", {ENTERPRISE_USER: {"manager": {"value": "m-1", "displayName": "Jane"}}}),
            {ENTERPRISE_USER: {"manager": {**MANAGER, "displayName": "Jane"}}},
            id="onelogin-manager-without-ref",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "Replace", "name": "active", "path": "active", "value": "True"}, id="u-1"),
            ),
            patch_body({"op": "Replace", "path": "active", "value": "True"}),
            id="entra-patch-with-id-and-operation-name",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "Add", "path": "manager", "value": [{"$ref": None, "value": "m-1"}]}),
            ),
            patch_body({"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": {"$ref": None, "value": "m-1"}}),
            id="entra-manager-as-a-one-element-list",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "Replace", "path": f"{ENTERPRISE_USER}:manager", "value": "m-1"}),
            ),
            patch_body({"op": "Replace", "path": f"{ENTERPRISE_USER}:manager", "value": MANAGER}),
            id="entra-manager-path-with-an-id",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "replace", "value": {f"{ENTERPRISE_USER}:manager": "m-1", "title": "x"}}),
            ),
            patch_body({"op": "replace", "value": {f"{ENTERPRISE_USER}:manager": MANAGER, "title": "x"}}),
            id="entra-flagged-pathless-manager",
        ),
        pytest.param(
            ("PATCH", "/Users/u-1", patch_body({"op": "Replace", "path": "title", "value": ""})),
            patch_body({"op": "Remove", "path": "title"}),
            id="entra-empty-string-clears",
        ),
        pytest.param(
            ("PATCH", "/Users/u-1", patch_body({"op": "replace", "path": "title", "value": None})),
            patch_body({"op": "remove", "path": "title"}),
            id="null-clears",
        ),
        pytest.param(
            ("PATCH", "/Users/u-1", patch_body({"op": "Replace", "path": 'emails[type eq "work"].value', "value": ""})),
            patch_body({"op": "Remove", "path": 'emails[type eq "work"]'}),
            id="entra-clearing-the-work-email-removes-it",
        ),
        pytest.param(
            ("PATCH", "/Users/u-1", patch_body({"op": "Replace", "path": f"{ENTERPRISE_USER}:manager", "value": ""})),
            patch_body({"op": "Remove", "path": f"{ENTERPRISE_USER}:manager"}),
            id="entra-empty-manager-removes-it",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body(
                    {
                        "op": "replace",
                        "value": {"name.givenName": "", "title": "x", ENTERPRISE_USER: {"department": ""}},
                    }
                ),
            ),
            patch_body(
                {"op": "replace", "value": {"title": "x"}},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
            ),
            id="entra-flagged-pathless-clears",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "replace", "value": {f"{ENTERPRISE_USER}:manager": {"value": ""}}}),
            ),
            patch_body({"op": "remove", "path": f"{ENTERPRISE_USER}:manager"}),
            id="pathless-manager-with-an-empty-value",
        ),
        pytest.param(
            ("POST", "/Users", {"userName": "a", "title": "", "emails": [{"value": "", "type": "work"}]}),
            {"userName": "a", "emails": []},
            id="entra-empty-strings-on-create-are-absent",
        ),
        pytest.param(
            ("POST", "/Users", {"userName": "a", ENTERPRISE_USER.upper(): {"Manager": {"Value": "m-1"}}}),
            {"userName": "a", ENTERPRISE_USER.upper(): {"Manager": MANAGER}},
            id="attribute-names-are-case-insensitive",
        ),
        pytest.param(
            ("PATCH", "/Users/u-1", {"OPERATIONS": [{"OP": "Add", "PATH": "Manager", "VALUE": {"Value": "m-1"}}]}),
            {"OPERATIONS": [{"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": MANAGER}]},
            id="patch-member-names-are-case-insensitive",
        ),
        pytest.param(
            (
                "PATCH",
                "/Users/u-1",
                patch_body({"op": "replace", "value": {ENTERPRISE_USER: {"Manager": {"Value": "m-1"}}}}),
            ),
            patch_body({"op": "replace", "value": {ENTERPRISE_USER: {"Manager": MANAGER}}}),
            id="pathless-enterprise-object-with-a-manager",
        ),
    ],
)
def test_idp_forms_are_rewritten_into_the_rfc_form(idp_request: tuple[str, str, Any], rfc_request: Any) -> None:
    assert rewritten(*idp_request) == rfc_request


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/Users/u-1", patch_body({"op": "replace", "path": "title", "value": "x"})),
        ("POST", "/Users/.search", {"filter": "userName eq null", "attributes": None}),
        ("GET", "/Users", {"schemas": ["urn:scim:schemas:core:1.0"]}),
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": "a", "emails": [{"value": "A@Example.com"}]}),
    ],
)
def test_requests_without_a_quirk_pass_byte_for_byte(method: str, path: str, body: Any) -> None:
    raw = json.dumps(body, indent=3).encode()

    request = normalise(ScimRequest(method=method, base_url=BASE, path=path, body=raw))

    assert request.body == raw


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000])
def test_bodies_that_are_not_json_objects_are_left_for_the_library_to_refuse(raw: bytes) -> None:
    request = normalise(ScimRequest(method="POST", base_url=BASE, path="/Users", body=raw))

    assert request.body == raw
