"""A tenant's group-names generation: how many times a group of the tenant was renamed or deleted.

Item (in the role_mappings table, beside the tenant's other settings): ``pk`` is the tenant,
``sk = settings#groupNames``, with ``generation``. No item: generation 0.

Every write that changes a group's displayName, or deletes a group, increments it in the
transaction that makes the change (:class:`~chalicelib.store.groups.GroupTable`), so whoever read
generation *g* knows that no group of the tenant had another name, or was deleted, between that read
and any read of the group's item made after it while the generation is still *g*. That is what lets
a container keep groups' names between requests (:mod:`chalicelib.resources.group_names`) and read
a user's groups in the one round trip that reads the user: the generation comes with the tenant's
role mappings and role source (:meth:`.RoleMappingTable.with_settings`), in the same query.
"""

from collections.abc import Mapping
from typing import Any

from chalicelib.store.guarded import Write

SORT_KEY = "settings#groupNames"


def increment(table: str, tenant: str) -> Write:
    """The transaction entry that increments the tenant's generation (creating it at 1)."""
    return Write(
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": tenant}, "sk": {"S": SORT_KEY}},
                "UpdateExpression": "ADD generation :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    )


def generation_of(item: Mapping[str, Any] | None) -> int:
    """The generation an item holds (0 for none)."""
    return int(item["generation"]["N"]) if item is not None else 0
