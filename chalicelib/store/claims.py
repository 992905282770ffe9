"""The uniqueness claims as an ordered index: ``userName#<key>`` and ``displayName#<key>`` items.

Each claim is written in the same transaction as its resource, so the claims
of a tenant, read in key order, list its users by userName (its groups by
displayName), strongly consistent: ``userName sw "ab"`` is a key range, and a
cursor page is one query of ``count + 1`` claims, whatever the tenant's size.
"""

from dataclasses import dataclass
from typing import Any

from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.limits import sort_key_fits
from chalicelib.store.table import items, pages


@dataclass(frozen=True)
class ClaimIndex:
    client: DynamoDBClient
    table: str
    tenant: str
    prefix: str
    """``userName#`` or ``displayName#``."""
    owner: str
    """The attribute of a claim holding the id of its resource."""

    def _possible(self, key_prefix: str) -> bool:
        """Whether a claim can start with ``key_prefix``: DynamoDB refuses a longer one than a key can be."""
        return sort_key_fits(self.prefix + key_prefix)

    def _query(self, key_prefix: str, **arguments: Any) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": self.tenant}, ":p": {"S": self.prefix + key_prefix}},
            "ConsistentRead": True,
            **arguments,
        }

    def count(self, key_prefix: str = "") -> int:
        """How many claims start with ``key_prefix``; reads the claims' keys, not the resources."""
        if not self._possible(key_prefix):
            return 0
        return sum(page["Count"] for page in pages(self.client, **self._query(key_prefix, Select="COUNT")))

    def page(
        self, key_prefix: str, *, after: str | None, limit: int, forward: bool
    ) -> tuple[list[tuple[str, str]], bool]:
        """Up to ``limit`` (claim, id) pairs after ``after`` in key order (or reversed), and whether more follow."""
        arguments: dict[str, Any] = {"Limit": limit + 1, "ScanIndexForward": forward}
        if after is not None:
            arguments["ExclusiveStartKey"] = {"pk": {"S": self.tenant}, "sk": {"S": after}}
        found = self._pairs(key_prefix, limit + 1, **arguments)
        return found[:limit], len(found) > limit

    def skip(self, key_prefix: str, *, offset: int, limit: int, forward: bool) -> list[tuple[str, str]]:
        """The (claim, id) pairs ``offset`` to ``offset + limit``: index paging reads the skipped claims' keys."""
        return self._pairs(key_prefix, offset + limit, ScanIndexForward=forward)[offset : offset + limit]

    def _pairs(self, key_prefix: str, wanted: int, **arguments: Any) -> list[tuple[str, str]]:
        """The first ``wanted`` (claim, id) pairs: the next page is read only while more are wanted."""
        found: list[tuple[str, str]] = []
        if not self._possible(key_prefix):
            return found
        for item in items(self.client, **self._query(key_prefix, **arguments)):
            found.append((item["sk"]["S"], item[self.owner]["S"]))
            if len(found) >= wanted:
                break
        return found
