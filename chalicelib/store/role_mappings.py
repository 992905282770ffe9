"""The role_mappings table: Customer Supplied Role -> Data Access Roles and Application Access Roles.

Items: ``pk`` is the tenant, ``sk = csr#<case-folded role name>``. A mapping is
keyed by the Customer Supplied Role's name (the SCIM group's displayName), so
an administrator can map a role before the IdP pushes the group.

The tenant's settings are ``settings#`` items of the same partition, after the mappings in key
order (the role source, the password policy, the group-names generation): a user read takes the
mappings and the settings it needs in one query (:meth:`RoleMappingTable.with_settings`).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chalicelib.store import group_names, password_policies, role_sources
from chalicelib.store.batch import batch_get
from chalicelib.store.dynamodb_types import Item
from chalicelib.store.group_names import GroupNamesGeneration
from chalicelib.store.items import ItemConverter
from chalicelib.store.limits import sort_key_fits
from chalicelib.store.role_sources import RoleSource, RoleSourceTable
from chalicelib.store.table import TenantTable

PREFIX = "csr#"
SETTINGS_PREFIX = "settings#"
# Every settings# key sorts below it ("~" follows letters and digits).
_SETTINGS_END = SETTINGS_PREFIX + "~"
KNOWN_SETTINGS = (role_sources.SORT_KEY, password_policies.SORT_KEY, group_names.SORT_KEY)


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


@dataclass(frozen=True)
class RoleSettings:
    """What a user read needs of the tenant's role settings, read at one moment."""

    mappings: list[RoleMapping] | None
    """Every mapping of the tenant; None when it has more than the reader's limit (or none were asked for)."""
    role_source: RoleSource
    group_names: GroupNamesGeneration


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

    def with_settings(self, limit: int, mappings: bool = True) -> RoleSettings:
        """The tenant's role source and group-names generation and, with ``mappings``, every mapping when it has
        at most ``limit``: one strongly consistent query of the partition, read backwards so the settings come
        first and the mappings stop the read once there are more than ``limit`` of them."""
        start = PREFIX if mappings else SETTINGS_PREFIX
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :t AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":t": {"S": self.tenant}, ":a": {"S": start}, ":b": {"S": _SETTINGS_END}},
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=limit + 1 + len(KNOWN_SETTINGS),
        )
        found = response.get("Items", [])
        settings = {item["sk"]["S"]: item for item in found if item["sk"]["S"].startswith(SETTINGS_PREFIX)}
        listed = [self.mapping_of(item) for item in found if item["sk"]["S"].startswith(PREFIX)]
        source = settings.get(role_sources.SORT_KEY)
        whole = mappings and len(listed) <= limit and "LastEvaluatedKey" not in response
        return RoleSettings(
            listed if whole else None,
            RoleSourceTable.role_source_of(source) if source is not None else RoleSource(),
            group_names.generation_of(settings.get(group_names.SORT_KEY)),
        )

    def _key(self, name: str) -> Item:
        return self.key(PREFIX + role_key(name))

    mapping_of = staticmethod(MAPPING_ITEM.record)
