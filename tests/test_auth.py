"""HTTP Basic auth on every SCIM route: who gets in, who gets 401, and how credentials are kept."""

import base64
import uuid
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.auth.credentials import (
    CAN_PROVISION_USERS_AS_SCIM,
    REQUIRED_TO_GENERATE,
    CredentialError,
    create_service_account,
    generate_credential,
    parse_authorization,
    revoke_credential,
)
from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.credentials import CredentialStore, ServiceAccount
from tests.conftest import Scim, Tenant, user_body
from tests.helpers import CORE_USER, ERROR


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.body
    assert response.headers["WWW-Authenticate"] == 'Basic realm="SCIM", Bearer realm="SCIM"'
    assert response.headers["Content-Type"] == "application/scim+json"
    assert response.json["schemas"] == [ERROR]
    assert response.json["status"] == "401"
    assert response.json["detail"]


SCIM_ROUTES = [
    ("GET", "/Users"),
    ("POST", "/Users"),
    ("POST", "/Users/.search"),
    ("GET", "/Users/some-id"),
    ("PUT", "/Users/some-id"),
    ("PATCH", "/Users/some-id"),
    ("DELETE", "/Users/some-id"),
    ("GET", "/ResourceTypes"),
    ("GET", "/ResourceTypes/User"),
    ("GET", "/Schemas"),
    ("GET", f"/Schemas/{CORE_USER}"),
]


@pytest.mark.parametrize(("method", "path"), SCIM_ROUTES)
def test_every_scim_route_without_credentials_is_401(anonymous: Scim, method: str, path: str) -> None:
    assert_401(anonymous.request(method, path, user_body()))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":only-secret").decode(),
        "Bearer something",
        "Bearer ",
        "Bearer .secret-only",
        "Bearer client-only.",
        "Digest username=x",
        "Basic " + "A" * 5000,
        "Basic \x80",  # not ASCII: base64 raised ValueError in the authorizer (found by tests/test_fuzz.py)
        "BASIC \u00e9t\u00e9",
    ],
)
def test_malformed_credentials_are_401(chalice_client: Client, tenant: Tenant, authorization: str) -> None:
    assert_401(Scim(chalice_client, authorization).get("/Users"))


def test_wrong_secret_is_401(chalice_client: Client, tenant: Tenant) -> None:
    assert_401(Scim(chalice_client, basic(tenant.client_id, tenant.client_secret + "x")).get("/Users"))


def test_unknown_client_id_is_401(chalice_client: Client, tenant: Tenant) -> None:
    assert_401(Scim(chalice_client, basic("scim-000000000000000000000000", tenant.client_secret)).get("/Users"))


def test_valid_credentials_are_accepted(scim: Scim) -> None:
    assert scim.get("/Users").status_code == 200


def bearer(tenant: Tenant) -> str:
    return f"Bearer {tenant.client_id}.{tenant.client_secret}"


def test_the_same_credential_is_accepted_as_a_bearer_token(chalice_client: Client, tenant: Tenant) -> None:
    """Entra ID, JumpCloud, OneLogin and Google only offer a bearer token."""
    as_bearer = Scim(chalice_client, bearer(tenant))

    created = as_bearer.post("/Users", user_body())

    assert created.status_code == 201
    assert Scim(chalice_client, tenant.authorization).get(f"/Users/{created.json['id']}").status_code == 200


def test_bearer_token_with_a_wrong_secret_is_401(chalice_client: Client, tenant: Tenant) -> None:
    assert_401(Scim(chalice_client, f"Bearer {tenant.client_id}.{tenant.client_secret}x").get("/Users"))


def test_revoked_credential_is_401_as_a_bearer_token_too(
    chalice_client: Client, tenant: Tenant, credential_store: CredentialStore
) -> None:
    revoke_credential(credential_store, tenant.client_id)

    assert_401(Scim(chalice_client, bearer(tenant)).get("/Users"))


