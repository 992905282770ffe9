"""scim2-server's own contract for a storage, run against our DynamoDB storage under moto."""

from typing import Any

import pytest
from scim2_models import ScimProvider
from scim2_server.testing import ScimStorageContract

from chalicelib.config import settings
from chalicelib.provisioning.passwords import hash_password
from chalicelib.resources.storage import DynamoScimStorage
from chalicelib.scim.provider import build_provider
from chalicelib.store import connection, limits
from chalicelib.store.tables import table_definitions


class TestDynamoScimStorage(ScimStorageContract):
    @pytest.fixture
    def provider(self) -> ScimProvider:
        return build_provider(settings())

    @pytest.fixture
    def storage(self, aws: None) -> Any:
        return DynamoScimStorage(
            build_provider(settings()),
            connection.dynamodb(settings()),
            settings(),
            "contract-tenant",
            hash_password,
        )


def test_the_size_checks_know_every_key_attribute_of_the_tables() -> None:
    """chalicelib.store.limits checks keys by attribute name: a new index key must be added there too."""
    schemas = [definition["KeySchema"] for definition in table_definitions(settings()).values()]
    schemas += [
        index["KeySchema"]
        for definition in table_definitions(settings()).values()
        for index in definition.get("GlobalSecondaryIndexes", [])
    ]
    keys = [key for schema in schemas for key in schema]

    assert {key["AttributeName"] for key in keys if key["KeyType"] == "HASH"} == limits.PARTITION_KEY_ATTRIBUTES
    assert {key["AttributeName"] for key in keys if key["KeyType"] == "RANGE"} == limits.SORT_KEY_ATTRIBUTES
