"""The role catalogue on the management API: what `python -m admin roles catalogue` does, for the platform."""

from typing import Any

import pytest
from chalice.test import Client

from admin.__main__ import main
from tests.conftest import Scim, Tenant, user_body
from tests.test_management_api import ROLE_ARN, Admin, in_lambda  # noqa: F401 (a fixture)

CATALOGUE = "/tenants/acme/role-catalogue"


@pytest.fixture
def admin(chalice_client: Client) -> Admin:
    return Admin(chalice_client)


@pytest.fixture
def mapped(admin: Admin, tenant: Tenant) -> None:
    mapping = {"dataAccessRoles": ["Payroll"], "applicationAccessRoles": ["Dashboards"], "actor": "a"}
    assert admin.put("/tenants/acme/role-mappings/Finance", mapping).status_code == 200


def trail(admin: Admin) -> list[tuple[str, str, str, str]]:
    """The management writes of the tenant's trail, newest first."""
    entries = admin.get("/tenants/acme/activity").json["entries"]
    return [(e["operation"], e["resource_type"], e["resource_name"], e["actor"]) for e in entries if e["actor"]]


@pytest.mark.usefixtures("mapped")
def test_a_declared_role_is_listed_beside_the_mapped_ones_and_grantable_over_scim(admin: Admin, scim: Scim) -> None:
    put = admin.put(f"{CATALOGUE}/application/Auditor", {"description": "Reads every report", "actor": "om-admin-3"})

    assert put.status_code == 200
    declared = put.json.pop("declared")
    assert declared.startswith("20")
    assert put.json == {
        "name": "Auditor",
        "kind": "application",
        "type": "Application Access Role",
        "description": "Reads every report",
        "mappedBy": [],
    }
    listed = admin.get(CATALOGUE)
    assert listed.status_code == 200
    assert [(r["kind"], r["name"], r["type"], r["declared"], r["mappedBy"]) for r in listed.json["roles"]] == [
        ("application", "Auditor", "Application Access Role", declared, []),
        ("application", "Dashboards", "Application Access Role", None, ["Finance"]),
        ("data", "Payroll", "Data Access Role", None, ["Finance"]),
    ]
    assert listed.json["roles"][1]["description"] == "Given by the role mapping of Finance"
    assert [r["name"] for r in admin.get(CATALOGUE + "?kind=data").json["roles"]] == ["Payroll"]
    assert admin.get(f"{CATALOGUE}/application/auditor").json == {**put.json, "declared": declared}
    scim_role = scim.get("/Roles/Auditor").json
    assert (scim_role["type"], scim_role["description"]) == ("Application Access Role", "Reads every report")
    granted = scim.post("/Users", user_body(roles=[{"value": "auditor"}]))
    assert (granted.status_code, granted.json["roles"][0]["value"]) == (201, "Auditor")
    assert trail(admin)[0] == ("set", "Role", "Auditor", "om-admin-3")


@pytest.mark.usefixtures("tenant")
def test_declaring_a_role_again_as_it_is_changes_nothing_and_redescribing_it_does(admin: Admin) -> None:
    first = admin.put(f"{CATALOGUE}/data/Board%20Pack", {"description": "Board packs", "actor": "a"})
    again = admin.put(f"{CATALOGUE}/data/Board%20Pack", {"description": "Board packs", "actor": "b"})

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json == first.json
    assert [entry for entry in trail(admin) if entry[1] == "Entitlement"] == [("set", "Entitlement", "Board Pack", "a")]
    redescribed = admin.put(f"{CATALOGUE}/data/Board%20Pack", {"actor": "c"})
    assert redescribed.json["description"] == "Declared for direct grants; no role mapping names it yet."
    assert redescribed.json["declared"] >= first.json["declared"]
    assert trail(admin)[0] == ("set", "Entitlement", "Board Pack", "c")


@pytest.mark.usefixtures("mapped")
def test_withdrawing_a_role_keeps_users_grants_and_a_mapped_role_stays_in_the_catalogue(
    admin: Admin, scim: Scim
) -> None:
    admin.put(f"{CATALOGUE}/application/Auditor", {"description": "Reads", "actor": "a"})
    admin.put(f"{CATALOGUE}/application/Dashboards", {"description": "Charts", "actor": "a"})
    user = scim.post("/Users", user_body(roles=[{"value": "Auditor"}])).json

    withdrawn = admin.delete(f"{CATALOGUE}/application/AUDITOR?actor=om-admin-4")
    assert withdrawn.status_code == 200
    assert {k: v for k, v in withdrawn.json.items() if k != "declared"} == {
        "name": "Auditor",
        "kind": "application",
        "type": "Application Access Role",
        "description": "Reads",
        "mappedBy": [],
        "inCatalogue": False,
    }
    assert scim.get(f"/Users/{user['id']}").json["roles"][0]["value"] == "Auditor"
    refused = scim.post("/Users", user_body("other@example.com", roles=[{"value": "Auditor"}]))
    assert refused.status_code == 400
    assert trail(admin)[0] == ("delete", "Role", "Auditor", "om-admin-4")

    mapped = admin.delete(f"{CATALOGUE}/application/Dashboards?actor=a").json
    assert (mapped["inCatalogue"], mapped["mappedBy"]) == (True, ["Finance"])
    assert "Dashboards" in [r["name"] for r in admin.get(CATALOGUE).json["roles"]]
    # As the CLI: only a declared role can be withdrawn; a mapping's role leaves with the mapping.
    again = admin.delete(f"{CATALOGUE}/application/Dashboards?actor=a")
    assert (again.status_code, again.json["code"], again.json["field"]) == (404, "role_not_declared", "name")


