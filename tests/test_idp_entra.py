"""Microsoft Entra ID's documented provisioning conversation, replayed in order (tests/fixtures/idp/entra/)."""

from chalice.test import Client

from tests.conftest import Tenant
from tests.replay import replay


def test_entra_id_provisioning_conversation_replays(chalice_client: Client, tenant: Tenant) -> None:
    replayer = replay(chalice_client, tenant, "entra")

    assert {"user_id", "manager_id", "nomail_id", "group_id"} <= set(replayer.context)
