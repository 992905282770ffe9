"""Microsoft's SCIM validator flow, as documented, against the real server of `make run` over HTTP (issue #16).

scimvalidator.microsoft.com in "Discover my schema" mode (MicrosoftDocs/entra-docs
docs/identity/app-provisioning/scim-validator-tutorial.md) reads /Schemas, sends a random value for
every attribute it finds, then runs its user and group tests in Entra's request shapes: Bearer token,
capitalised ops, string booleans, "" to clear, the manager as a bare id. Its URL attributes get a bare
random string. As an integrator would, the password is left out of the attribute list (it must meet
the tenant's password policy, which random letters do not), and so are roles and entitlements (each value
must name a role of the tenant's catalogue, /Roles and /Entitlements, which random letters do not).
"""

import json
import random
import string
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.helpers import CORE_GROUP, CORE_USER, CUSTOM_USER, ENTERPRISE_USER, patch_body
from tests.test_conformance import devserver  # noqa: F401 (the same `make run` server, started for this module)

LEFT_OUT = {"password", "userName", "active"}  # set by the flow itself
CATALOGUED = {"roles", "entitlements"}  # values must be the tenant's roles: random ones are refused, as they should be
WRITABLE = {"readWrite", "writeOnly", "immutable"}


class Validator:
    """What the validator sends: Bearer, application/scim+json, a fresh connection per request."""

    def __init__(self, env: dict[str, str]) -> None:
        self.base = env["SCIM_BASE_URL"]
        self.token = env["SCIM_BEARER_TOKEN"]
        self.random = random.Random(7643)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path.replace(" ", "%20").replace('"', "%22"),
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def letters(self, count: int = 12) -> str:
        return "".join(self.random.choices(string.ascii_letters, k=count))

    def value(self, attribute: dict[str, Any]) -> Any:
        """A random value of the attribute's type, as the validator's generators make them."""
        kind = attribute["type"]
        if kind == "boolean":
            return self.random.choice([True, False])
        if kind == "integer":
            return self.random.randint(1, 9999)
        if kind == "dateTime":
            return "2026-11-29T10:00:00Z"
        if kind == "binary":
            return "TWFu"
        if kind == "complex":
            entry = {
                sub["name"]: self.value(sub)
                for sub in attribute["subAttributes"]
                if sub["mutability"] in WRITABLE and sub["name"] not in ("type", "primary", "$ref")
            }
            if attribute["name"] in ("emails", "phoneNumbers"):
                entry["value"] = f"{self.letters(8)}@contoso.com" if attribute["name"] == "emails" else "4258828080"
            types = next(
                (sub.get("canonicalValues") for sub in attribute["subAttributes"] if sub["name"] == "type"), None
            )
            if types:
                entry["type"] = types[0]
            return [entry] if attribute["multiValued"] else entry
        return self.letters()  # strings and references alike: the validator's 12 random letters

    def user_from_schemas(self, schemas: list[dict[str, Any]]) -> dict[str, Any]:
        by_id = {schema["id"]: schema for schema in schemas}
        user: dict[str, Any] = {
            "schemas": [CORE_USER, ENTERPRISE_USER, CUSTOM_USER],
            "userName": f"{self.letters()}@contoso.com",
            "active": True,
        }
        for attribute in by_id[CORE_USER]["attributes"]:
            if attribute["mutability"] in WRITABLE and attribute["name"] not in LEFT_OUT | CATALOGUED:
                user[attribute["name"]] = self.value(attribute)
        for extension in (ENTERPRISE_USER, CUSTOM_USER):
            user[extension] = {
                attribute["name"]: self.value(attribute)
                for attribute in by_id[extension]["attributes"]
                if attribute["mutability"] in WRITABLE and attribute["type"] != "complex"
            }
        return user


@pytest.fixture(scope="module")
def validator(devserver: dict[str, str]) -> Validator:  # noqa: F811
    return Validator(devserver)


def test_discovery_lists_what_the_validator_maps(validator: Validator) -> None:
    status, listing = validator.call("GET", "/Schemas")

    assert status == 200
    for schema_id in (CORE_USER, CORE_GROUP):
        schema = next(schema for schema in listing["Resources"] if schema["id"] == schema_id)
        assert {"id", "externalId"} <= {attribute["name"] for attribute in schema["attributes"]}


