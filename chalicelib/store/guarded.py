"""The guarded write, written once: items that commit together, each carrying what its condition protects.

A user or group write is a few items: the resource (conditioned on its version,
or on not existing yet) and its uniqueness claims (conditioned on being free).
When DynamoDB refuses a condition, the error a client gets depends on *which*
guard failed. Each entry names its guard, so the error comes from that name,
never from where the entry sits in the transaction.

A transaction that collided with another one on an item they share (DynamoDB cancels it with
``TransactionConflict`` and writes nothing) is sent again, up to :data:`COLLISION_RETRIES` times
with full jitter: every rename and delete of one tenant's groups shares its group-names generation
item (:mod:`.group_names`), so concurrent ones do collide.
"""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import botocore.exceptions

from chalicelib.store.dynamodb_types import (
    Condition,
    DeleteTypeDef,
    DynamoDBClient,
    PutTypeDef,
    TransactWriteItemTypeDef,
)
from chalicelib.store.errors import Conflict, NotFound, StoreError, Taken, cancellation_codes

COLLISION_RETRIES = 4
VERSION = "version"
"""The guard of a resource item: nobody wrote (or deleted) it since it was read; or, on insert, it is new."""


@dataclass(frozen=True)
class Write:
    """One entry of a ``TransactItems`` list (``{"Put": {...}}``, ``{"Update": ...}``, ``{"Delete": ...}``).

    ``guards`` names what its condition protects: :data:`VERSION`, or the unique
    attribute whose claim it takes (``"userName"``); None for an unconditional entry
    or one whose failure means nothing to a client (a claim released by its owner).
    """

    request: TransactWriteItemTypeDef
    guards: str | None = None


def commit(client: DynamoDBClient, writes: Sequence[Write], refused: Callable[[str], StoreError]) -> None:
    """Write every entry or none: a single conditional call for one entry (half a transaction's capacity),
    else one ``TransactWriteItems``.

    :param refused: The error to raise for a failed guard, by its name. When several guards fail,
        :data:`VERSION` wins: a client that wrote over a stale version must re-read before anything else.
    :raises StoreError: What ``refused`` returns; any other failure as botocore raised it.
    """
    try:
        if len(writes) == 1:
            _write_one(client, writes[0].request)
        else:
            _transact(client, [write.request for write in writes])
    except botocore.exceptions.ClientError as error:
        failed = _failed_guards(error, writes)
        if failed:
            raise refused(VERSION if VERSION in failed else failed[0]) from None
        raise


def _transact(client: DynamoDBClient, items: list[TransactWriteItemTypeDef]) -> None:
    for attempt in range(COLLISION_RETRIES + 1):
        try:
            client.transact_write_items(TransactItems=items)
            return
        except botocore.exceptions.ClientError as error:
            codes = cancellation_codes(error)
            if attempt == COLLISION_RETRIES or "TransactionConflict" not in codes or "ConditionalCheckFailed" in codes:
                raise
        # Full jitter: 10 ms, 20 ms, 40 ms, 80 ms at most.
        time.sleep(random.uniform(0, 0.01 * 2**attempt))


def _write_one(client: DynamoDBClient, request: TransactWriteItemTypeDef) -> None:
    # Each call spelled out: the IAM policy test reads the store's DynamoDB calls from the code.
    if "Put" in request:
        client.put_item(**request["Put"])
    elif "Update" in request:
        client.update_item(**request["Update"])
    elif "Delete" in request:
        client.delete_item(**request["Delete"])


def _failed_guards(error: botocore.exceptions.ClientError, writes: Sequence[Write]) -> list[str]:
    if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
        return [writes[0].guards] if writes[0].guards else []
    # DynamoDB lists one cancellation reason per entry, in the order the entries were sent.
    reasons = zip(cancellation_codes(error), writes, strict=False)
    return [write.guards for code, write in reasons if code == "ConditionalCheckFailed" and write.guards]


def at_version(version: int) -> Condition:
    """The condition of a write over the version that was read."""
    return {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": {"N": str(version)}}}


NEW: Condition = {"ConditionExpression": "attribute_not_exists(pk)"}
"""The condition of a put that creates an item, or takes a claim that must be free."""


def claim_moves(
    attribute: str, current: tuple[str, str], updated: tuple[str, str], release: DeleteTypeDef, claim: PutTypeDef
) -> list[Write]:
    """The writes that keep a uniqueness claim with its resource across an update.

    :param current: The (comparison key, value) the claim holds now, e.g. the case-folded and the sent userName.
    :param updated: The same after the update.
    :param release: The conditional delete of the current claim; ``claim``, the put of the updated one.
    """
    if updated[0] != current[0]:
        return [Write({"Delete": release}), Write({"Put": {**claim, **NEW}}, attribute)]
    if updated[1] != current[1]:
        return [Write({"Put": claim})]  # same key, new spelling: the claim is already ours
    return []


def refusals(exists: Callable[[], bool], value: str) -> Callable[[str], StoreError]:
    """The errors of a resource's guarded write: a failed version is :class:`Conflict`, or :class:`NotFound`
    when the resource is gone (``exists`` reads it again); a failed claim is :class:`Taken` naming ``value``."""

    def refused(guard: str) -> StoreError:
        if guard == VERSION:
            return Conflict() if exists() else NotFound()
        return Taken(guard, value)

    return refused
