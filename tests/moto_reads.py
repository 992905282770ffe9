"""moto's answers to DynamoDB reads, written as plain JSON.

moto 5 serializes every response through a generic, shape-driven serializer that visits each
attribute of each item: reading a 10,000-member group through moto spent more time there than
in everything else together. A read's result is already DynamoDB's wire format (attribute
values as ``{"S": ...}``), so while installed, Query, Scan, GetItem and BatchGetItem answer
``json.dumps`` of it; anything that is not plain JSON (binary values, errors, other calls) still
takes moto's own serializer.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb.responses import DynamoResult

_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _plain(value: Any) -> Any:
    """The value without None members (the serializer leaves them out), or TypeError if not plain JSON."""
    if isinstance(value, dict):
        return {key: _plain(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_plain(member) for member in value]
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(type(value).__name__)


@contextmanager
def reads_as_plain_json() -> Iterator[None]:
    original = DynamoResult.execute_result

    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        if context.operation_model.name in _READS and isinstance(self.result, dict):
            try:
                return 200, dict(_HEADERS), json.dumps(_plain(self.result))
            except TypeError:
                pass
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoResult.execute_result = original  # type: ignore[method-assign]
