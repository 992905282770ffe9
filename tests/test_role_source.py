"""The guide's section 5: a tenant's users get their roles from SCIM groups, or from a SAML attribute at sign-in."""

from typing import Any

import pytest

from admin.__main__ import main
from tests.conftest import Scim, user_body
from tests.helpers import CORE_GROUP, ONEMODEL_USER, patch_body
from tests.test_management_api import Admin


@pytest.fixture
def admin(chalice_client: Any) -> Admin:
    return Admin(chalice_client)


@pytest.fixture
def ada(scim: Scim, admin: Admin) -> str:
    """Ada, in the SCIM group Finance; Finance and Legal are mapped."""
    user_id: str = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": user_id}]})
    admin.put("/tenants/acme/role-mappings/Finance", {"dataAccessRoles": ["Payroll"], "actor": "a"})
    admin.put(
        "/tenants/acme/role-mappings/Legal",
        {"dataAccessRoles": ["Contracts"], "applicationAccessRoles": ["Reports"], "actor": "a"},
    )
    return user_id


def sign_in(admin: Admin, user_name: str, **saml: list[str]) -> Any:
    response = admin.post("/tenants/acme/sign-in", {"userName": user_name, "samlAttributes": saml})
    assert response.status_code == 200, response.json
    return response.json


def test_scim_groups_then_saml_attribute_then_scim_groups_again(admin: Admin, scim: Scim, ada: str) -> None:
    assert admin.get("/tenants/acme/role-source").json == {"source": "scim-groups", "attribute": None}
    by_groups = sign_in(admin, "ADA@example.com", roles=["Legal"])
    assert by_groups == {
        "allowed": True,
        "reason": None,
        "reasonMessage": None,
        "userId": ada,
        "customerSuppliedRoles": ["Finance"],
        "dataAccessRoles": ["Payroll"],
        "applicationAccessRoles": [],
        "source": "scim-groups",
        "scimGroups": ["Finance"],
    }

    switched = admin.put("/tenants/acme/role-source", {"source": "saml-attribute", "attribute": "roles", "actor": "a"})
    assert switched.json == {"source": "saml-attribute", "attribute": "roles"}
    by_saml = sign_in(admin, "ada@example.com", roles=["Legal", "Unmapped"], other=["Finance"])
    assert (by_saml["customerSuppliedRoles"], by_saml["dataAccessRoles"], by_saml["applicationAccessRoles"]) == (
        ["Legal", "Unmapped"],
        ["Contracts"],
        ["Reports"],
    )
    assert (by_saml["source"], by_saml["scimGroups"]) == ("saml-attribute", ["Finance"])
    assert sign_in(admin, "ada@example.com")["dataAccessRoles"] == []  # no value: no role, still allowed
    # The SCIM extension shows the source; the groups are still kept and shown, and grant nothing
    user = scim.get(f"/Users/{ada}").json
    assert user[ONEMODEL_USER] == {
        "allowSsoLogin": True,
        "autoAssignRoles": True,
        "roleSource": "saml-attribute",
        "email": "ada@example.com",
        "emailSource": "work",
    }
    assert [group["display"] for group in user["groups"]] == ["Finance"]

    admin.put("/tenants/acme/role-source", {"source": "scim-groups", "actor": "a"})
    assert sign_in(admin, "ada@example.com", roles=["Legal"])["dataAccessRoles"] == ["Payroll"]
    assert scim.get(f"/Users/{ada}").json[ONEMODEL_USER]["dataAccessRoles"] == ["Payroll"]
    trail = admin.get("/tenants/acme/activity?limit=2").json["entries"]
    assert [(e["operation"], e["resource_type"]) for e in trail] == [("set", "RoleSource"), ("set", "RoleSource")]


def test_a_deactivated_or_unknown_user_is_refused_with_a_reason(admin: Admin, scim: Scim, ada: str) -> None:
    scim.patch(f"/Users/{ada}", patch_body({"op": "replace", "value": {"active": False}}))
    refused = sign_in(admin, "ada@example.com")
    assert (refused["allowed"], refused["reason"], refused["userId"]) == (False, "deactivated", ada)
    assert refused["reasonMessage"] == "The user is deactivated (active: false) in the IdP."
    assert refused["dataAccessRoles"] == [] and refused["customerSuppliedRoles"] == []
    unknown = sign_in(admin, "nobody@example.com")
    assert (unknown["allowed"], unknown["reason"], unknown["userId"]) == (False, "not_provisioned", None)


def test_sign_in_for_an_unknown_tenant_is_a_404(admin: Admin) -> None:
    response = admin.post("/tenants/nobody/sign-in", {"userName": "ada@example.com"})
    assert (response.status_code, response.json["code"]) == (404, "tenant_not_found")


def test_admin_role_source_show_and_set(admin: Admin, tenant: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stage", "test", "role-source", "show", "acme"]) == 0
    assert capsys.readouterr().out == "acme: scim-groups\n"
    assert main(["--stage", "test", "role-source", "set", "acme", "saml-attribute", "--attribute", "memberOf"]) == 0
    assert capsys.readouterr().out == "acme: saml-attribute (SAML attribute 'memberOf')\n"
    assert admin.get("/tenants/acme/role-source").json == {"source": "saml-attribute", "attribute": "memberOf"}
    assert main(["--stage", "test", "role-source", "set", "acme", "saml-attribute"]) == 2
    assert "needs the SAML attribute's name" in capsys.readouterr().err


def test_names_too_long_for_a_key_are_refused_or_grant_nothing(admin: Admin, ada: str) -> None:
    wide = "𝔸" * 256  # 256 characters of four bytes: over DynamoDB's 1,024-byte sort key
    response = admin.put(f"/tenants/acme/role-mappings/{wide}", {"dataAccessRoles": ["X"], "actor": "a"})
    assert (response.status_code, response.json["code"], response.json["field"]) == (
        400,
        "invalid_role_name",
        "customerSuppliedRole",
    )
    admin.put("/tenants/acme/role-source", {"source": "saml-attribute", "attribute": "roles", "actor": "a"})
    answer = sign_in(admin, "ada@example.com", roles=["𝔸" * 1024, "Legal"])
    assert (answer["allowed"], answer["dataAccessRoles"]) == (True, ["Contracts"])
