"""The role catalogue over SCIM: /Roles (Application Access Roles) and /Entitlements (Data Access Roles)."""

from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.role_catalogue import DeclaredRole, RoleCatalogueTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from tests.conftest import DynamoCalls, Scim
from tests.helpers import SEARCH_REQUEST, patch_body

ROLE = "urn:okta:scim:schemas:core:1.0:Role"
ENTITLEMENT = "urn:okta:scim:schemas:core:1.0:Entitlement"


def mappings(tenant: str = "acme") -> RoleMappingTable:
    return RoleMappingTable(connection.dynamodb(settings()), settings().role_mappings_table, tenant)


def declared(tenant: str = "acme") -> RoleCatalogueTable:
    return RoleCatalogueTable(connection.dynamodb(settings()), settings().role_mappings_table, tenant)


@pytest.fixture
def catalogue(scim: Scim) -> None:
    mappings().put(RoleMapping("Finance", ("Payroll", "Ledger"), ("Dashboards",)))
    mappings().put(RoleMapping("Legal", ("payroll",), ("Reports", "Dashboards")))
    declared().declare(DeclaredRole("Auditor", "application", "Reads every report", "2026-01-02T03:04:05+00:00"))
    declared().declare(DeclaredRole("Board Pack", "data", "", "2026-01-02T03:04:05+00:00"))


def names(listing: dict[str, Any]) -> list[str]:
    return [resource["displayName"] for resource in listing["Resources"]]


def test_resource_types_declare_roles_and_entitlements_with_okta_urns(scim: Scim) -> None:
    listing = scim.get("/ResourceTypes").json
    by_id = {resource_type["id"]: resource_type for resource_type in listing["Resources"]}

    assert set(by_id) == {"User", "Group", "Role", "Entitlement"}
    assert (by_id["Role"]["endpoint"], by_id["Role"]["schema"]) == ("/Roles", ROLE)
    assert (by_id["Entitlement"]["endpoint"], by_id["Entitlement"]["schema"]) == ("/Entitlements", ENTITLEMENT)
    for urn in (ROLE, ENTITLEMENT):
        schema = scim.get(f"/Schemas/{urn}").json
        attributes = {attribute["name"]: attribute for attribute in schema["attributes"]}
        assert {"displayName", "type", "description", "value"} <= set(attributes)
        assert all(attribute["mutability"] == "readOnly" for attribute in attributes.values())


@pytest.mark.usefixtures("catalogue")
def test_roles_list_application_access_roles_mapped_and_declared(scim: Scim) -> None:
    response = scim.get("/Roles")

    assert response.status_code == 200
    assert names(response.json) == ["Auditor", "Dashboards", "Reports"]
    assert response.json["totalResults"] == 3
    auditor, dashboards, _ = response.json["Resources"]
    assert auditor == {
        "schemas": [ROLE],
        "id": "Auditor",
        "displayName": "Auditor",
        "value": "Auditor",
        "type": "Application Access Role",
        "description": "Reads every report",
        "supported": True,
        "meta": auditor["meta"],
    }
    assert auditor["meta"]["resourceType"] == "Role"
    assert dashboards["description"] == "Given by the role mapping of Finance, Legal"


@pytest.mark.usefixtures("catalogue")
def test_entitlements_list_data_access_roles_once_whatever_their_case(scim: Scim) -> None:
    listing = scim.get("/Entitlements").json

    assert names(listing) == ["Board Pack", "Ledger", "Payroll"]
    assert {resource["type"] for resource in listing["Resources"]} == {"Data Access Role"}
    assert listing["Resources"][0]["schemas"] == [ENTITLEMENT]


@pytest.mark.usefixtures("catalogue")
def test_roles_filter_by_display_name_eq_without_regard_to_case(scim: Scim) -> None:
    listing = scim.get("/Roles", query={"filter": 'displayName eq "dashboards"'}).json
    assert names(listing) == ["Dashboards"]
    none = scim.get("/Roles", query={"filter": 'displayName eq "Payroll"'}).json
    assert (none["totalResults"], none.get("Resources", [])) == (0, [])


@pytest.mark.usefixtures("catalogue")
def test_roles_page_by_index_as_okta_imports_them(scim: Scim) -> None:
    pages = [scim.get("/Roles", query={"startIndex": str(start), "count": "1"}).json for start in (1, 2, 3, 4)]

    assert [page["totalResults"] for page in pages] == [3, 3, 3, 3]
    assert [names(page) if page.get("Resources") else [] for page in pages] == [
        ["Auditor"],
        ["Dashboards"],
        ["Reports"],
        [],
    ]
    assert [page["startIndex"] for page in pages] == [1, 2, 3, 4]


