"""What this service provider serves and announces: schemas, resource types, limits, tolerance.

:rfc:`RFC 7643 §5-7`: discovery must tell the truth, so every capability below
is one the storage really implements.
"""

import re
from typing import Annotated, Generic

from pydantic import AfterValidator
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Group,
    Mutability,
    Pagination,
    Patch,
    Reference,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)
from scim2_models import User as CoreUser
from scim2_models.annotations import CaseExact
from scim2_models.reference import External
from scim2_models.resources.resource import AnyExtension
from scim2_models.urn import URN

from chalicelib.config import Settings

CUSTOM_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
ONEMODEL_USER_SCHEMA = "urn:onemodel:params:scim:schemas:extension:2.0:User"


class CustomUser(Extension):
    """The customer's own user attributes: ``personId`` links the user to an HR person record."""

    __schema__ = URN(CUSTOM_USER_SCHEMA)

    person_id: Annotated[str | None, CaseExact.true] = None
    """The HR person identifier of the user (attribute name ``personId``, case-sensitive)."""


class OneModelUser(Extension):
    """One Model's view of a provisioned user, read-only to SCIM clients."""

    __schema__ = URN(ONEMODEL_USER_SCHEMA)

    allow_sso_login: Annotated[bool | None, Mutability.read_only] = None
    """Whether the user may sign in through the customer's SSO; set for every SCIM-created user."""

    auto_assign_roles: Annotated[bool | None, Mutability.read_only] = None
    """Whether the user's roles follow the Customer Supplied Role mapping; set for every SCIM-created user."""

    customer_supplied_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The Customer Supplied Roles (SCIM groups) the user belongs to, by displayName."""

    data_access_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The user's effective Data Access Roles: the union of the role mapping over the user's groups."""

    application_access_roles: Annotated[list[str] | None, Mutability.read_only] = None
    """The user's effective Application Access Roles: the union of the role mapping over the user's groups."""


_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def _valid_email(address: str | None) -> str | None:
    if address is not None and not _EMAIL_ADDRESS.fullmatch(address):
        raise ValueError("an email address is local-part@domain")
    return address


class VerbatimEmail(Email):
    """An email address kept as sent. scim2-models' EmailStr lowercases the domain, while Entra ID expects
    values "stored in the same format they were sent" (entra/06_create_user_with_nulls.json), and refuses
    special-use domains, while Okta's own test users are ``@okta.local`` (okta/02_create_user.json)."""

    value: Annotated[str | None, AfterValidator(_valid_email)] = None


# The core User with verbatim emails. Named and undocumented like scim2-models' own User, since
# /Schemas publishes the class name and docstring: discovery stays exactly RFC 7643 §8.7.1's User.
class User(CoreUser[AnyExtension], Generic[AnyExtension]):
    emails: list[VerbatimEmail] | None = None  # type: ignore[assignment]


UserResource = User[EnterpriseUser | CustomUser | OneModelUser]

BASIC_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.httpbasic,
    name="HTTP Basic",
    description="HTTP Basic with the client ID as username and the client secret as password",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc7617"),
    primary=True,
)

BEARER_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="Bearer token",
    description="The same credential as a bearer token: <client id>.<client secret>",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
    primary=False,
)


def service_provider_config(settings: Settings) -> ServiceProviderConfig:
    """The capabilities of :rfc:`RFC 7643 §5`, as implemented by our storage."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        # Some clients read "bulk unsupported" without maxOperations as "no PATCH or filter" (authentik#25056).
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=settings.max_page_size),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[BASIC_SCHEME, BEARER_SCHEME],
        # RFC 9865 §4: both paging methods; index stays the default, as Okta and Entra expect.
        pagination=Pagination(
            cursor=True,
            index=True,
            default_pagination_method=Pagination.DefaultPaginationMethod.index,
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
            cursor_timeout=settings.cursor_timeout_seconds,
        ),
    )


# What real IdPs send and the strict reading refuses (see ../shared/IDP-NOTES.md):
# Entra ID removes members with the target in "value", and replaces
# emails[type eq "work"].value on users that have no work email yet.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.forbid,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def build_provider(settings: Settings) -> ScimProvider:
    """Return the provider: core User with its extensions, and Group (a Customer Supplied Role)."""
    return ScimProvider(
        models=[User, EnterpriseUser, CustomUser, OneModelUser, Group],
        resource_types=[
            ResourceType.from_resource(UserResource),
            ResourceType.from_resource(Group),
        ],
        config=service_provider_config(settings),
        policy=POLICY,
    )
