"""A tenant's group-names generation: which of its groups were renamed or deleted, and when.

Item (in the role_mappings table, beside the tenant's other settings): ``pk`` is the tenant,
``sk = settings#groupNames``, with
- ``generation``: how many renames and deletes of the tenant's groups there have been;
- ``changed``: the last :data:`REMEMBERED` groups renamed or deleted, each with the generation of
  its last change, as one JSON string (``[[generation, group id], ...]``: every user read reads it,
  and botocore parses one string far faster than a map of numbers);
- ``forgotten``: the highest generation of a change no longer listed (0 while none was dropped).
No item: generation 0, nothing changed.

Every write that changes a group's displayName, or deletes a group, writes the next generation in
the transaction that makes the change (:class:`~chalicelib.store.groups.GroupTable`), on the
condition that the generation is still the one it read. So whoever read generation *g* and then a
group's item knows the name it read stays right until a generation that lists the group. That is
what lets a container keep groups' names between requests (:mod:`chalicelib.resources.group_names`)
and name a user's groups in the round trip that reads the user: the generation comes with the
tenant's role mappings and role source, in the same query (:meth:`.RoleMappingTable.with_settings`).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.dynamodb_types import Condition, Item, PutTypeDef
from chalicelib.store.guarded import NEW, Write

SORT_KEY = "settings#groupNames"
REMEMBERED = 32
"""How many changed groups the item lists: about 1.5 KB, read with every user read's settings."""
GUARD = "groupNames"
"""The guard of the generation's write: nobody renamed or deleted a group of the tenant since it was read."""


@dataclass(frozen=True)
class GroupNamesGeneration:
    generation: int = 0
    changed: Mapping[str, int] = field(default_factory=dict)
    """Group id -> the generation of its last rename or delete, for the last :data:`REMEMBERED` of them."""
    forgotten: int = 0

    def changed_since(self, generation: int) -> list[str] | None:
        """The groups renamed or deleted after ``generation``; None when some of them are no longer listed."""
        if self.forgotten > generation:
            return None
        return [group_id for group_id, changed in self.changed.items() if changed > generation]

    def after(self, group_id: str) -> "GroupNamesGeneration":
        """The next generation: ``group_id`` renamed or deleted."""
        generation = self.generation + 1
        ordered = sorted({**self.changed, group_id: generation}.items(), key=lambda entry: entry[1])
        kept, dropped = ordered[-REMEMBERED:], ordered[:-REMEMBERED]
        return GroupNamesGeneration(generation, dict(kept), max([self.forgotten, *(gen for _, gen in dropped)]))


def generation_of(item: Mapping[str, Any] | None) -> GroupNamesGeneration:
    """The generation an item holds (generation 0 for none)."""
    if item is None:
        return GroupNamesGeneration()
    changed = {str(group_id): int(gen) for gen, group_id in json.loads(item["changed"]["S"])}
    return GroupNamesGeneration(int(item["generation"]["N"]), changed, int(item["forgotten"]["N"]))


def next_generation(table: str, tenant: str, current: GroupNamesGeneration, group_id: str) -> Write:
    """The transaction entry that writes the generation after ``current``, ``group_id`` changed; refused (guard
    :data:`GUARD`) when the stored generation is no longer ``current``."""
    written = current.after(group_id)
    item: Item = {
        "pk": {"S": tenant},
        "sk": {"S": SORT_KEY},
        "generation": {"N": str(written.generation)},
        "changed": {"S": json.dumps([[gen, changed] for changed, gen in written.changed.items()])},
        "forgotten": {"N": str(written.forgotten)},
    }
    condition: Condition = NEW
    if current.generation:
        condition = {
            "ConditionExpression": "generation = :g",
            "ExpressionAttributeValues": {":g": {"N": str(current.generation)}},
        }
    put: PutTypeDef = {"TableName": table, "Item": item, **condition}
    return Write({"Put": put}, GUARD)
