"""The question One Model's sign-in asks: may this user sign in with SSO, and with which roles?

The roles come from the tenant's role source (the guide's section 5): ``scim-groups``, the user's
SCIM groups are its Customer Supplied Roles; ``saml-attribute``, the values of one SAML attribute
of this sign-in are, and the SCIM groups (still kept and shown) grant nothing. Either way the same
role mappings turn them into Data Access and Application Access Roles (:mod:`chalicelib.resources.roles`),
and the user's direct grants (SCIM ``roles`` and ``entitlements``, checked against the role catalogue) add
theirs: a governance product grants them to the user, whichever source gives its Customer Supplied Roles.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.resources.roles import held, user_roles
from chalicelib.resources.user_groups import GroupReader
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMappingTable
from chalicelib.store.role_sources import SAML_ATTRIBUTE, RoleSource
from chalicelib.store.users import UserRecord, UserTable

NOT_PROVISIONED = "not_provisioned"
DEACTIVATED = "deactivated"
DELETED = "deleted"
SSO_NOT_ALLOWED = "sso_not_allowed"
REASONS = {
    NOT_PROVISIONED: "No user of this tenant has this userName: the IdP has not provisioned it.",
    DEACTIVATED: "The user is deactivated (active: false) in the IdP.",
    DELETED: "The user was deleted through SCIM.",
    SSO_NOT_ALLOWED: "The user may not sign in with single sign-on.",
}


@dataclass(frozen=True)
class SignIn:
    allowed: bool
    source: str
    reason: str | None = None
    user_id: str | None = None
    customer_supplied_roles: list[str] = field(default_factory=list)
    data_access_roles: list[str] = field(default_factory=list)
    application_access_roles: list[str] = field(default_factory=list)
    scim_groups: list[str] = field(default_factory=list)
    """The user's SCIM groups, shown in both modes (in ``saml-attribute`` mode they grant nothing)."""


def refusal(user: UserRecord | None) -> str | None:
    """Why this user may not sign in, as a stable reason code; None when it may."""
    if user is None:
        return NOT_PROVISIONED
    if user.deleted is not None:
        return DELETED
    if not user.active:
        return DEACTIVATED
    if not user.allow_sso_login:
        return SSO_NOT_ALLOWED
    return None


def sign_in(
    users: UserTable,
    groups: GroupTable,
    mappings: RoleMappingTable,
    role_source: RoleSource,
    user_name_key: str,
    saml_attributes: Mapping[str, Sequence[str]],
) -> SignIn:
    """The decision for the user holding ``user_name_key`` (its canonical userName), with this sign-in's SAML values."""
    user = users.find_by_user_name(user_name_key)
    reason = refusal(user)
    if user is None or reason is not None:
        return SignIn(False, role_source.source, reason, user.id if user else None)
    _, found = GroupReader(groups, mappings).named({user.id: groups.group_ids_of(user.id)})
    group_names = [name for _, name in found.by_user.get(user.id, [])]
    granted = held(user.document, "roles"), held(user.document, "entitlements")
    if role_source.source == SAML_ATTRIBUTE:
        values = list(dict.fromkeys(saml_attributes.get(role_source.attribute or "", [])))
        roles = user_roles(values, mappings.get_many(values) if values else [], *granted)
    else:
        roles = user_roles(group_names, found.mappings, *granted)
    return SignIn(
        allowed=True,
        source=role_source.source,
        user_id=user.id,
        customer_supplied_roles=roles.customer_supplied_roles,
        data_access_roles=roles.data_access_roles,
        application_access_roles=roles.application_access_roles,
        scim_groups=sorted(group_names, key=str.lower),
    )
