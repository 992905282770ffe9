"""A deployed stage reads its two secrets from Secrets Manager at run time, and fails closed without them.

These requests run the real ``dev`` stage of ``.chalice/config.json`` (its environment names the
secrets, as on AWS) through the authorizer and the routes, under moto.
"""

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import stage_secrets
from chalicelib.auth.credentials import create_service_account, generate_credential
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET, SecretSource, SecretUnavailable
from chalicelib.store import connection
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.tables import create_tables
from devserver.gateway import emulate_gateway_responses
from infra.templates import settings_for
from tests.conftest import PROJECT_DIR, SCIM
from tests.helpers import CORE_USER, ERROR

DEV_STAGE = {"TABLE_PREFIX": "scim-dev", "SECRETS_PREFIX": "scim-dev", "AWS_DEFAULT_REGION": "us-east-1"}
HASH_KEY_ID = "scim-dev/credential-hash-key"
CURSOR_SECRET_ID = "scim-dev/cursor-secret"


class DeployedStage:
    """The dev stage's tables under moto, a tenant whose credential was issued under the stage's key, the app."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.calls: list[str] = []
        config = settings_for(DEV_STAGE)
        self.store = CredentialStore(connection.dynamodb(config), config.credentials_table)
        create_service_account(self.store, "acme")
        self.key = "the-stage-key-" + "k" * 40
        # Issued as the admin CLI does for the stage: under the key its authorizer will read.
        issued = generate_credential(self.store, self.key.encode(), "acme", "tests")
        self.client_id, self.client_secret = issued.client_id, issued.client_secret

    def create_secret(self, secret_id: str, value: str) -> None:
        self.secrets.create_secret(Name=secret_id, SecretString=value)

    def request(self, path: str, authorization: str | None, method: str = "GET", body: bytes = b"") -> Any:
        headers = {"Content-Type": SCIM, "Accept": SCIM}
        if authorization is not None:
            headers["Authorization"] = authorization
        return self.client.http.request(method, "/scim/v2" + path, headers=headers, body=body)

    def create_user(self, user_name: str) -> Any:
        body = json.dumps({"schemas": [CORE_USER], "userName": user_name}).encode()
        return self.request("/Users", self.valid, "POST", body)

    @property
    def valid(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()

    @property
    def wrong(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:wrong".encode()).decode()


@pytest.fixture
def stage() -> Iterator[DeployedStage]:
    with mock_aws():
        connection.reset()
        stage_secrets.reset()
        create_tables(connection.dynamodb(settings_for(DEV_STAGE)), settings_for(DEV_STAGE))
        emulate_gateway_responses()
        from app import app

        with Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client:
            yield DeployedStage(client)
    connection.reset()
    stage_secrets.reset()


def assert_503(response: Any) -> None:
    assert response.status_code == 503, response.body
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers
    assert response.json_body["schemas"] == [ERROR]
    assert response.json_body["status"] == "503"


@pytest.mark.parametrize("presented", ["valid", "wrong", "malformed"])
def test_without_its_secrets_a_deployed_stage_answers_every_credential_503_never_401(
    stage: DeployedStage, presented: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the dev stage's configuration (dev secrets switched on in this process too) and no secret in Secrets Manager
    authorization = {"valid": stage.valid, "wrong": stage.wrong, "malformed": "Basic !!!"}[presented]
    # When an IdP calls, with any credential, on any route
    with caplog.at_level(logging.ERROR):
        responses = [stage.request(path, authorization) for path in ("/Users", "/Groups", "/Schemas")]
    # Then every answer is 503 with Retry-After: never a 401 that blames the IdP, never served with a default key
    for response in responses:
        assert_503(response)
    assert HASH_KEY_ID in caplog.text


def test_without_the_cursor_secret_only_a_request_paging_with_a_cursor_is_503(
    stage: DeployedStage, caplog: pytest.LogCaptureFixture
) -> None:
    stage.create_secret(HASH_KEY_ID, stage.key)
    for name in ("ada@example.com", "grace@example.com"):
        assert stage.create_user(name).status_code == 201
    # The secret is read when a cursor is first sealed or opened, not before any request is served
    with caplog.at_level(logging.ERROR):
        served = [stage.request("/ServiceProviderConfig", None), stage.request("/Users", stage.valid)]
        paged = [
            stage.request("/Users?count=1&cursor=", stage.valid),
            stage.request("/Users?count=1&cursor=", stage.valid),
        ]
    assert [response.status_code for response in served] == [200, 200]
    assert served[1].json_body["totalResults"] == 2
    for response in paged:  # fail closed, and read again on the next request
        assert_503(response)
    assert CURSOR_SECRET_ID in caplog.text
    assert stage.key not in caplog.text
    # Once the secret exists, the same request pages
    stage.create_secret(CURSOR_SECRET_ID, "the-cursor-secret")
    first = stage.request("/Users?count=1&cursor=", stage.valid)
    assert first.status_code == 200, first.body
    second = stage.request(f"/Users?count=1&cursor={first.json_body['nextCursor']}", stage.valid)
    assert second.status_code == 200 and second.json_body["Resources"] != first.json_body["Resources"]


def test_once_the_secrets_exist_the_stage_serves_and_refuses_with_them_read_once(stage: DeployedStage) -> None:
    # Given a stage that answered 503 while its secrets were missing
    assert_503(stage.request("/Users", stage.valid))
    # When the secrets are created (make deploy-infra), with no redeploy
    stage.create_secret(HASH_KEY_ID, stage.key)
    stage.create_secret(CURSOR_SECRET_ID, "the-cursor-secret")
    reads: list[str] = []
    stage_secrets._client("us-east-1").meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue", lambda params, **_: reads.append(params["SecretId"])
    )
    assert [stage.create_user(name).status_code for name in ("ada@example.com", "grace@example.com")] == [201, 201]
    paged = "/Users?count=1&cursor="
    answers = [stage.request(paged, stage.valid) for _ in range(3)] + [stage.request("/Users", stage.wrong)]
    # Then the credential issued under the stage's key is served, a wrong one is refused by our code,
    assert [answer.status_code for answer in answers] == [200, 200, 200, 401]
    assert answers[-1].headers["WWW-Authenticate"] == 'Basic realm="SCIM", Bearer realm="SCIM"'
    # and each secret was read once for the container
    assert sorted(reads) == [HASH_KEY_ID, CURSOR_SECRET_ID]


def test_a_credential_issued_under_the_dev_key_is_refused_by_a_deployed_stage(stage: DeployedStage) -> None:
    # Given a credential hashed under the dev-only default key (an admin CLI pointed at make run's store)
    create_service_account(stage.store, "initech")
    dev_key = stage_secrets.DEV_DEFAULTS[CREDENTIAL_HASH_KEY].encode()
    issued = generate_credential(stage.store, dev_key, "initech", "tests")
    stage.create_secret(HASH_KEY_ID, stage.key)
    stage.create_secret(CURSOR_SECRET_ID, "the-cursor-secret")
    # When it is presented to the deployed stage
    response = stage.request(
        "/Users", "Basic " + base64.b64encode(f"{issued.client_id}:{issued.client_secret}".encode()).decode()
    )
    # Then the stage verifies with its own key only
    assert response.status_code == 401
    assert stage.request("/Users", stage.valid).status_code == 200


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"SECRETS_PREFIX": "scim-dev", "SCIM_DEV_SECRETS": "true"}, "read"),
        ({"SCIM_DEV_SECRETS": "true"}, "dev"),
        ({"SCIM_DEV_SECRETS": "true", "AWS_LAMBDA_FUNCTION_NAME": "onemodel-scim-local"}, "unavailable"),
        ({"SCIM_DEV_SECRETS": "1"}, "unavailable"),
        ({}, "unavailable"),
    ],
)
def test_dev_defaults_only_when_switched_on_outside_a_lambda_and_no_stage_secrets_named(
    environment: dict[str, str], expected: str
) -> None:
    with mock_aws():
        stage_secrets.reset()
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=HASH_KEY_ID, SecretString="from-secrets-manager"
        )
        source = settings_for({"AWS_DEFAULT_REGION": "us-east-1", **environment}).secrets
        if expected == "unavailable":
            with pytest.raises(SecretUnavailable):
                source.read(CREDENTIAL_HASH_KEY)
        else:
            value = source.read(CREDENTIAL_HASH_KEY)
            assert value == ("from-secrets-manager" if expected == "read" else "dev-only-credential-hash-key")
    stage_secrets.reset()


def test_a_failed_read_is_not_kept() -> None:
    with mock_aws():
        stage_secrets.reset()
        source = SecretSource(prefix="scim-dev", dev_defaults=False, region="us-east-1")
        with pytest.raises(SecretUnavailable, match="scim-dev/cursor-secret"):
            source.read(CURSOR_SECRET)
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=CURSOR_SECRET_ID, SecretString="now-there"
        )
        assert source.read(CURSOR_SECRET) == "now-there"
    stage_secrets.reset()
