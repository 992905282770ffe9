"""The role_mappings table: Customer Supplied Role -> Data Access Roles and Application Access Roles.

Items: ``pk`` is the tenant, ``sk = csr#<case-folded role name>``. A mapping is
keyed by the Customer Supplied Role's name (the SCIM group's displayName), so
an administrator can map a role before the IdP pushes the group.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chalicelib.store.batch import batch_get
from chalicelib.store.dynamodb_types import Item
from chalicelib.store.items import ItemConverter
from chalicelib.store.limits import sort_key_fits
from chalicelib.store.table import TenantTable

PREFIX = "csr#"


def role_key(name: str) -> str:
    """Role names compare without regard to case, as group displayNames do."""
    return name.casefold()


def storable(name: str) -> bool:
    """Whether a role of this name can have a mapping: its key fits DynamoDB's sort key."""
    return sort_key_fits(PREFIX + role_key(name))


@dataclass(frozen=True)
class RoleMapping:
    customer_supplied_role: str
    data_access_roles: tuple[str, ...]
    application_access_roles: tuple[str, ...]


MAPPING_ITEM = ItemConverter(RoleMapping, renamed={"customer_supplied_role": "name"})


class RoleMappingTable(TenantTable):
    """The role mappings of one tenant."""

    def put(self, mapping: RoleMapping) -> None:
        item: Item = {**self._key(mapping.customer_supplied_role), **MAPPING_ITEM.item(mapping)}
        self.client.put_item(TableName=self.table, Item=item)

    def get(self, customer_supplied_role: str) -> RoleMapping | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(customer_supplied_role), ConsistentRead=True
        )
        return self.mapping_of(response["Item"]) if "Item" in response else None

    def get_many(self, customer_supplied_roles: Sequence[str]) -> list[RoleMapping]:
        # A name whose key cannot exist has no mapping: asking DynamoDB for it would be refused.
        keys = [self._key(name) for name in dict.fromkeys(customer_supplied_roles) if storable(name)]
        return [self.mapping_of(item) for item in batch_get(self.client, self.table, keys)]

    def delete(self, customer_supplied_role: str) -> bool:
        response = self.client.delete_item(
            TableName=self.table, Key=self._key(customer_supplied_role), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def all(self) -> Iterator[RoleMapping]:
        return map(self.mapping_of, self.query(**self._prefix_query(PREFIX)))

    def all_if_few(self, limit: int) -> list[RoleMapping] | None:
        """Every mapping of the tenant, in one strongly consistent query, when it has at most ``limit``; else None.

        What a user read needs without knowing its groups' names yet, so it goes out beside the
        groups' read; a tenant with more mappings reads those of the user's groups by key instead.
        """
        response = self.client.query(
            TableName=self.table, **self._prefix_query(PREFIX), ConsistentRead=True, Limit=limit + 1
        )
        found = response.get("Items", [])
        if len(found) > limit or "LastEvaluatedKey" in response:  # more than the limit, or than one page holds
            return None
        return [self.mapping_of(item) for item in found]

    def _key(self, name: str) -> Item:
        return self.key(PREFIX + role_key(name))

    mapping_of = staticmethod(MAPPING_ITEM.record)
