"""JumpCloud's custom SCIM integration: connection test, then provisioning (tests/fixtures/idp/jumpcloud/)."""

from chalice.test import Client

from tests.conftest import Tenant
from tests.replay import replay


def test_jumpcloud_provisioning_conversation_replays(chalice_client: Client, tenant: Tenant) -> None:
    replayer = replay(chalice_client, tenant, "jumpcloud")

    assert {"test_user_id", "test_group_id", "user_id", "group_id"} <= set(replayer.context)
