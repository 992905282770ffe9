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

    def declare(self, role: DeclaredRole) -> None:
        """Add or redescribe a role (the same name in another case is the same role)."""
        item: Item = {**self._key(role.kind, role.name), **ROLE_ITEM.item(role)}
        self.client.put_item(TableName=self.table, Item=item)

    def withdraw(self, kind: RoleKind, name: str) -> bool:
        """Remove a declared role; False when there was none."""
        key = self._key(kind, name)
        if not key_fits(key):  # no item can have it
            return False
        response = self.client.delete_item(TableName=self.table, Key=key, ReturnValues="ALL_OLD")
        return "Attributes" in response

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
