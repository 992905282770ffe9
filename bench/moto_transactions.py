"""moto's TransactWriteItems, made O(items in the transaction) as DynamoDB's is.

moto backs a transaction out by deep-copying every table it touches, once per transaction item,
before applying it: a 2-item user write on a 100,000-user table costs moto about 20 s, which
would swamp every write's latency with an artefact of the mock. While installed, the backend
instead remembers only the items the transaction names (an undo log) and puts them back if it
is cancelled, which is all a rollback needs; everything else is moto's own code.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.dynamodb.models as moto_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table


class _TablesNotCopied:
    """Stands in for the ``copy`` module inside moto's transaction: tables are not copied, the rest is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_key(table: Table, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    if operation != "Put":
        return dict(request["Key"])
    key = {table.hash_key_attr: request["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = request["Item"][table.range_key_attr]
    return key


def _restore(backend: DynamoDBBackend, table: Table, key: dict[str, Any], before: Any) -> None:
    hash_key, range_key = backend.get_keys_value(table, key)
    if before is None:
        table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = before
    else:
        table.items[hash_key] = before


@contextmanager
def transactions_with_undo_log() -> Iterator[None]:
    """While active, every moto DynamoDB backend rolls a cancelled transaction back from an undo log."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Table, dict[str, Any], Any]] = []
        for entry in transact_items:
            operation, request = next(iter(entry.items()))
            table = self.tables.get(request.get("TableName", ""))
            if table is not None and operation in {"Put", "Delete", "Update", "ConditionCheck"}:
                key = _item_key(table, operation, request)
                undo.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
        moto_models.copy = _TablesNotCopied  # type: ignore[attr-defined,assignment]
        try:
            original(self, transact_items)
        except Exception:
            for table, key, before in reversed(undo):
                _restore(self, table, key, before)
            raise
        finally:
            moto_models.copy = copy  # type: ignore[attr-defined]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
