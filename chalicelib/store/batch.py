"""DynamoDB's batch calls, chunked to their limits and retried until nothing is left unprocessed.

BatchWriteItem takes 25 requests and BatchGetItem 100 keys per call, and either
may hand back part of the work (UnprocessedItems / UnprocessedKeys) under load;
moto never does, so tests inject it to prove the retry. The chunks of one call go out together
(:mod:`.waves`): 100 memberships are one round trip of four BatchWriteItems, not four.
"""

import time
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.store.dynamodb_types import DynamoDBClient, Item, WriteRequestTypeDef
from chalicelib.store.errors import Unavailable
from chalicelib.store.limits import key_fits
from chalicelib.store.waves import each

WRITE_CHUNK = 25
GET_CHUNK = 100
MAX_ROUNDS = 8


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _backoff(round_number: int) -> None:
    time.sleep(min(0.05 * 2**round_number, 1.0))


def batch_write(client: DynamoDBClient, table: str, requests: Sequence[WriteRequestTypeDef]) -> None:
    """Apply PutRequest/DeleteRequest entries, 25 per call, retrying the unprocessed ones.

    :raises Unavailable: When DynamoDB still leaves work unprocessed after the retries.
    """
    each(lambda chunk: _write_chunk(client, table, chunk), list(_chunks(requests, WRITE_CHUNK)))


def _write_chunk(client: DynamoDBClient, table: str, chunk: Sequence[WriteRequestTypeDef]) -> None:
    pending: dict[str, Any] = {table: list(chunk)}
    for round_number in range(MAX_ROUNDS):
        response = client.batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        _backoff(round_number)
    raise Unavailable(f"BatchWriteItem left {len(pending.get(table, []))} items unprocessed")


def batch_get(client: DynamoDBClient, table: str, keys: Sequence[Item], **options: Any) -> list[Item]:
    """Read items by key, 100 per call, strongly consistent, retrying the unprocessed keys.

    A key over DynamoDB's size limits is skipped: no item has it, and DynamoDB would refuse the call.

    :raises Unavailable: When DynamoDB still leaves keys unprocessed after the retries.
    """
    keys = [key for key in keys if key_fits(key)]
    chunks = each(lambda chunk: _get_chunk(client, table, chunk, options), list(_chunks(keys, GET_CHUNK)))
    return [item for found in chunks for item in found]


def _get_chunk(client: DynamoDBClient, table: str, chunk: Sequence[Item], options: dict[str, Any]) -> list[Item]:
    found: list[Item] = []
    pending: dict[str, Any] = {table: {"Keys": list(chunk), "ConsistentRead": True, **options}}
    for round_number in range(MAX_ROUNDS):
        response = client.batch_get_item(RequestItems=pending)
        found.extend(response.get("Responses", {}).get(table, []))
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        _backoff(round_number)
    raise Unavailable("BatchGetItem left keys unprocessed")
