"""A tenant's role source: where its users' Customer Supplied Roles come from at sign-in.

Item (in the role_mappings table, beside the password policy): ``pk`` is the tenant,
``sk = settings#roleSource``, with ``source`` and, for ``saml-attribute``, ``attribute``.
No item: ``scim-groups``, the behaviour before role sources existed.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.store.table import TenantTable

SORT_KEY = "settings#roleSource"
SCIM_GROUPS = "scim-groups"
SAML_ATTRIBUTE = "saml-attribute"


@dataclass(frozen=True)
class RoleSource:
    source: str = SCIM_GROUPS
    attribute: str | None = None
    """The SAML attribute whose values are the user's Customer Supplied Roles (``saml-attribute`` only)."""


class RoleSourceTable(TenantTable):
    """The role source of one tenant."""

    def get(self) -> RoleSource:
        item = self.get_item(SORT_KEY)
        return RoleSource() if item is None else self.role_source_of(item)

    @staticmethod
    def role_source_of(item: Mapping[str, Any]) -> RoleSource:
        """The item as a role source (also how the change stream reads one)."""
        return RoleSource(item["source"]["S"], item["attribute"]["S"] if "attribute" in item else None)

    def put(self, role_source: RoleSource) -> None:
        item = {**self.key(SORT_KEY), "source": {"S": role_source.source}}
        if role_source.attribute is not None:
            item["attribute"] = {"S": role_source.attribute}
        self.client.put_item(TableName=self.table, Item=item)