def test_user_tests_pass_with_random_values_for_every_discovered_attribute(validator: Validator) -> None:
    _, listing = validator.call("GET", "/Schemas")
    body = validator.user_from_schemas(listing["Resources"])
    assert body["profileUrl"].isalpha() and body["externalId"].isalpha()

    status, user = validator.call("POST", "/Users", body)
    assert status == 201, user
    for name, sent in body.items():
        if name not in ("schemas", ENTERPRISE_USER, CUSTOM_USER):
            assert user[name] == sent, name
    assert user[ENTERPRISE_USER] == body[ENTERPRISE_USER] and user[CUSTOM_USER] == body[CUSTOM_USER]

    status, duplicate = validator.call("POST", "/Users", body)
    assert (status, duplicate["scimType"]) == (409, "uniqueness")
    for scim_filter in (f'userName eq "{body["userName"]}"', f'externalId eq "{body["externalId"]}"'):
        status, found = validator.call("GET", f"/Users?filter={scim_filter}")
        assert (status, [resource["id"] for resource in found["Resources"]]) == (200, [user["id"]])
    status, none = validator.call("GET", f'/Users?filter=userName eq "{validator.letters()}"')
    assert (status, none["totalResults"], none["Resources"]) == (200, 0, [])

    replaced = {"title": validator.letters(), "profileUrl": validator.letters(), "nickName": validator.letters()}
    status, updated = validator.call(
        "PATCH",
        f"/Users/{user['id']}",
        patch_body(
            *({"op": "Replace", "path": name, "value": value} for name, value in replaced.items()),
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"{validator.letters()}@contoso.com"},
            {"op": "Replace", "path": f"{ENTERPRISE_USER}:department", "value": "Sales"},
        ),
    )
    assert status == 200 and all(updated[name] == value for name, value in replaced.items())

    cleared = patch_body(
        *({"op": "Replace", "path": name, "value": ""} for name in ("title", "displayName", "profileUrl"))
    )
    cleared["Operations"].append({"op": "Replace", "path": 'emails[type eq "work"].value', "value": ""})
    status, emptied = validator.call("PATCH", f"/Users/{user['id']}", cleared)
    assert status == 200 and not {"title", "displayName", "profileUrl", "emails"} & set(emptied)

    status, disabled = validator.call(
        "PATCH", f"/Users/{user['id']}", patch_body({"op": "Replace", "path": "active", "value": "False"})
    )
    assert (status, disabled["active"]) == (200, False)
    assert validator.call("GET", f"/Users/{user['id']}")[1]["active"] is False


def test_manager_add_replace_remove(validator: Validator) -> None:
    ids = [
        validator.call("POST", "/Users", {"schemas": [CORE_USER], "userName": f"{validator.letters()}@contoso.com"})[1][
            "id"
        ]
        for _ in range(3)
    ]
    user, first, second = ids
    manager_path = f"{ENTERPRISE_USER}:manager"

    status, added = validator.call(
        "PATCH", f"/Users/{user}", patch_body({"op": "Add", "path": "manager", "value": [{"value": first}]})
    )
    assert (status, added[ENTERPRISE_USER]["manager"]["value"]) == (200, first)
    status, checked = validator.call("GET", f'/Users?filter=id eq "{user}" and manager eq "{first}"&attributes=id')
    assert (status, checked["totalResults"]) == (200, 1)
    status, replaced = validator.call(
        "PATCH", f"/Users/{user}", patch_body({"op": "Replace", "path": manager_path, "value": second})
    )
    assert (status, replaced[ENTERPRISE_USER]["manager"]["value"]) == (200, second)
    status, removed = validator.call(
        "PATCH", f"/Users/{user}", patch_body({"op": "Replace", "path": manager_path, "value": ""})
    )
    assert status == 200 and "manager" not in removed.get(ENTERPRISE_USER, {})


def test_group_tests_pass(validator: Validator) -> None:
    member = validator.call(
        "POST", "/Users", {"schemas": [CORE_USER], "userName": f"{validator.letters()}@contoso.com"}
    )[1]["id"]
    body = {
        "schemas": [CORE_GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "displayName": validator.letters(),
        "externalId": validator.letters(),
    }

    status, group = validator.call("POST", "/Groups", body)
    assert status == 201, group
    assert validator.call("POST", "/Groups", body)[0] == 409
    status, found = validator.call(
        "GET", f'/Groups?excludedAttributes=members&filter=displayName eq "{body["displayName"]}"'
    )
    assert (status, found["totalResults"]) == (200, 1)
    renamed = validator.letters()
    assert (
        validator.call(
            "PATCH", f"/Groups/{group['id']}", patch_body({"op": "Replace", "path": "displayName", "value": renamed})
        )[0]
        == 204
    )
    add = patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]})
    assert validator.call("PATCH", f"/Groups/{group['id']}", add)[0] == 204
    _, read = validator.call("GET", f"/Groups/{group['id']}")
    assert (read["displayName"], [entry["value"] for entry in read["members"]]) == (renamed, [member])
    remove = patch_body({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": member}]})
    assert validator.call("PATCH", f"/Groups/{group['id']}", remove)[0] == 204
    assert validator.call("GET", f"/Groups/{group['id']}")[1].get("members", []) == []
    assert validator.call("DELETE", f"/Groups/{group['id']}")[0] == 204
