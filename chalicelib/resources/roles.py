"""A user's roles, the product's one rule for them: its groups are its Customer Supplied Roles, and its
effective Data Access and Application Access Roles are the union of what the role mapping gives each."""

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.store.role_mappings import RoleMapping, role_key


@dataclass(frozen=True)
class UserRoles:
    customer_supplied_roles: list[str]
    """The displayNames of the user's groups, sorted without regard to case."""
    data_access_roles: list[str]
    application_access_roles: list[str]


def user_roles(group_names: Iterable[str], mappings: Iterable[RoleMapping]) -> UserRoles:
    """The roles of a user in these groups; ``mappings`` may hold mappings of other roles too (ignored).

    A group without a mapping adds no effective role; role names compare without regard to case.
    """
    names = sorted(group_names, key=str.lower)
    by_key = {role_key(mapping.customer_supplied_role): mapping for mapping in mappings}
    mapped = [by_key[key] for name in names if (key := role_key(name)) in by_key]
    return UserRoles(
        customer_supplied_roles=names,
        data_access_roles=sorted({role for mapping in mapped for role in mapping.data_access_roles}),
        application_access_roles=sorted({role for mapping in mapped for role in mapping.application_access_roles}),
    )
