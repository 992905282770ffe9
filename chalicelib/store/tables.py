"""The five DynamoDB tables, defined once for the code, the tests, ``make run`` and ``infra/``.

Every key starts with the tenant, so no query can reach another tenant's items.
Key layouts are private to the store modules; this module only names the key
attributes and the indexes.
"""

from typing import Any

import botocore.exceptions

from chalicelib.config import Settings
from chalicelib.store.dynamodb_types import DynamoDBClient

USERS_BY_EXTERNAL_ID = "byExternalId"
GROUPS_BY_MEMBER = "byMember"
GROUPS_BY_MEMBER_NAME = "byMemberName"
GROUPS_BY_EXTERNAL_ID = "byExternalId"
ACTIVITY_BY_RESOURCE = "byResource"
ACTIVITY_BY_ERROR = "byError"
ACTIVITY_BY_IGNORED = "byIgnored"
# The attribute whose epoch seconds DynamoDB's TTL deletes an item after, by logical table;
# only items that carry it expire (in credentials: the hourly counts of refused attempts).
TIME_TO_LIVE = {"activity": "expires_at", "credentials": "expires_at"}
# Both images of every change: the provisioning events (chalicelib.events) are computed from them.
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def _string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _key(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _index(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": _key(hash_key, range_key),
        "Projection": {"ProjectionType": "ALL"},
    }


def table_definitions(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return the CreateTable arguments of each table, by logical name."""
    return {
        "users": {
            "TableName": settings.users_table,
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _string_attributes("pk", "sk", "external_id_key"),
            # No index by userName: the userName claims list users in that order, strongly consistent.
            "GlobalSecondaryIndexes": [_index(USERS_BY_EXTERNAL_ID, "external_id_key", "sk")],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": STREAM,
        },
        "groups": {
            "TableName": settings.groups_table,
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _string_attributes("pk", "sk", "member_key", "external_id_key", "member_name_key"),
            "GlobalSecondaryIndexes": [
                _index(GROUPS_BY_MEMBER, "member_key", "sk"),
                _index(GROUPS_BY_EXTERNAL_ID, "external_id_key", "sk"),
                # A userName's groups read beside its claim: userName eq in two round trips.
                _index(GROUPS_BY_MEMBER_NAME, "member_name_key", "sk"),
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": STREAM,
        },
        "role_mappings": {
            "TableName": settings.role_mappings_table,
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _string_attributes("pk", "sk"),
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": STREAM,
        },
        "credentials": {
            "TableName": settings.credentials_table,
            "KeySchema": _key("pk"),
            "AttributeDefinitions": _string_attributes("pk"),
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": STREAM,
        },
        "activity": {
            "TableName": settings.activity_table,
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _string_attributes("pk", "sk", "resource_key", "error_key", "ignored_key"),
            "GlobalSecondaryIndexes": [
                _index(ACTIVITY_BY_RESOURCE, "resource_key", "sk"),
                _index(ACTIVITY_BY_ERROR, "error_key", "sk"),
                _index(ACTIVITY_BY_IGNORED, "ignored_key", "sk"),
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }


def create_tables(client: DynamoDBClient, settings: Settings) -> list[str]:
    """Create every table that does not exist yet, and return the names of those created."""
    created = []
    for definition in table_definitions(settings).values():
        try:
            client.create_table(**definition)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
            continue
        created.append(definition["TableName"])
    for name in created:
        client.get_waiter("table_exists").wait(TableName=name)
    definitions = table_definitions(settings)
    for logical_name, attribute in TIME_TO_LIVE.items():
        table = definitions[logical_name]["TableName"]
        if table in created:
            client.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
            )
    return created