@pytest.mark.usefixtures("catalogue")
def test_a_role_reads_by_id_with_an_etag_that_moves_when_it_changes(scim: Scim) -> None:
    first = scim.get("/Roles/Auditor")
    assert first.status_code == 200
    assert first.headers["ETag"] == first.json["meta"]["version"]
    assert scim.get("/Roles/Auditor", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    declared().declare(DeclaredRole("Auditor", "application", "Reads and exports", "2026-01-02T03:04:05+00:00"))
    second = scim.get("/Roles/Auditor")
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.json["description"] == "Reads and exports"


@pytest.mark.usefixtures("catalogue")
def test_a_role_with_a_space_in_its_name_reads_by_its_encoded_id(scim: Scim) -> None:
    response = scim.get("/Entitlements/" + quote("Board Pack"))
    assert (response.status_code, response.json["displayName"]) == (200, "Board Pack")
    assert response.json["meta"]["location"] == "http://localhost/scim/v2/Entitlements/Board%20Pack"
    assert scim.get("/Entitlements/Dashboards").status_code == 404


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/Roles"), ("put", "/Roles/Auditor"), ("patch", "/Roles/Auditor"), ("delete", "/Entitlements/Ledger")],
)
def test_the_catalogue_is_read_only_over_scim(scim: Scim, method: str, path: str) -> None:
    body = {"schemas": [ROLE], "displayName": "Auditor"} if method in ("post", "put") else None
    if method == "patch":
        body = patch_body()
    response = getattr(scim, method)(path, body) if body is not None else getattr(scim, method)(path)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert scim.get("/Roles/Auditor").json["description"] == "Reads every report"


@pytest.mark.usefixtures("catalogue")
def test_a_search_at_the_root_is_of_users_and_groups_only(scim: Scim) -> None:
    listing = scim.get("/", query={"filter": 'displayName eq "Auditor"'}).json
    assert listing["totalResults"] == 0


@pytest.mark.usefixtures("catalogue")
def test_another_tenant_sees_only_its_own_catalogue(other_scim: Scim) -> None:
    assert other_scim.get("/Roles").json["totalResults"] == 0
    assert other_scim.get("/Roles/Auditor").status_code == 404


@pytest.mark.usefixtures("catalogue")
def test_the_catalogue_searches_sorts_and_projects_as_every_list(scim: Scim) -> None:
    searched = scim.post(
        "/Entitlements/.search",
        {
            "schemas": [SEARCH_REQUEST],
            "filter": 'displayName sw "p"',
            "attributes": ["displayName"],
        },
    )
    assert searched.status_code == 200
    assert searched.json["Resources"] == [{"schemas": [ENTITLEMENT], "id": "Payroll", "displayName": "Payroll"}]
    descending = scim.get("/Roles", query={"sortBy": "displayName", "sortOrder": "descending"}).json
    assert names(descending) == ["Reports", "Dashboards", "Auditor"]
    lean = scim.get("/Roles", query={"excludedAttributes": "description"}).json["Resources"]
    assert all("description" not in role for role in lean)


@pytest.mark.usefixtures("catalogue")
def test_the_catalogue_pages_by_cursor_too(scim: Scim) -> None:
    """RFC 9865, announced in /ServiceProviderConfig for every list."""
    first = scim.get("/Roles", query={"cursor": "", "count": "2"}).json
    assert names(first) == ["Auditor", "Dashboards"]
    second = scim.get("/Roles", query={"cursor": first["nextCursor"], "count": "2"}).json
    assert names(second) == ["Reports"]
    assert "nextCursor" not in second


@pytest.mark.usefixtures("catalogue")
def test_a_catalogue_list_is_two_queries_whatever_the_page(scim: Scim, dynamo_calls: DynamoCalls) -> None:
    """Counted, not timed: the declared roles of the kind and the tenant's mappings, one query each."""
    for query in ({}, {"startIndex": "2", "count": "1"}, {"filter": 'displayName eq "Auditor"'}):
        dynamo_calls.reset()
        assert scim.get("/Roles", query=query).status_code == 200
        prefixes = sorted(params["ExpressionAttributeValues"][":p"]["S"] for params in dynamo_calls.named("Query"))
        assert prefixes == ["catalogue#application#", "csr#"]
        catalogue_table = settings().role_mappings_table
        assert [name for name, params in dynamo_calls.calls if params.get("TableName") == catalogue_table] == [
            "Query",
            "Query",
        ]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("endpoint", ["/Roles", "/Entitlements"])
def test_an_id_longer_than_any_role_name_is_a_404_read_nowhere(
    scim: Scim, dynamo_calls: DynamoCalls, endpoint: str
) -> None:
    # A role's id is its name, at most 256 characters: a longer one is folded and compared with nothing.
    dynamo_calls.reset()
    response = scim.get(f"{endpoint}/{'x' * 257}")

    assert (response.status_code, response.json["status"]) == (404, "404")
    assert [
        name for name, params in dynamo_calls.calls if params.get("TableName") == settings().role_mappings_table
    ] == []
    assert scim.get(f"/Roles/{'A' * 256}").status_code == 404


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("endpoint", ["/Roles", "/Entitlements"])
def test_a_catalogue_filter_is_bounded_as_every_filter(scim: Scim, endpoint: str) -> None:
    terms = " or ".join(f'id eq "{n}"' for n in range(101))

    response = scim.get(endpoint, query={"filter": terms})

    assert (response.status_code, response.json["scimType"]) == (400, "invalidFilter")
    assert "more than 100 terms" in response.json["detail"]
    searched = scim.post(f"{endpoint}/.search", {"schemas": [SEARCH_REQUEST], "filter": terms})
    assert (searched.status_code, searched.json["scimType"]) == (400, "invalidFilter")