LONG = "r" * 257


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("GET", "/tenants/nobody/role-catalogue", None, 404, "tenant_not_found", "tenant"),
        ("PUT", "/tenants/nobody/role-catalogue/data/X", {"actor": "a"}, 404, "tenant_not_found", "tenant"),
        ("DELETE", "/tenants/nobody/role-catalogue/data/X?actor=a", None, 404, "tenant_not_found", "tenant"),
        ("GET", "/tenants/NOT%20A%20NAME/role-catalogue", None, 400, "invalid_tenant_name", "tenant"),
        ("GET", CATALOGUE + "?kind=admin", None, 400, "invalid_input", "kind"),
        ("GET", CATALOGUE + "?colour=red", None, 400, "invalid_input", "colour"),
        ("PUT", CATALOGUE + "/admin/X", {"actor": "a"}, 400, "invalid_kind", "kind"),
        ("GET", CATALOGUE + "/admin/X", None, 400, "invalid_kind", "kind"),
        ("DELETE", CATALOGUE + "/admin/X?actor=a", None, 400, "invalid_kind", "kind"),
        ("PUT", CATALOGUE + "/data/" + LONG, {"actor": "a"}, 400, "invalid_role_name", "name"),
        ("PUT", CATALOGUE + "/data/%20%20", {"actor": "a"}, 400, "invalid_role_name", "name"),
        ("PUT", CATALOGUE + "/data/Bad%07Name", {"actor": "a"}, 400, "invalid_role_name", "name"),
        ("PUT", CATALOGUE + "/data/X", {"description": "d" * 1025, "actor": "a"}, 400, "invalid_input",
         "description"),
        ("PUT", CATALOGUE + "/data/X", {"description": "bell\x07", "actor": "a"}, 400, "invalid_description",
         "description"),
        ("PUT", CATALOGUE + "/data/X", {"description": "d"}, 400, "invalid_input", "actor"),
        ("PUT", CATALOGUE + "/data/X", {"actor": "a", "kind": "data"}, 400, "invalid_input", "kind"),
        ("PUT", CATALOGUE + "/data/X", {"actor": "a" * 257}, 400, "invalid_input", "actor"),
        ("DELETE", CATALOGUE + "/data/X", None, 400, "missing_actor", "actor"),
        ("DELETE", CATALOGUE + "/data/X?actor=a", None, 404, "role_not_declared", "name"),
        ("DELETE", CATALOGUE + "/data/" + LONG + "?actor=a", None, 404, "role_not_declared", "name"),
        ("GET", CATALOGUE + "/data/Nothing", None, 404, "role_not_found", "name"),
        ("GET", CATALOGUE + "/data/" + LONG, None, 404, "role_not_found", "name"),
    ],
)  # fmt: skip
def test_bad_catalogue_input_is_refused_with_a_stable_code_naming_the_field(
    admin: Admin, tenant: Tenant, method: str, path: str, body: Any, status: int, code: str, field: str
) -> None:
    response = admin.request(method, path, body)

    assert response.status_code == status, response.json
    assert (response.json["code"], response.json.get("field")) == (code, field)
    assert set(response.json) <= {"code", "message", "field"}
    assert LONG not in response.json["message"]
    assert admin.get(CATALOGUE).json == {"roles": []}


def test_the_cli_and_the_api_share_the_catalogue_and_the_trail(
    admin: Admin, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stage", "test", "--actor", "ops-jo", "roles", "catalogue", "add", "acme", "Auditor",
                 "--kind", "application", "--description", "Reads"]) == 0  # fmt: skip
    assert [r["name"] for r in admin.get(CATALOGUE).json["roles"]] == ["Auditor"]
    assert admin.delete(f"{CATALOGUE}/application/Auditor?actor=om-admin-2").status_code == 200
    capsys.readouterr()
    assert main(["--stage", "test", "roles", "catalogue", "list", "acme"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == []
    entries = admin.get("/tenants/acme/activity").json["entries"]
    assert [(e["operation"], e["actor"], e["principal"]) for e in entries[:2]] == [
        ("delete", "om-admin-2", "local"),
        ("set", "ops-jo", "cli"),
    ]


def test_in_lambda_a_role_name_is_read_from_the_raw_path(
    in_lambda: Any,  # noqa: F811
    admin: Admin,
    tenant: Tenant,
) -> None:
    admin.put(f"{CATALOGUE}/data/Board%20Pack%2520", {"actor": "a"})
    resource = "/admin/v1/tenants/{tenant}/role-catalogue/{kind}/{name}"
    status, body = in_lambda(
        "GET", "/admin/v1/tenants/acme/role-catalogue/data/board%20pack%2520", resource, ROLE_ARN, {}
    )
    assert (status, body["name"]) == (200, "Board Pack%20")
