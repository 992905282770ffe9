"""Write capacity units, as DynamoDB bills them, from the items before and after each write.

The rules (Amazon DynamoDB Developer Guide, "Read/write capacity mode" and "Managing
settings on DynamoDB provisioned capacity tables"):

- A write costs 1 unit per KB of the item, rounded up per item: for a Put, an Update or a
  Delete, of the larger of the item before and after it.
- In ``TransactWriteItems`` every action costs twice that, ``ConditionCheck`` included.
- Every secondary index the item is in (or leaves) is written too, at 1 unit per KB of the
  index entry (the projected item plus 100 bytes): 1 write when the entry appears, changes
  or disappears, 2 (a delete and a put) when its index key changes.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KB = 1024
INDEX_ENTRY_OVERHEAD = 100
Item = dict[str, Any]
"""An item in DynamoDB's JSON: ``{"pk": {"S": "..."}, ...}``."""


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "SS":
        return sum(len(str(member).encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(str(member)) for member in content)
    if kind == "BS":
        return sum(len(member) for member in content)
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(member) for name, member in content.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes DynamoDB counts for an item: attribute names and values."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _units(size: int) -> int:
    return max(1, math.ceil(size / KB))


@dataclass(frozen=True)
class Write:
    """One write action of a request, with the item it found and the item it left."""

    table_indexes: Sequence[Sequence[str]]
    """The key attributes of each secondary index of the table."""
    before: Item | None
    after: Item | None
    transactional: bool = False
    condition_check: bool = False

    def units(self) -> int:
        size = item_size(self.before) if self.condition_check else max(item_size(self.before), item_size(self.after))
        table = _units(size) * (2 if self.transactional else 1)
        if self.condition_check:
            return table
        return table + sum(self._index_units(keys) for keys in self.table_indexes)

    def _index_units(self, keys: Sequence[str]) -> int:
        old = _index_key(self.before, keys)
        new = _index_key(self.after, keys)
        if old is None and new is None:
            return 0
        old_size = item_size(self.before) + INDEX_ENTRY_OVERHEAD
        new_size = item_size(self.after) + INDEX_ENTRY_OVERHEAD
        if old is None:
            return _units(new_size)
        if new is None:
            return _units(old_size)
        if old != new:
            return _units(old_size) + _units(new_size)
        return _units(max(old_size, new_size))


def _index_key(item: Item | None, keys: Sequence[str]) -> tuple[str, ...] | None:
    """The item's key in an index, or None when the item is not in it (a sparse index)."""
    if not item or any(key not in item for key in keys):
        return None
    return tuple(repr(item[key]) for key in keys)