def test_bearer_token_of_another_tenant_sees_only_that_tenant(
    chalice_client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    Scim(chalice_client, bearer(tenant)).post("/Users", user_body())

    assert Scim(chalice_client, bearer(other_tenant)).get("/Users").json["totalResults"] == 0


def test_revoked_credential_is_401(chalice_client: Client, tenant: Tenant, credential_store: CredentialStore) -> None:
    revoke_credential(credential_store, tenant.client_id)

    assert_401(Scim(chalice_client, tenant.authorization).get("/Users"))


@pytest.mark.parametrize("presentation", ["basic", "bearer"])
def test_service_account_without_provisioning_permission_is_refused(
    chalice_client: Client, tenant: Tenant, credential_store: CredentialStore, presentation: str
) -> None:
    account = credential_store.get_service_account(tenant.name)
    assert account is not None
    weakened = ServiceAccount(
        account.tenant, account.account_id, account.name, account.permissions - {CAN_PROVISION_USERS_AS_SCIM}
    )
    credential_store.put_service_account(weakened)

    authorization = tenant.authorization if presentation == "basic" else bearer(tenant)
    assert_401(Scim(chalice_client, authorization).post("/Users", user_body()))
    assert_401(Scim(chalice_client, authorization).get("/Users"))


def test_a_credential_of_a_replaced_service_account_is_refused(
    chalice_client: Client, tenant: Tenant, credential_store: CredentialStore
) -> None:
    """The credential names the account it was issued to; a new account of the tenant does not inherit it."""
    credential_store.put_service_account(
        ServiceAccount(tenant=tenant.name, account_id=str(uuid.uuid4()), name="SCIM", permissions=REQUIRED_TO_GENERATE)
    )

    assert_401(Scim(chalice_client, tenant.authorization).get("/Users"))


def test_service_provider_config_needs_no_credentials(anonymous: Scim) -> None:
    response = anonymous.get("/ServiceProviderConfig")

    assert response.status_code == 200
    schemes = [(scheme["type"], scheme.get("primary")) for scheme in response.json["authenticationSchemes"]]
    assert schemes == [("httpbasic", True), ("oauthbearertoken", False)]


def test_a_second_credential_while_one_is_active_is_refused(tenant: Tenant, credential_store: CredentialStore) -> None:
    with pytest.raises(CredentialError, match="already has an active credential"):
        generate_credential(credential_store, settings().credential_hash_key, tenant.name, "second")


def test_after_revoking_a_new_credential_can_be_generated(tenant: Tenant, credential_store: CredentialStore) -> None:
    revoke_credential(credential_store, tenant.client_id)

    issued = generate_credential(credential_store, settings().credential_hash_key, tenant.name, "rotated")

    assert issued.client_id != tenant.client_id
    assert credential_store.active_client_id(tenant.name) == issued.client_id


def test_revoking_twice_is_refused(tenant: Tenant, credential_store: CredentialStore) -> None:
    revoke_credential(credential_store, tenant.client_id)
    with pytest.raises(CredentialError, match="already revoked"):
        revoke_credential(credential_store, tenant.client_id)


@pytest.mark.parametrize("missing", sorted(REQUIRED_TO_GENERATE))
def test_generation_needs_all_three_permissions(credential_store: CredentialStore, missing: str) -> None:
    create_service_account(credential_store, "initech", permissions=REQUIRED_TO_GENERATE - {missing})

    with pytest.raises(CredentialError, match=missing):
        generate_credential(credential_store, settings().credential_hash_key, "initech", "x")


def test_generation_needs_a_service_account(credential_store: CredentialStore) -> None:
    with pytest.raises(CredentialError, match="no SCIM service account"):
        generate_credential(credential_store, settings().credential_hash_key, "nobody", "x")


def test_the_secret_is_256_bits_and_stored_only_as_a_keyed_hash(tenant: Tenant) -> None:
    assert len(base64.urlsafe_b64decode(tenant.client_secret + "=")) == 32
    items = connection.dynamodb(settings()).scan(TableName=settings().credentials_table)["Items"]
    assert tenant.client_secret not in str(items)
    (credential,) = [item for item in items if item["pk"]["S"] == f"client#{tenant.client_id}"]
    assert len(credential["secret_hash"]["S"]) == 64


def test_parse_authorization_reads_basic() -> None:
    assert parse_authorization(basic("id", "se:cret")) == ("id", "se:cret")
    assert parse_authorization("basic " + base64.b64encode(b"id:s").decode()) == ("id", "s")
    assert parse_authorization("Bearer scim-abc.s3cr-et_") == ("scim-abc", "s3cr-et_")
    assert parse_authorization(None) is None
    assert parse_authorization("Basic \u00e9t\u00e9") is None
