"""Discovery endpoints tell the truth, generated from the same definitions the server validates with."""

from typing import Any

import pytest

from tests.conftest import Scim
from tests.helpers import BULK_REQUEST, CORE_GROUP, CORE_USER, CUSTOM_USER, ENTERPRISE_USER, ONEMODEL_USER

SCHEMAS = {
    CORE_USER,
    CORE_GROUP,
    ENTERPRISE_USER,
    CUSTOM_USER,
    ONEMODEL_USER,
    # The role catalogue (docs/reference/roles-and-entitlements.md).
    "urn:okta:scim:schemas:core:1.0:Role",
    "urn:okta:scim:schemas:core:1.0:Entitlement",
}


def test_service_provider_config_announces_what_the_server_does(anonymous: Scim) -> None:
    config = anonymous.get("/ServiceProviderConfig").json

    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["changePassword"] == {"supported": True}
    assert config["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }
    assert [scheme["type"] for scheme in config["authenticationSchemes"]] == ["httpbasic", "oauthbearertoken"]


def test_bulk_is_refused_as_announced(scim: Scim) -> None:
    response = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": []})
    assert (response.status_code, response.json["status"]) == (501, "501")


def test_schemas_lists_every_schema_and_serves_each_by_id(scim: Scim) -> None:
    listing = scim.get("/Schemas").json

    assert {schema["id"] for schema in listing["Resources"]} == SCHEMAS
    for schema_id in SCHEMAS:
        response = scim.get(f"/Schemas/{schema_id}")
        assert response.status_code == 200
        assert response.json["id"] == schema_id


def attribute(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in schema["attributes"] if a["name"] == name)


def test_schemas_describe_our_attributes_truthfully(scim: Scim) -> None:
    user = scim.get(f"/Schemas/{CORE_USER}").json
    custom = scim.get(f"/Schemas/{CUSTOM_USER}").json
    product = scim.get(f"/Schemas/{ONEMODEL_USER}").json

    assert attribute(user, "userName")["uniqueness"] == "server"
    assert attribute(user, "userName")["caseExact"] is False
    assert attribute(user, "password")["returned"] == "never"
    assert attribute(user, "password")["mutability"] == "writeOnly"
    assert attribute(user, "groups")["mutability"] == "readOnly"
    assert attribute(custom, "personId")["caseExact"] is True
    for name in (
        "allowSsoLogin",
        "autoAssignRoles",
        "customerSuppliedRoles",
        "dataAccessRoles",
        "applicationAccessRoles",
    ):
        assert attribute(product, name)["mutability"] == "readOnly"


@pytest.mark.parametrize("resource", ["User", "Group"])
def test_schemas_list_the_common_attributes_idps_map(scim: Scim, resource: str) -> None:
    """Microsoft's gallery-onboarding validator requires externalId in discovery; Entra maps it (issue #16)."""
    schema = scim.get(f"/Schemas/urn:ietf:params:scim:schemas:core:2.0:{resource}").json

    assert attribute(schema, "externalId") | {"description": ""} == {
        "name": "externalId",
        "type": "string",
        "multiValued": False,
        "description": "",
        "required": False,
        "caseExact": True,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    assert {key: attribute(schema, "id")[key] for key in ("mutability", "returned", "uniqueness", "caseExact")} == {
        "mutability": "readOnly",
        "returned": "always",
        "uniqueness": "server",
        "caseExact": True,
    }


def test_member_display_is_published_read_only_as_it_behaves(scim: Scim) -> None:
    group = scim.get(f"/Schemas/{CORE_GROUP}").json

    display = next(sub for sub in attribute(group, "members")["subAttributes"] if sub["name"] == "display")
    assert display["mutability"] == "readOnly"


def texts(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("name", "description") and isinstance(item, str):
                yield item
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


def test_schemas_are_written_for_an_idp_admin(scim: Scim) -> None:
    """No Python class name, no reStructuredText, a description for every attribute (issue #14 item 10)."""
    listing = scim.get("/Schemas").json["Resources"]
    published = list(texts(listing))

    assert {schema["name"] for schema in listing} == {
        "User",
        "Group",
        "EnterpriseUser",
        "Custom User",
        "One Model User",
        "Role",
        "Entitlement",
    }
    for text in published:
        assert not any(
            mark in text for mark in ("``", ":rfc:", ":class:", "OneModelUser", "CustomUser", "Resource[")
        ), text

    def undescribed(attributes: list[dict[str, Any]], prefix: str = "") -> Any:
        for item in attributes:
            if not item.get("description"):
                yield prefix + item["name"]
            yield from undescribed(item.get("subAttributes", []), item["name"] + ".")

    assert [name for schema in listing for name in undescribed(schema["attributes"])] == []


def test_resource_types_bind_the_extensions(scim: Scim) -> None:
    listing = scim.get("/ResourceTypes").json
    user = scim.get("/ResourceTypes/User").json

    assert {rt["id"] for rt in listing["Resources"]} == {"User", "Group", "Role", "Entitlement"}
    assert user["endpoint"] == "/Users"
    assert {ext["schema"] for ext in user["schemaExtensions"]} == SCHEMAS - {
        CORE_USER,
        CORE_GROUP,
        "urn:okta:scim:schemas:core:1.0:Role",
        "urn:okta:scim:schemas:core:1.0:Entitlement",
    }
    assert scim.get("/ResourceTypes/Group").json["endpoint"] == "/Groups"


@pytest.mark.parametrize("path", ["/Schemas/urn:nope", "/ResourceTypes/Widget"])
def test_unknown_discovery_ids_are_404(scim: Scim, path: str) -> None:
    assert scim.get(path).status_code == 404


def test_discovery_refuses_filters_as_rfc_7644_section_4_says(scim: Scim) -> None:
    assert scim.get("/Schemas", query={"filter": 'id eq "x"'}).status_code == 403
