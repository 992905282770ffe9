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
            settings().users_table,
            "contract-tenant",
            hash_password,
        )

    # Groups are served from the groups table once the Groups issue lands; until then the
    # storage answers 501 for them, and the contract's group cases cannot pass.
    GROUP_CASES = (
        "test_get_keeps_what_the_response_returns",
        "test_search_a_resource_type",
        "test_search_at_the_root",
        "test_search_at_the_root_on_an_attribute_some_types_lack",
    )

    @pytest.fixture(autouse=True)
    def _skip_group_cases(self, request: pytest.FixtureRequest) -> None:
        if request.node.originalname in self.GROUP_CASES:
            pytest.skip("Groups storage lands with the Groups issue")
