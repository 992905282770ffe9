"""Counting a tenant's items of one kind without reading them (``admin status``)."""

from typing import Any


def count_items(client: Any, table: str, pk: str, prefix: str, **options: Any) -> int:
    """How many items of partition ``pk`` have a sort key starting with ``prefix``: ``Select=COUNT`` pages."""
    values = {":pk": {"S": pk}, ":prefix": {"S": prefix}, **options.pop("ExpressionAttributeValues", {})}
    total = 0
    for page in client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=values,
        Select="COUNT",
        **options,
    ):
        total += page["Count"]
    return total
