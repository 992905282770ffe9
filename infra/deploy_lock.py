"""One release of a stage at a time: a lock item in the stage's ``scim-<stage>-deploy-lock`` table.

Why DynamoDB: the infra stack already owns the stage's tables, a conditional PutItem is atomic
(two operators cannot both see the lock free, unlike a read-then-write on SSM or S3), the item
carries its own expiry so a deploy killed halfway does not lock the stage forever, and moto
implements conditional writes, so the lock is tested offline. The expiry is checked in the
condition itself: DynamoDB's TTL only removes expired items eventually (up to days later).
Release deletes the item only if this holder still holds it, so a deploy that outlived its
expiry never frees a lock that another operator has since taken.
"""

import time
import uuid
from dataclasses import dataclass

import botocore.exceptions

from chalicelib.store.dynamodb_types import DynamoDBClient

LOCK_TABLE = "scim-{stage}-deploy-lock"
LOCK_KEY = "lock"
LOCK_TTL_ATTRIBUTE = "expires_at"
LOCK_ITEM = "release"
# A release takes a few minutes (packaging, two function updates, the API); past this the lock is stale.
LOCK_MINUTES = 30


class StageLocked(Exception):
    """Another release of the stage holds the lock."""


class NoLockTable(Exception):
    """The stage's infra stack predates the deploy lock: ``make deploy-infra`` creates it."""


@dataclass(frozen=True)
class DeployLock:
    """A held lock: release it with :meth:`release`."""

    client: DynamoDBClient
    table: str
    token: str

    def release(self) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={LOCK_KEY: {"S": LOCK_ITEM}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": self.token}},
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def acquire(client: DynamoDBClient, stage: str, holder: str, what: str, now: float | None = None) -> DeployLock:
    """Take the stage's release lock for ``holder`` (the operator) doing ``what`` (e.g. the commit).

    :raises StageLocked: When another unexpired release holds it; the message names it.
    :raises NoLockTable: When the stage has no lock table yet.
    """
    now = time.time() if now is None else now
    table = LOCK_TABLE.format(stage=stage)
    token = uuid.uuid4().hex
    item = {
        LOCK_KEY: {"S": LOCK_ITEM},
        "token": {"S": token},
        "holder": {"S": holder},
        "what": {"S": what},
        "since": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))},
        LOCK_TTL_ATTRIBUTE: {"N": str(int(now) + LOCK_MINUTES * 60)},
    }
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#key) OR #expires < :now",
            ExpressionAttributeNames={"#key": LOCK_KEY, "#expires": LOCK_TTL_ATTRIBUTE},
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )
    except botocore.exceptions.ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ResourceNotFoundException":
            raise NoLockTable(f"no table {table}: run `make deploy-infra STAGE={stage}` first") from None
        if code != "ConditionalCheckFailedException":
            raise
        held = client.get_item(TableName=table, Key={LOCK_KEY: {"S": LOCK_ITEM}}, ConsistentRead=True).get("Item", {})
        raise StageLocked(
            f"stage {stage} is being released by {held.get('holder', {}).get('S', '?')} "
            f"({held.get('what', {}).get('S', '?')}) since {held.get('since', {}).get('S', '?')}; "
            f"the lock expires {LOCK_MINUTES} minutes after it was taken"
        ) from None
    return DeployLock(client, table, token)


def holder(client: DynamoDBClient, stage: str) -> str | None:
    """Who holds the stage's lock now, or None when it is free (or expired)."""
    table = LOCK_TABLE.format(stage=stage)
    try:
        item = client.get_item(TableName=table, Key={LOCK_KEY: {"S": LOCK_ITEM}}, ConsistentRead=True).get("Item")
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    if item is None or int(item[LOCK_TTL_ATTRIBUTE]["N"]) < time.time():
        return None
    return f"{item['holder']['S']} ({item['what']['S']}) since {item['since']['S']}"
