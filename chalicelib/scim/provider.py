"""What this service provider serves and announces: schemas, resource types, limits, tolerance.

:rfc:`RFC 7643 §5-7`: discovery must tell the truth, so every capability below
is one the storage really implements.
"""

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Pagination,
    Patch,
    Reference,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    default_comparison_key,
)
from scim2_models.reference import External

from chalicelib.canonical import display_name_key, user_name_key
from chalicelib.config import Settings
from chalicelib.schemas import CustomUser, Entitlement, OneModelUser, Role, User, UserResource
from chalicelib.scim.published_schemas import PublishingProvider

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


# What real IdPs send and the strict reading refuses (docs/design/idp-dialects.md):
# Entra ID removes members with the target in "value", and replaces
# emails[type eq "work"].value on users that have no work email yet. An attribute no
# schema defines is ignored and named on the access log line (chalicelib/provisioning/ignored.py).
USER_NAME_URN = "urn:ietf:params:scim:schemas:core:2.0:User:userName"
DISPLAY_NAME_URN = "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
_CANONICAL_KEYS = {USER_NAME_URN: user_name_key, DISPLAY_NAME_URN: display_name_key}


def comparison_key(binding: Any, value: str) -> str:
    """What uniqueness, filters and sorting compare: userName and displayName in their PRECIS form
    (chalicelib.canonical), every other string as scim2-models does (NFC, lowercase unless caseExact).

    A refused userName or displayName raises :class:`~chalicelib.canonical.RefusedIdentifier`, a
    ValueError, so scim2-models refuses the write with ``invalidValue`` and a filter on it matches nothing.
    """
    canonical = _CANONICAL_KEYS.get(binding.urn)
    return default_comparison_key(binding, value) if canonical is None else canonical(value)


POLICY = ScimPolicy(
    comparison_key=comparison_key,
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def catalogue_type(model: Any, description: str) -> ResourceType:
    """A resource type of the role catalogue, described for the governance admin who reads it."""
    resource_type = ResourceType.from_resource(model)
    resource_type.description = description
    return resource_type


def build_provider(settings: Settings) -> ScimProvider:
    """Return the provider: core User with its extensions, Group (a Customer Supplied Role), and the read-only
    role catalogue: Role (Application Access Roles) and Entitlement (Data Access Roles)."""
    return PublishingProvider(
        models=[User, EnterpriseUser, CustomUser, OneModelUser, Group, Role, Entitlement],
        resource_types=[
            ResourceType.from_resource(UserResource),
            ResourceType.from_resource(Group),
            catalogue_type(Role, "Application Access Roles: what a user's roles may grant (read-only)"),
            catalogue_type(Entitlement, "Data Access Roles: what a user's entitlements may grant (read-only)"),
        ],
        config=service_provider_config(settings),
        policy=POLICY,
    )
