"""Every credential belongs to one tenant and can never reach another tenant's users."""

from tests.conftest import Scim, user_body
from tests.helpers import patch_body

PATCH = patch_body({"op": "replace", "path": "active", "value": False})


def test_another_tenant_sees_none_of_the_users(scim: Scim, other_scim: Scim) -> None:
    user = scim.post("/Users", user_body("shared@example.com", externalId="ext-1")).json

    assert other_scim.get("/Users").json["totalResults"] == 0
    assert other_scim.get('/Users?filter=userName eq "shared@example.com"').json["totalResults"] == 0
    assert other_scim.get('/Users?filter=externalId eq "ext-1"').json["totalResults"] == 0
    assert other_scim.get(f'/Users?filter=id eq "{user["id"]}"').json["totalResults"] == 0
    assert other_scim.get(f"/Users/{user['id']}").status_code == 404


def test_another_tenant_cannot_change_the_users(scim: Scim, other_scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json

    assert other_scim.put(f"/Users/{user['id']}", user_body()).status_code == 404
    assert other_scim.patch(f"/Users/{user['id']}", PATCH).status_code == 404
    assert other_scim.delete(f"/Users/{user['id']}").status_code == 404
    assert scim.get(f"/Users/{user['id']}").json == user


def test_user_names_are_unique_per_tenant_only(scim: Scim, other_scim: Scim) -> None:
    assert scim.post("/Users", user_body("same@example.com")).status_code == 201
    assert other_scim.post("/Users", user_body("same@example.com")).status_code == 201
