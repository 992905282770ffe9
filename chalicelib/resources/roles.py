"""A user's roles, the product's one rule for them: its groups are its Customer Supplied Roles, and its
effective Data Access and Application Access Roles are the union of what the role mapping gives each
and of what the user is granted directly (``entitlements`` and ``roles``)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.role_mappings import RoleMapping, role_key


@dataclass(frozen=True, order=True)
class RoleSource:
    """Where one effective role of a user comes from."""

    type: str
    """``Application Access Role`` or ``Data Access Role``."""
    value: str
    source: str
    """``direct`` (granted in ``roles`` or ``entitlements``) or ``group``."""
    group: str | None = None
    """For ``group``: the Customer Supplied Role whose mapping gives it."""

    def shown(self) -> dict[str, str]:
        """As an entry of the SCIM extension's ``effectiveRoles``: the group's name, if any, in ``display``."""
        entry = {"value": self.value, "type": self.type, "source": self.source}
        return entry | ({"display": self.group} if self.group else {})


@dataclass(frozen=True)
class UserRoles:
    customer_supplied_roles: list[str]
    """The displayNames of the user's groups, sorted without regard to case."""
    data_access_roles: list[str]
    application_access_roles: list[str]
    sources: list[RoleSource] = field(default_factory=list)
    """Each effective role with one of its sources, sorted."""


APPLICATION, DATA = "Application Access Role", "Data Access Role"
# The user attributes that grant each kind directly (chalicelib/resources/grants.py checks what a write adds).
GRANT_TYPES = {"roles": APPLICATION, "entitlements": DATA}


def held(document: Mapping[str, Any], attribute: str) -> list[str]:
    """The values a stored user is granted in ``roles`` or ``entitlements``: those a write checked against the
    catalogue (their ``type`` is the kind's); a value stored before the catalogue existed grants nothing.

    Here, beside the rule, rather than with the checks: the stream functions compute roles too, without scim2.
    """
    granted = GRANT_TYPES[attribute]
    return [item["value"] for item in stored_grants(document, attribute).values() if item.get("type") == granted]


def stored_grants(document: Mapping[str, Any], attribute: str) -> dict[str, dict[str, Any]]:
    """A stored user's items of ``roles`` or ``entitlements``, by case-folded value."""
    items = document.get(attribute) or []
    return {
        role_key(item["value"]): item for item in items if isinstance(item, dict) and isinstance(item.get("value"), str)
    }


def user_roles(
    group_names: Iterable[str],
    mappings: Iterable[RoleMapping],
    granted_application: Iterable[str] = (),
    granted_data: Iterable[str] = (),
) -> UserRoles:
    """The roles of a user in these groups with these direct grants; ``mappings`` may hold mappings of other
    roles too (ignored).

    A group without a mapping adds no effective role; role names compare without regard to case, and a role
    both granted and given by a group shows once, in its direct grant's spelling.
    """
    names = sorted(group_names, key=str.lower)
    by_key = {role_key(mapping.customer_supplied_role): mapping for mapping in mappings}
    mapped = [by_key[key] for name in names if (key := role_key(name)) in by_key]
    sources = {RoleSource(APPLICATION, role, "direct") for role in granted_application}
    sources |= {RoleSource(DATA, role, "direct") for role in granted_data}
    for mapping in mapped:
        group = mapping.customer_supplied_role
        sources |= {RoleSource(APPLICATION, role, "group", group) for role in mapping.application_access_roles}
        sources |= {RoleSource(DATA, role, "group", group) for role in mapping.data_access_roles}
    return UserRoles(
        customer_supplied_roles=names,
        data_access_roles=_effective(sources, DATA),
        application_access_roles=_effective(sources, APPLICATION),
        sources=sorted(sources, key=lambda s: (s.type, role_key(s.value), s.source, role_key(s.group or ""))),
    )


def _effective(sources: Iterable[RoleSource], kind: str) -> list[str]:
    """One name per role, direct grants' spelling first, sorted as before direct grants existed."""
    spelled: dict[str, str] = {}
    for source in sorted(sources, key=lambda s: s.source != "direct"):
        if source.type == kind:
            spelled.setdefault(role_key(source.value), source.value)
    return sorted(spelled.values())
