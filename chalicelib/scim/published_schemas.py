"""What ``/Schemas`` publishes: the schemas of our models, as an IdP admin and Microsoft's validators read them.

The attributes come from the models (scim2-models builds them); three things are added here.
- ``id`` and ``externalId`` of User and Group. :rfc:`RFC 7643 §3.1` calls them common
  attributes outside any schema, but Entra ID maps ``externalId`` (from mailNickname) and
  Microsoft's gallery-onboarding validator requires it in discovery (issue #16).
- The mutability we implement where the library says otherwise: ``members.display`` is the
  member's userName, set by the server (:rfc:`RFC 7643 §4.2` makes it read-only).
- Names and descriptions in words for the admin who maps attributes in the IdP, never a
  Python class name (issue #14).
"""

from functools import cached_property
from typing import Any

from scim2_models import (
    Attribute,
    CaseExact,
    Mutability,
    Required,
    Resource,
    Returned,
    Schema,
    ScimProvider,
    Uniqueness,
)

from chalicelib.model_docs import describe

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

# (name, description) per schema: RFC 7643 §8.7's for its own schemas, ours for the product's.
SCHEMA_TITLES = {
    CORE_USER: ("User", "User Account"),
    CORE_GROUP: ("Group", "Group: in One Model, a Customer Supplied Role, mapped to Data and Application Access Roles"),
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": ("EnterpriseUser", "Enterprise User"),
    "urn:ietf:params:scim:schemas:extension:custom:2.0:User": (
        "Custom User",
        "The customer's own user attributes: personId links the user to a person in the HR data",
    ),
    "urn:okta:scim:schemas:core:1.0:Role": (
        "Role",
        "An Application Access Role of the tenant's catalogue, which a user's roles may grant",
    ),
    "urn:okta:scim:schemas:core:1.0:Entitlement": (
        "Entitlement",
        "A Data Access Role of the tenant's catalogue, which a user's entitlements may grant",
    ),
    "urn:onemodel:params:scim:schemas:extension:2.0:User": (
        "One Model User",
        "How One Model treats a provisioned user; set by One Model, read-only for identity providers",
    ),
}
# Sub-attributes the server sets, whatever the library's model says: (schema, "attribute.subAttribute") -> description.
SERVER_SET = {(CORE_GROUP, "members.display"): "The member's userName, kept up to date by One Model."}


class PublishingProvider(ScimProvider):
    """A provider whose ``/Schemas`` is :func:`published` from its models."""

    @cached_property
    def schemas(self) -> tuple[Schema, ...]:
        describe([Resource, *self._models])  # the attribute docstrings, read now rather than at each import
        return tuple(published(schema) for schema in super().schemas)


def published(schema: Schema) -> Schema:
    """``schema`` as ``/Schemas`` shows it."""
    schema = schema.model_copy(deep=True)
    schema.name, schema.description = SCHEMA_TITLES.get(str(schema.id), (schema.name, schema.description))
    attributes = list(schema.attributes or [])
    if schema.id in (CORE_USER, CORE_GROUP):
        attributes = [_common_attribute("id"), _common_attribute("external_id"), *attributes]
    for attribute in attributes:
        for sub_attribute in attribute.sub_attributes or []:
            description = SERVER_SET.get((str(schema.id), f"{attribute.name}.{sub_attribute.name}"))
            if description is not None:
                sub_attribute.mutability, sub_attribute.description = Mutability.read_only, description
    schema.attributes = attributes
    return schema


def _common_attribute(field_name: str) -> Attribute:
    """A common attribute of :rfc:`RFC 7643 §3.1`, with the characteristics scim2-models gives it."""
    annotation: Any = Resource.get_field_annotation
    uniqueness = annotation(field_name, Uniqueness)
    return Attribute(
        name=Resource._scim_name(field_name),
        type=Attribute.Type.string,
        multi_valued=False,
        description=Resource.model_fields[field_name].description,
        required=annotation(field_name, Required),
        case_exact=annotation(field_name, CaseExact),
        mutability=annotation(field_name, Mutability),
        returned=annotation(field_name, Returned),
        # RFC 7643 §3.1: an id is unique within the service provider, "server" in §7's terms.
        uniqueness=Uniqueness.server if uniqueness == Uniqueness.global_ else uniqueness,
    )
