"""The management API's requests and responses: validated and bounded here, described in its OpenAPI document.

Every input is bounded (lengths, counts) before any work proportional to it starts; an unknown
member is refused, naming it, so a typo never passes silently.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.management.operations import MAX_ATTRIBUTE_NAME, MAX_ROLE_NAME, MAX_ROLES
from chalicelib.resources.catalogue import MAX_ROLE_DESCRIPTION_LENGTH
from chalicelib.store.role_catalogue import KINDS

MAX_ACTOR = 256
MAX_DESCRIPTION = 256
MAX_USER_NAME = 256
MAX_SAML_ATTRIBUTES = 50
MAX_SAML_VALUES = 200
MAX_SAML_VALUE = 1024
MAX_PAGE = 200

Actor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ACTOR, strip_whitespace=True),
    Field(description="Who asks for this write, e.g. the One Model admin's id: kept in the tenant's activity trail."),
]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ROLE_NAME, strip_whitespace=True)]
SamlValue = Annotated[str, StringConstraints(max_length=MAX_SAML_VALUE)]
SamlName = Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_NAME)]
SamlValues = Annotated[list[SamlValue], Field(max_length=MAX_SAML_VALUES)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Error(Model):
    """Every refusal: ``code`` is stable, ``message`` is for a person, ``field`` names the input at fault."""

    code: str
    message: str
    field: str | None = None


class CreateTenant(Model):
    tenant: Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")] = Field(
        description="1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DESCRIPTION)] = "SCIM provisioning"
    actor: Actor


class Tenant(Model):
    tenant: str
    serviceAccountId: str
    name: str
    permissions: list[str]


class GenerateCredential(Model):
    description: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DESCRIPTION)] = "SCIM provisioning"
    actor: Actor


class IssuedCredential(Model):
    """Shown once: the secret is never stored, only its keyed hash."""

    clientId: str
    clientSecret: str
    bearerToken: str = Field(description="clientId.clientSecret, for IdPs that take one bearer token.")
    description: str


class Credential(Model):
    clientId: str
    description: str
    created: str
    state: Literal["active", "revoked"]
    revoked: str | None
    lastUsed: str | None
    refusedAttempts24h: int


class Credentials(Model):
    credentials: list[Credential]


class RoleMappingBody(Model):
    dataAccessRoles: Annotated[list[RoleName], Field(max_length=MAX_ROLES)] = []
    applicationAccessRoles: Annotated[list[RoleName], Field(max_length=MAX_ROLES)] = []
    actor: Actor


class RoleMapping(Model):
    customerSuppliedRole: str
    dataAccessRoles: list[str]
    applicationAccessRoles: list[str]


class RoleMappings(Model):
    roleMappings: list[RoleMapping]


PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "kind": {
        "type": "string",
        "enum": list(KINDS),
        "description": "application: an Application Access Role (SCIM /Roles); data: a Data Access Role "
        "(SCIM /Entitlements).",
    },
    "name": {
        "type": "string",
        "maxLength": MAX_ROLE_NAME,
        "description": "The role's name: its SCIM id and the value a grant holds (no '/'; case does not matter).",
    },
}
"""What the OpenAPI document says of a path parameter beyond its being a string."""
RoleKindName = Literal["application", "data"]
RoleTypeName = Literal["Application Access Role", "Data Access Role"]


class CatalogueQuery(Model):
    kind: RoleKindName | None = Field(None, description="One kind only; both when left out.")


class CatalogueRoleBody(Model):
    description: Annotated[str, StringConstraints(max_length=MAX_ROLE_DESCRIPTION_LENGTH)] = Field(
        "", description="What the role is for, shown to the governance admin (no control character but newline)."
    )
    actor: Actor


class CatalogueRole(Model):
    """A role of the catalogue, as SCIM /Roles (application) or /Entitlements (data) lists it."""

    name: str = Field(description="Its SCIM id, displayName and value.")
    kind: RoleKindName
    type: RoleTypeName = Field(description="The SCIM resource's type.")
    description: str = Field(description="As SCIM shows it: the declared one, else the mappings that name it.")
    declared: str | None = Field(description="When it was declared or last redescribed; null: only mappings name it.")
    mappedBy: list[str] = Field(description="The Customer Supplied Roles whose mapping names it.")


class RoleCatalogue(Model):
    roles: list[CatalogueRole] = Field(description="Application Access Roles, then Data Access Roles, by name.")


class WithdrawnRole(Model):
    """A declared role withdrawn: new grants of it are refused unless a mapping still names it; users keep theirs."""

    name: str
    kind: RoleKindName
    type: RoleTypeName
    description: str = Field(description="As it was declared.")
    declared: str
    mappedBy: list[str] = Field(description="The mappings that still name it.")
    inCatalogue: bool = Field(description="true: a mapping still names it, so it stays listed and grantable.")


class PasswordPolicyBody(Model):
    """Any of the rules; those left out keep their value."""

    minLength: Annotated[int, Field(ge=0, le=100_000)] | None = None
    maxLength: Annotated[int, Field(ge=0, le=100_000)] | None = None
    minCharacterClasses: Annotated[int, Field(ge=0, le=100)] | None = None
    actor: Actor


class PasswordPolicy(Model):
    minLength: int
    maxLength: int
    minCharacterClasses: int
    tenantSpecific: bool = Field(description="false: the stage's default applies.")
    description: str


class RoleSourceBody(Model):
    source: Literal["scim-groups", "saml-attribute"]
    attribute: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_NAME)] | None = Field(
        None, description="The SAML attribute whose values are the Customer Supplied Roles (saml-attribute only)."
    )
    actor: Actor


class RoleSource(Model):
    source: Literal["scim-groups", "saml-attribute"]
    attribute: str | None


class SignInRequest(Model):
    userName: Annotated[str, StringConstraints(min_length=1, max_length=MAX_USER_NAME)]
    samlAttributes: Annotated[
        dict[
            Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_NAME)],
            Annotated[list[SamlValue], Field(max_length=MAX_SAML_VALUES)],
        ],
        Field(max_length=MAX_SAML_ATTRIBUTES),
    ] = {}


class SignIn(Model):
    allowed: bool
    reason: str | None = Field(description="Why not, when not allowed: a stable code, e.g. deactivated.")
    reasonMessage: str | None
    userId: str | None
    customerSuppliedRoles: list[str]
    dataAccessRoles: list[str]
    applicationAccessRoles: list[str]
    source: Literal["scim-groups", "saml-attribute"]
    scimGroups: list[str] = Field(description="The user's SCIM groups; they grant nothing in saml-attribute mode.")


class ActivityQuery(Model):
    since: Annotated[str, StringConstraints(max_length=64)] | None = None
    user: Annotated[str, StringConstraints(min_length=1, max_length=MAX_USER_NAME)] | None = None
    group: Annotated[str, StringConstraints(min_length=1, max_length=MAX_USER_NAME)] | None = None
    errors: bool = False
    ignored: bool = False
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50
    cursor: Annotated[str, StringConstraints(max_length=128)] | None = None


class Activity(Model):
    entries: list[dict[str, Any]] = Field(description="Newest first, as `admin activity --json` shows them.")
    nextCursor: str | None = Field(description="Pass as cursor for the next page; null on the last one.")


class Status(BaseModel):
    """What `admin status --json` shows."""

    model_config = ConfigDict(extra="allow")

    tenant: str
    problems: list[str]
