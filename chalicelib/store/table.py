"""What every table of tenant items shares: keys that start with the tenant, key reads, and the one query loop."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chalicelib.store.dynamodb_types import DynamoDBClient, Item
from chalicelib.store.limits import key_fits

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryOutputTypeDef


def pages(client: DynamoDBClient, **arguments: Any) -> Iterator["QueryOutputTypeDef"]:
    """Every page of a query, one call each, following ``LastEvaluatedKey``: the store's one paginator loop.

    A consumer that stops early stops the calls: the next page is only read when it is asked for.
    (botocore's paginator does the same at about 0.1 ms more a query, building itself every time.)
    """
    while True:
        page = client.query(**arguments)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        arguments = {**arguments, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def items(client: DynamoDBClient, **arguments: Any) -> Iterator[Item]:
    """The items of every page of a query, in key order (or reversed, with ``ScanIndexForward=False``)."""
    for page in pages(client, **arguments):
        yield from page.get("Items", [])


class TenantTable:
    """One tenant's part of a table: every key it builds starts with that tenant."""

    def __init__(self, client: DynamoDBClient, table_name: str, tenant: str) -> None:
        self.client = client
        self.table = table_name
        self.tenant = tenant

    def key(self, sk: str) -> Item:
        return {"pk": {"S": self.tenant}, "sk": {"S": sk}}

    def get_item(self, sk: str) -> Item | None:
        """One strongly consistent key read; None, without a call, for a key no item can have."""
        if not key_fits(self.key(sk)):
            return None
        response = self.client.get_item(TableName=self.table, Key=self.key(sk), ConsistentRead=True)
        return response.get("Item")

    def query(self, **arguments: Any) -> Iterator[Item]:
        return items(self.client, TableName=self.table, **arguments)

    def starting_with(self, prefix: str) -> Iterator[Item]:
        """The tenant's items whose sort key starts with ``prefix`` (all of them for ``""``), strongly
        consistent: a query of the tenant's partition, never a scan."""
        return self.query(**self._prefix_query(prefix), ConsistentRead=True)

    def count_starting_with(self, prefix: str, **options: Any) -> int:
        """How many of the tenant's items have a sort key starting with ``prefix``: counting pages, no item
        returned. ``options`` may add a ``FilterExpression`` with its ``ExpressionAttributeValues``."""
        arguments = self._prefix_query(prefix)
        arguments["ExpressionAttributeValues"].update(options.pop("ExpressionAttributeValues", {}))
        counted = pages(self.client, TableName=self.table, Select="COUNT", **arguments, **options)
        return sum(page["Count"] for page in counted)

    def _prefix_query(self, prefix: str) -> dict[str, Any]:
        values = {":t": {"S": self.tenant}}
        if not prefix:
            return {"KeyConditionExpression": "pk = :t", "ExpressionAttributeValues": values}
        return {
            "KeyConditionExpression": "pk = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {**values, ":p": {"S": prefix}},
        }
