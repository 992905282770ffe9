"""The provisioning activity trail, seen from the SCIM side: resources named as SCIM compares them.

The store keeps entries (chalicelib.store.activity); the admin CLI finds a user's entries by any
spelling of its userName through :func:`name_key`.
"""

from typing import Any

from scim2_models import Group, Path, User

from chalicelib.canonical import legacy_key
from chalicelib.scim.provider import POLICY

_NAME_ATTRIBUTES = {
    "User": Path[User[Any]]("userName").resolve(),
    "Group": Path[Group]("displayName").resolve(),
}


def name_key(resource_type: str, name: str) -> str:
    """The key a userName or displayName is unique by, as the storage compares them."""
    try:
        return POLICY.comparison_key(_NAME_ATTRIBUTES[resource_type], name)
    except ValueError:  # a name the canonical form refuses, kept under its old key (chalicelib.canonical)
        return legacy_key(name)
