"""Rehires: a user deleted through SCIM is revived by a create of its userName; a deactivated one is not."""

from typing import Any

from chalicelib.config import settings
from chalicelib.provisioning.passwords import verify_password
from chalicelib.store import connection
from chalicelib.store.users import UserTable
from tests.conftest import Scim, user_body
from tests.helpers import CORE_GROUP, ENTERPRISE_USER, patch_body
from tests.test_management_api import Admin

PASSWORD = "Correct-Horse-42"


def active(value: bool) -> dict[str, Any]:
    return patch_body({"op": "replace", "value": {"active": value}})


def stored(user_id: str) -> Any:
    return UserTable(connection.dynamodb(settings()), settings().users_table, "acme").get(user_id)


def test_delete_then_create_the_same_user_name_revives_the_user(scim: Scim, chalice_client: Any) -> None:
    # Given Ada, with a title, an externalId, a password and a group, deleted through SCIM
    first = scim.post(
        "/Users",
        user_body(
            "ada@example.com", externalId="old-ext", title="Engineer", password=PASSWORD, **{ENTERPRISE_USER: {}}
        ),
    ).json
    group = scim.post(
        "/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": first["id"]}]}
    )
    group_version = group.json["meta"]["version"]
    assert scim.delete(f"/Users/{first['id']}").status_code == 204
    # When the IdP creates her again (the canonical form of her userName), with a new externalId and no password
    again = scim.post("/Users", user_body("ADA@example.com", externalId="new-ext"))
    # Then she is back: 201, the same id, active, the request's attributes only, in no group
    assert again.status_code == 201, again.json
    assert again.headers["Location"].endswith(f"/Users/{first['id']}")
    revived = again.json
    assert (revived["id"], revived["active"], revived["userName"], revived["externalId"]) == (
        first["id"],
        True,
        "ADA@example.com",
        "new-ext",
    )
    assert "title" not in revived and revived["meta"]["created"] == first["meta"]["created"]
    assert scim.get(f"/Users/{first['id']}").json.get("groups", []) == []
    members = scim.get(f"/Groups/{group.json['id']}").json
    assert members.get("members", []) == [] and members["meta"]["version"] != group_version
    # The old password is gone: a rehire signs in with SSO or the password its IdP sends
    record = stored(first["id"])
    assert record.password_hash is None and record.deleted is None
    # And the trail says "revived", with what changed
    entries = Admin(chalice_client).get("/tenants/acme/activity?user=ada@example.com&limit=1").json["entries"]
    assert entries[0]["operation"] == "revived" and entries[0]["status"] == 201
    paths = {change["path"]: change for change in entries[0]["changes"]}
    assert paths["externalId"]["old"] == "old-ext" and paths["externalId"]["new"] == "new-ext"
    assert paths["active"] == {"path": "active", "old": False, "new": True}


def test_a_revived_user_takes_the_password_the_request_sends(scim: Scim) -> None:
    user_id = scim.post("/Users", user_body("ada@example.com", password=PASSWORD)).json["id"]
    scim.delete(f"/Users/{user_id}")
    assert scim.post("/Users", user_body("ada@example.com", password="Other-Horse-43")).status_code == 201
    assert verify_password(stored(user_id).password_hash, "Other-Horse-43")
    assert not verify_password(stored(user_id).password_hash, PASSWORD)


def test_a_user_deactivated_with_active_false_still_answers_409(scim: Scim) -> None:
    user_id = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.patch(f"/Users/{user_id}", active(False))
    refused = scim.post("/Users", user_body("ada@example.com"))
    assert (refused.status_code, refused.json["scimType"]) == (409, "uniqueness")
    assert scim.get(f"/Users/{user_id}").json["active"] is False


def test_a_live_user_still_answers_409(scim: Scim) -> None:
    scim.post("/Users", user_body("ada@example.com"))
    assert scim.post("/Users", user_body("ada@example.com")).status_code == 409


def test_entra_restore_flows_end_with_an_active_user(scim: Scim) -> None:
    """Entra ID: a soft delete is PATCH active false, its restore PATCH active true; after a hard delete (DELETE)
    a user assigned again is matched by ``userName eq`` and updated (or created, when the match finds none)."""
    user_id = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.patch(f"/Users/{user_id}", active(False))
    assert scim.patch(f"/Users/{user_id}", active(True)).json["active"] is True
    # Hard delete, then assigned again: the match finds the user, Entra enables it
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    found = scim.get('/Users?filter=userName eq "ada@example.com"').json["Resources"]
    assert [(user["id"], user["active"]) for user in found] == [(user_id, False)]
    assert scim.patch(f"/Users/{user_id}", active(True)).json["active"] is True
    assert stored(user_id).deleted is None  # restored: deactivating it again is no deletion
    scim.patch(f"/Users/{user_id}", active(False))
    assert scim.post("/Users", user_body("ada@example.com")).status_code == 409


def test_authentik_recreate_after_delete_ends_with_an_active_user(scim: Scim) -> None:
    """authentik's provider deletes a user it no longer syncs, and creates it again when it comes back."""
    user_id = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.delete(f"/Users/{user_id}")
    scim.delete(f"/Users/{user_id}")  # a repeated DELETE keeps the deletion as it was
    created = scim.post("/Users", user_body("ada@example.com", emails=[{"value": "ada@example.com", "type": "other"}]))
    assert (created.status_code, created.json["id"], created.json["active"]) == (201, user_id, True)
    assert scim.get(f"/Users/{user_id}").json["active"] is True


def test_sign_in_of_a_deleted_user_is_refused_as_deleted(scim: Scim, chalice_client: Any) -> None:
    user_id = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.delete(f"/Users/{user_id}")
    answer = Admin(chalice_client).post("/tenants/acme/sign-in", {"userName": "ada@example.com"}).json
    assert (answer["allowed"], answer["reason"], answer["userId"]) == (False, "deleted", user_id)


def test_a_revival_another_create_won_answers_409(scim: Scim, monkeypatch: Any) -> None:
    from chalicelib.store.errors import Conflict

    user_id = scim.post("/Users", user_body("ada@example.com")).json["id"]
    scim.delete(f"/Users/{user_id}")

    def lost_the_race(self: UserTable, current: Any, updated: Any) -> None:
        raise Conflict("the user changed since it was read")

    monkeypatch.setattr(UserTable, "replace", lost_the_race)
    refused = scim.post("/Users", user_body("ada@example.com"))
    assert (refused.status_code, refused.json["scimType"]) == (409, "uniqueness")
