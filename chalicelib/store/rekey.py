"""Filing uniqueness claims under a new comparison form: the migration of a stage to canonical names.

A user item keeps the key its userName claim is filed under (``user_name_key``), a group item
the key of its displayName claim (``display_name_key``); the claim items are ``userName#<key>``
and ``displayName#<key>`` (:mod:`.users`, :mod:`.groups`). When the comparison form changes,
:func:`rekey` files each resource's claim under its new key, one transaction per resource: put
the new claim if nobody holds it, delete the old one if it is still the resource's, and set the
item's key if it is still the old one. A run that stops half-way leaves every resource wholly
old or wholly new, and running again does only what is left: the command is idempotent.

What cannot move is reported and left as it is: a name the new form refuses keeps its old key
(it stays readable by id, and in listings, until the IdP renames it; a filter on a refused
name matches nothing), and two
resources whose names become one keep theirs until one of them is renamed.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import botocore.exceptions

from chalicelib.store.dynamodb_types import AttributeValueTypeDef, DynamoDBClient, Item
from chalicelib.store.errors import cancellation_codes
from chalicelib.store.groups import DISPLAY_NAME_PREFIX, GROUP_PREFIX
from chalicelib.store.limits import sort_key_fits
from chalicelib.store.users import USER_NAME_PREFIX, USER_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryOutputTypeDef, ScanOutputTypeDef

PROJECTION = "pk, id, #name, #key"


@dataclass(frozen=True)
class ClaimedName:
    """Where one kind of unique name lives in its table."""

    attribute: str
    item_prefix: str
    claim_prefix: str
    owner: str
    name: str
    key: str


USER_NAMES = ClaimedName("userName", USER_PREFIX, USER_NAME_PREFIX, "user_id", "user_name", "user_name_key")
DISPLAY_NAMES = ClaimedName(
    "displayName", GROUP_PREFIX, DISPLAY_NAME_PREFIX, "group_id", "display_name", "display_name_key"
)


@dataclass
class RekeyReport:
    """What a run found: how many names it checked, and each one it moved, kept or could not move."""

    checked: int = 0
    moved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def rekey(
    client: DynamoDBClient,
    table: str,
    kind: ClaimedName,
    new_key: Callable[[str], str],
    *,
    tenant: str | None = None,
    dry_run: bool = False,
) -> RekeyReport:
    """File every claim of ``kind`` in ``table`` (one tenant's, or the whole stage's) under ``new_key``.

    :param new_key: The new comparison form; a ValueError says the name is refused by it.
    :param dry_run: Report what would move, write nothing.
    """
    report = RekeyReport()
    for item in _resources(client, table, kind, tenant):
        report.checked += 1
        owner, name, old = item["id"]["S"], item[kind.name]["S"], item[kind.key]["S"]
        where = f"{item['pk']['S']}: {kind.attribute} {name!r} ({owner})"
        try:
            key = new_key(name)
        except ValueError as why:
            report.refused.append(f"{where} keeps its old key: {why}")
            continue
        if key == old:
            continue
        if not sort_key_fits(kind.claim_prefix + key):
            report.refused.append(f"{where} keeps its old key: its new key is too long for DynamoDB")
            continue
        conflict = (
            _held_by_another(client, table, kind, item, key) if dry_run else _move(client, table, kind, item, key)
        )
        if conflict:
            report.conflicts.append(f"{where}: {conflict}")
            continue
        report.moved.append(f"{where}: {old!r} -> {key!r}")
    return report


def _resources(client: DynamoDBClient, table: str, kind: ClaimedName, tenant: str | None) -> Iterator[Item]:
    names = {"#name": kind.name, "#key": kind.key}
    if tenant is None:
        pages: Iterable[ScanOutputTypeDef | QueryOutputTypeDef] = client.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="begins_with(sk, :p)",
            ExpressionAttributeValues={":p": {"S": kind.item_prefix}},
            ProjectionExpression=PROJECTION,
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        )
    else:
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :t AND begins_with(sk, :p)",
            ExpressionAttributeValues={":t": {"S": tenant}, ":p": {"S": kind.item_prefix}},
            ProjectionExpression=PROJECTION,
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        )
    for page in pages:
        yield from page.get("Items", [])


def _move(client: DynamoDBClient, table: str, kind: ClaimedName, item: Item, key: str) -> str | None:
    """Move one resource's claim in one transaction; None when it moved, else why not."""
    tenant, owner, old = item["pk"], item["id"], item[kind.key]
    mine = {":id": owner}
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "pk": tenant,
                            "sk": {"S": kind.claim_prefix + key},
                            kind.owner: owner,
                            kind.name: item[kind.name],
                        },
                        "ConditionExpression": f"attribute_not_exists(pk) OR {kind.owner} = :id",
                        "ExpressionAttributeValues": mine,
                    }
                },
                {
                    "Delete": {
                        "TableName": table,
                        "Key": {"pk": tenant, "sk": {"S": kind.claim_prefix + old["S"]}},
                        "ConditionExpression": f"attribute_not_exists(pk) OR {kind.owner} = :id",
                        "ExpressionAttributeValues": mine,
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": tenant, "sk": {"S": kind.item_prefix + owner["S"]}},
                        "UpdateExpression": "SET #key = :new",
                        "ConditionExpression": "#key = :old",
                        "ExpressionAttributeNames": {"#key": kind.key},
                        "ExpressionAttributeValues": {":new": {"S": key}, ":old": old},
                    }
                },
            ]
        )
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = cancellation_codes(error)
        if codes and codes[0] == "ConditionalCheckFailed":
            return _conflict(key, _holder(client, table, tenant, kind.claim_prefix + key, kind))
        return "it changed during the run; run again"
    return None


def _held_by_another(client: DynamoDBClient, table: str, kind: ClaimedName, item: Item, key: str) -> str | None:
    claim = client.get_item(
        TableName=table, Key={"pk": item["pk"], "sk": {"S": kind.claim_prefix + key}}, ConsistentRead=True
    ).get("Item")
    if claim is None or claim[kind.owner] == item["id"]:
        return None
    return _conflict(key, f"{kind.attribute} {claim[kind.name]['S']!r} ({claim[kind.owner]['S']})")


def _conflict(key: str, holder: str) -> str:
    return (
        f"its new key {key!r} is held by {holder}: the two names are one in the canonical form; "
        "rename one in the IdP, then run again"
    )


def _holder(client: DynamoDBClient, table: str, tenant: AttributeValueTypeDef, sk: str, kind: ClaimedName) -> str:
    claim = client.get_item(TableName=table, Key={"pk": tenant, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
    if not claim:
        return "another resource"
    return f"{kind.attribute} {claim[kind.name]['S']!r} ({claim[kind.owner]['S']})"
