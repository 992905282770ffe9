"""OneLogin's SCIM provisioner, core and enterprise templates, replayed in order (tests/fixtures/idp/onelogin/)."""

from chalice.test import Client

from tests.conftest import Scim, Tenant
from tests.replay import replay

LEGACY_CORE = "urn:scim:schemas:core:1.0"


def test_onelogin_provisioning_conversation_replays(chalice_client: Client, tenant: Tenant) -> None:
    replayer = replay(chalice_client, tenant, "onelogin")

    assert {"user_id", "manager_id", "group_id"} <= set(replayer.context)


def test_a_template_put_without_active_keeps_a_deactivated_user_deactivated(scim: Scim) -> None:
    template = {"schemas": [LEGACY_CORE], "userName": "jane.doe@example.com", "name": {"givenName": "Jane"}}
    user = scim.post("/Users", template).json
    assert user["active"] is True
    assert scim.delete(f"/Users/{user['id']}").status_code == 204

    response = scim.put(f"/Users/{user['id']}", {**template, "name": {"givenName": "Janet"}})

    assert response.status_code == 200
    assert response.json["name"] == {"givenName": "Janet"}
    assert response.json["active"] is False
