"""SailPoint's SCIM 2.0 connector: discovery, PUT-based updates, replayed in order (tests/fixtures/idp/sailpoint/)."""

from chalice.test import Client

from tests.conftest import Tenant
from tests.replay import replay


def test_sailpoint_provisioning_conversation_replays(chalice_client: Client, tenant: Tenant) -> None:
    replayer = replay(chalice_client, tenant, "sailpoint")

    assert {"user_id", "second_id", "group_id"} <= set(replayer.context)
