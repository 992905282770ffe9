"""Okta's documented SCIM 2.0 provisioning conversation, replayed request by request (tests/fixtures/idp/okta/)."""

from chalice.test import Client

from tests.conftest import Tenant
from tests.replay import replay


def test_okta_provisioning_conversation_replays(chalice_client: Client, tenant: Tenant) -> None:
    replayer = replay(chalice_client, tenant, "okta")

    assert {"user_id", "second_id", "third_id", "group_id"} <= set(replayer.context)
