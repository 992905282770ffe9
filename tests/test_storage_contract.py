"""scim2-server's own contract for a storage, run against our DynamoDB storage under moto."""

from typing import Any

import pytest
from scim2_models import ScimProvider
from scim2_server.testing import ScimStorageContract

from chalicelib.config import settings
from chalicelib.provisioning.passwords import hash_password
from chalicelib.scim.provider import build_provider
from chalicelib.store import connection
from chalicelib.store.storage import DynamoScimStorage


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
