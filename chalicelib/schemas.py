"""The schemas we serve, defined once: their URNs, our extensions, and the User model.

Every layer above the store names a schema through this module, never by
spelling its URN again. /Schemas publishes these classes (:rfc:`RFC 7643 §7`).
"""

import re
import unicodedata
from typing import Annotated, Any, Generic

from pydantic import AfterValidator, ConfigDict, Field
from scim2_models import ComplexAttribute, Email, EnterpriseUser, Extension, Mutability, Photo, Required, Resource
from scim2_models import User as CoreUser
from scim2_models.annotations import CaseExact
from scim2_models.reference import External
from scim2_models.resources.resource import AnyExtension
from scim2_models.urn import URN

from chalicelib.references import UriReference

CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CUSTOM_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
ONEMODEL_USER_SCHEMA = "urn:onemodel:params:scim:schemas:extension:2.0:User"
# Okta Identity Governance's URNs for a role and an entitlement catalogue (docs/reference/roles-and-entitlements.md).
ROLE_SCHEMA = "urn:okta:scim:schemas:core:1.0:Role"
ENTITLEMENT_SCHEMA = "urn:okta:scim:schemas:core:1.0:Entitlement"


# Field docstrings are the descriptions /Schemas publishes: written for the admin who maps attributes in the IdP.
class CustomUser(Extension):
    """The customer's own user attributes: personId links the user to a person in the HR data."""

    __schema__ = URN(CUSTOM_USER_SCHEMA)

    person_id: Annotated[str | None, CaseExact.true] = None
    """The identifier of the user's person record in the HR data. The name personId is case-sensitive."""


class EffectiveRole(ComplexAttribute):
    """One effective role of a user and one of its sources."""

    value: Annotated[str | None, Mutability.read_only] = None
    """The role's name."""

    type: Annotated[str | None, Mutability.read_only] = None
    """Application Access Role or Data Access Role."""

    source: Annotated[str | None, Mutability.read_only] = None
    """direct (granted to the user in roles or entitlements) or group (given by the role mapping of a group)."""

    display: Annotated[str | None, Mutability.read_only] = None
    """For a role given by a group: the Customer Supplied Role (group displayName) whose mapping gives it."""


class OneModelUser(Extension):
    """How One Model treats a provisioned user; set by One Model, read-only for identity providers."""

    __schema__ = URN(ONEMODEL_USER_SCHEMA)

    allow_sso_login: Annotated[bool | None, Mutability.read_only] = None
    """Whether the user may sign in with the customer's single sign-on; true for every provisioned user."""

    auto_assign_roles: Annotated[bool | None, Mutability.read_only] = None
    """Whether the user's roles follow the Customer Supplied Role mapping; true for every provisioned user."""

    customer_supplied_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The Customer Supplied Roles (the groups provisioned to One Model) the user belongs to, by name."""

    data_access_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The user's Data Access Roles: those the role mapping gives the user's Customer Supplied Roles, and those
    granted directly (entitlements)."""

    application_access_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The user's Application Access Roles: those the role mapping gives the user's Customer Supplied Roles,
    and those granted directly (roles)."""

    effective_roles: Annotated[list[EffectiveRole] | None, Mutability.read_only] = None
    """Each effective role with where it comes from: one entry per role and source."""

    email: Annotated[str | None, Mutability.read_only] = None
    """The address One Model uses for the user: its work email; else its primary one; else its only one."""

    email_source: Annotated[str | None, Mutability.read_only] = None
    """Which rule chose the email: work, primary or only (none when several addresses leave the choice open)."""

    role_source: Annotated[str | None, Mutability.read_only] = None
    """Where the user's Customer Supplied Roles come from: scim-groups (its groups, listed here) or saml-attribute
    (a SAML attribute at each sign-in: its groups grant nothing, and no role is listed here)."""


_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def _valid_email(address: str | None) -> str | None:
    if address is None:
        return None
    if any(unicodedata.category(character) == "Cc" for character in address):
        raise ValueError("an email address holds no control character")
    if not _EMAIL_ADDRESS.fullmatch(address):
        raise ValueError("an email address is local-part@domain")
    return address


class VerbatimEmail(Email):
    """An email address kept as sent. scim2-models' EmailStr lowercases the domain, while Entra ID expects
    values "stored in the same format they were sent" (entra/06_create_user_with_nulls.json), and refuses
    special-use domains, while Okta's own test users are ``@okta.local`` (okta/02_create_user.json)."""

    value: Annotated[str | None, AfterValidator(_valid_email)] = Field(
        None, description=Email.model_fields["value"].description
    )


class RelativePhoto(Photo):
    """A photo whose URL may be any URI reference (chalicelib/references.py)."""

    value: UriReference[External] | None = Field(None, description=Photo.model_fields["value"].description)  # type: ignore[type-arg]


def _described_as_in_rfc(name: str) -> str | None:
    return CoreUser.model_fields[name].description


# The core User with verbatim emails and any URI reference in its URL attributes. Named and undocumented
# like scim2-models' own User, since /Schemas publishes the class name: discovery stays RFC 7643 §8.7.1's User.
class User(CoreUser[AnyExtension], Generic[AnyExtension]):
    profile_url: UriReference[External] | None = Field(None, description=_described_as_in_rfc("profile_url"))  # type: ignore[type-arg]
    emails: list[VerbatimEmail] | None = Field(None, description=_described_as_in_rfc("emails"))  # type: ignore[assignment]
    photos: list[RelativePhoto] | None = Field(None, description=_described_as_in_rfc("photos"))  # type: ignore[assignment]


UserResource = User[EnterpriseUser | CustomUser | OneModelUser]


class Role(Resource[Any]):
    """An Application Access Role of the tenant's catalogue, which a user's ``roles`` may grant."""

    # Built when the role catalogue is first read, not at every cold start (pydantic's defer_build).
    model_config = ConfigDict(defer_build=True)

    __schema__ = URN(ROLE_SCHEMA)

    display_name: Annotated[str | None, Mutability.read_only, Required.true] = None
    """The role's name, as One Model shows it."""

    value: Annotated[str | None, Mutability.read_only] = None
    """What a user's roles.value holds to grant this role: the role's name, the same as its id."""

    type: Annotated[str | None, Mutability.read_only] = None
    """Application Access Role."""

    description: Annotated[str | None, Mutability.read_only] = None
    """What the role is for, or which Customer Supplied Roles' mappings give it."""

    supported: Annotated[bool | None, Mutability.read_only] = None
    """Whether the role may be granted: true for every role listed."""


class Entitlement(Resource[Any]):
    """A Data Access Role of the tenant's catalogue, which a user's ``entitlements`` may grant."""

    # Built when the role catalogue is first read, not at every cold start (pydantic's defer_build).
    model_config = ConfigDict(defer_build=True)

    __schema__ = URN(ENTITLEMENT_SCHEMA)

    display_name: Annotated[str | None, Mutability.read_only, Required.true] = None
    """The Data Access Role's name, as One Model shows it."""

    value: Annotated[str | None, Mutability.read_only] = None
    """What a user's entitlements.value holds to grant this Data Access Role: its name, the same as its id."""

    type: Annotated[str | None, Mutability.read_only] = None
    """Data Access Role."""

    description: Annotated[str | None, Mutability.read_only] = None
    """What the Data Access Role is for, or which Customer Supplied Roles' mappings give it."""

    supported: Annotated[bool | None, Mutability.read_only] = None
    """Whether the Data Access Role may be granted: true for every one listed."""
