"""Roles an operator declared in a tenant's catalogue, beside its role mappings (same table).

Items: ``pk`` is the tenant, ``sk = catalogue#<kind>#<case-folded name>``, with ``name`` (as
declared), ``kind`` (``application`` or ``data``), ``description`` and ``declared`` (ISO 8601).
The catalogue a client sees is these plus every role the tenant's mappings name
(:mod:`chalicelib.resources.catalogue`): a role can be declared, and granted, before any
group maps to it.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import botocore.exceptions

from chalicelib.store.batch import batch_get
from chalicelib.store.dynamodb_types import Item
from chalicelib.store.items import ItemConverter
from chalicelib.store.limits import key_fits
from chalicelib.store.role_mappings import role_key
from chalicelib.store.table import TenantTable

PREFIX = "catalogue#"
RoleKind = Literal["application", "data"]
KINDS: tuple[RoleKind, ...] = ("application", "data")


@dataclass(frozen=True)
class DeclaredRole:
    name: str
    kind: RoleKind
    description: str
    declared: str


ROLE_ITEM = ItemConverter(DeclaredRole)


class RoleCatalogueTable(TenantTable):
    """The declared roles of one tenant."""

    def declare(self, role: DeclaredRole) -> DeclaredRole | None:
        """Add or redescribe a role (the same name in another case is the same role).

        :returns: None when written; the role as stored when it is already declared with the same spelling and
            description: then nothing is written and it keeps its ``declared`` time (a repeat changes nothing).
        """
        item: Item = {**self._key(role.kind, role.name), **ROLE_ITEM.item(role)}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(sk) OR #name <> :name OR description <> :description",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={":name": {"S": role.name}, ":description": {"S": role.description}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self._role(error.response["Item"])
        return None

    def withdraw(self, kind: RoleKind, name: str) -> DeclaredRole | None:
        """Remove a declared role; the role as it was, None when there was none."""
        key = self._key(kind, name)
        if not key_fits(key):  # no item can have it
            return None
        response = self.client.delete_item(TableName=self.table, Key=key, ReturnValues="ALL_OLD")
        return self._role(response["Attributes"]) if "Attributes" in response else None

    def declared(self, kind: RoleKind) -> Iterator[DeclaredRole]:
        """Every declared role of a kind, in key order (case-folded name)."""
        return map(self._role, self.starting_with(f"{PREFIX}{kind}#"))

    def get_many(self, kind: RoleKind, names: Sequence[str]) -> list[DeclaredRole]:
        """The declared roles among ``names`` (one batch read; names compare without regard to case)."""
        keys = [self._key(kind, name) for name in dict.fromkeys(names)]
        return [self._role(item) for item in batch_get(self.client, self.table, keys)]

    def _key(self, kind: RoleKind, name: str) -> Item:
        return self.key(f"{PREFIX}{kind}#{role_key(name)}")

    _role = staticmethod(ROLE_ITEM.record)
