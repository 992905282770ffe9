"""The types of the DynamoDB edge: the client, its items, and its requests.

They come from ``mypy-boto3-dynamodb``, a development requirement: it is imported only while type checking,
so the Lambda never loads it (at run time the names below only annotate).
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        DeleteTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
        WriteRequestTypeDef,
    )
else:
    DynamoDBClient = AttributeValueTypeDef = DeleteTypeDef = PutTypeDef = Any
    TransactWriteItemTypeDef = UpdateTypeDef = WriteRequestTypeDef = Any

Item = dict[str, AttributeValueTypeDef]
"""An item, or a key, in DynamoDB's attribute-value form: ``{"pk": {"S": "tenant"}, ...}``."""


class Condition(TypedDict, total=False):
    """The condition part of a write (``{**put, **condition}``)."""

    ConditionExpression: str
    ExpressionAttributeNames: Mapping[str, str]
    ExpressionAttributeValues: Mapping[str, AttributeValueTypeDef]
    ReturnValuesOnConditionCheckFailure: Literal["ALL_OLD", "NONE"]


__all__ = [
    "AttributeValueTypeDef",
    "Condition",
    "DeleteTypeDef",
    "DynamoDBClient",
    "Item",
    "PutTypeDef",
    "TransactWriteItemTypeDef",
    "UpdateTypeDef",
    "WriteRequestTypeDef",
]
