"""Shared fixtures: moto's DynamoDB, our tables, tenants with credentials, and a Chalice test client."""

import base64
import itertools
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import botocore.exceptions
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.core.base_backend import BackendDict, backend_lock

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_ENV = {
    "TABLE_PREFIX": "scim-test",
    "SCIM_DEV_SECRETS": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
os.environ.update(TEST_ENV)
os.environ.pop("DYNAMODB_ENDPOINT_URL", None)

from chalicelib.auth.credentials import create_service_account, generate_credential  # noqa: E402
from chalicelib.config import settings  # noqa: E402
from chalicelib.resources import group_names  # noqa: E402
from chalicelib.schemas import CORE_USER_SCHEMA  # noqa: E402
from chalicelib.store import connection, limits  # noqa: E402
from chalicelib.store.credentials import CredentialStore  # noqa: E402
from chalicelib.store.tables import create_tables  # noqa: E402
from chalicelib.store.users import UserRecord, UserTable  # noqa: E402
from devserver.embedded_dynamodb import transactions_with_undo_log  # noqa: E402
from devserver.gateway import emulate_gateway_responses  # noqa: E402
from tests.moto_reads import reads_as_plain_json  # noqa: E402

SCIM = "application/scim+json"


@dataclass
class Tenant:
    name: str
    client_id: str
    client_secret: str

    @property
    def authorization(self) -> str:
        token = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return f"Basic {token}"


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[None]:
    """One moto for a test module, with our tables created once (about 0.5 s each time, were it per test).

    Transactions run with an undo log: moto otherwise deep-copies every table a transaction touches,
    per item, which makes any write on a 10,000-item table take seconds (see devserver/embedded_dynamodb.py);
    and reads answer plain JSON (tests/moto_reads.py).
    """
    with mock_aws(), transactions_with_undo_log(), reads_as_plain_json():
        connection.reset()
        create_tables(connection.dynamodb(settings()), settings())
        yield
    connection.reset()


def empty_moto() -> None:
    """What a fresh moto gives a test, without making our tables again: every DynamoDB table emptied
    (moto keeps items in one dict per table and computes its indexes on each read), every other
    service's state dropped; and the names the container kept of groups that are gone with them."""
    group_names.CONTAINER.clear()
    with backend_lock:
        for backends in list(BackendDict._instances):  # type: ignore[misc]
            for account in backends.values():
                if backends.service_name != "dynamodb":
                    account.reset()
                    continue
                for backend in account.values():
                    for table in backend.tables.values():
                        table.items.clear()


@pytest.fixture
def aws(moto_dynamodb: None) -> Iterator[None]:
    """moto's DynamoDB with our tables, empty, and nothing of another AWS service."""
    empty_moto()
    yield


@pytest.fixture
def credential_store(aws: None) -> CredentialStore:
    return CredentialStore(connection.dynamodb(settings()), settings().credentials_table)


def make_tenant(store: CredentialStore, name: str) -> Tenant:
    create_service_account(store, name)
    issued = generate_credential(store, settings().credential_hash_key, name, "tests")
    return Tenant(name, issued.client_id, issued.client_secret)


@pytest.fixture
def tenant(credential_store: CredentialStore) -> Tenant:
    return make_tenant(credential_store, "acme")


@pytest.fixture
def other_tenant(credential_store: CredentialStore) -> Tenant:
    return make_tenant(credential_store, "globex")


class Scim:
    """A SCIM client over chalice.test.Client, speaking as one tenant."""

    def __init__(self, client: Client, authorization: str | None) -> None:
        self.client = client
        self.authorization = authorization

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        all_headers = {"Content-Type": SCIM, "Accept": SCIM}
        if self.authorization is not None:
            all_headers["Authorization"] = self.authorization
        all_headers.update(headers or {})
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query, quote_via=quote)
        response = self.client.http.request(method, "/scim/v2" + path, headers=all_headers, body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@contextmanager
def served_app() -> Iterator[Client]:
    """moto with our tables, and the app behind the emulated API Gateway, for a whole module.

    The fuzz and security-matrix modules send thousands of requests; a fresh moto per test (``aws``) costs 0.4 s.
    """
    with mock_aws(), transactions_with_undo_log(), reads_as_plain_json():
        connection.reset()
        create_tables(connection.dynamodb(settings()), settings())
        emulate_gateway_responses()
        from app import app

        with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
            yield client
    connection.reset()


@pytest.fixture
def chalice_client(aws: None) -> Iterator[Client]:
    emulate_gateway_responses()
    from app import app

    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
        yield client


@pytest.fixture
def scim(chalice_client: Client, tenant: Tenant) -> Scim:
    return Scim(chalice_client, tenant.authorization)


@pytest.fixture
def other_scim(chalice_client: Client, other_tenant: Tenant) -> Scim:
    return Scim(chalice_client, other_tenant.authorization)


@pytest.fixture
def anonymous(chalice_client: Client) -> Scim:
    return Scim(chalice_client, None)


def user_body(user_name: str = "bjensen@example.com", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE_USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


SeedUsers = Callable[..., list[str]]


@pytest.fixture
def seed_users(aws: None) -> SeedUsers:
    """``seed_users(count, tenant="acme")``: that many new users, loaded straight through the store with
    batch writes (over HTTP a 10,000-user tenant would take minutes); returns their ids in userName order.

    Each call adds users with userNames no earlier call used.
    """
    calls = itertools.count()

    def seed(count: int, tenant: str = "acme") -> list[str]:
        batch = next(calls)
        now = datetime.now(UTC).isoformat()
        names = [f"user{batch:02d}-{n:05d}@example.com" for n in range(count)]
        records = [
            UserRecord(
                id=str(uuid.uuid4()),
                document={"schemas": [CORE_USER_SCHEMA], "userName": name},
                user_name=name,
                user_name_key=name,
                external_id=None,
                active=True,
                version=1,
                created=now,
                last_modified=now,
            )
            for name in names
        ]
        UserTable(connection.dynamodb(settings()), settings().users_table, tenant).bulk_insert(records)
        return [record.id for record in records]

    return seed


def dynamodb_client() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


class DynamoCalls:
    """Counts the DynamoDB calls the app makes (botocore event hooks): exact work, no timing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.items_read = 0

    def __call__(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        self.calls.append((model.name, params))

    def after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name == "GetItem":
            self.items_read += 1 if "Item" in parsed else 0
        elif model.name == "BatchGetItem":
            self.items_read += sum(len(items) for items in parsed.get("Responses", {}).values())
        elif model.name in {"Query", "Scan"}:
            self.items_read += parsed.get("ScannedCount", parsed.get("Count", 0))

    def reset(self) -> None:
        self.calls.clear()
        self.items_read = 0

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    @property
    def items_written(self) -> int:
        written = 0
        for name, params in self.calls:
            if name == "TransactWriteItems":
                written += len(params["TransactItems"])
            elif name == "BatchWriteItem":
                written += sum(len(requests) for requests in params["RequestItems"].values())
            elif name in {"PutItem", "UpdateItem", "DeleteItem"}:
                written += 1
        return written


@pytest.fixture
def dynamo_calls(aws: None) -> Iterator[DynamoCalls]:
    counter = DynamoCalls()
    events = connection.dynamodb(settings()).meta.events
    events.register("provide-client-params.dynamodb.*", counter)
    events.register("after-call.dynamodb.*", counter.after_call)
    yield counter
    events.unregister("provide-client-params.dynamodb.*", counter)
    events.unregister("after-call.dynamodb.*", counter.after_call)


@pytest.fixture
def atomic_dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each moto call atomic, as each DynamoDB API call is: moto's backend is not thread-safe
    (its transactions deep-copy tables other threads are writing), while our code between calls runs
    concurrently, which is what the race tests are about."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def atomic(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)


class DynamoKeyLimits:
    """Refuse oversized keys in reads as DynamoDB does (moto checks them only in writes and BatchGetItem)."""

    _CONDITION = re.compile(r"(\w+)\s*=\s*(:\w+)|begins_with\(\s*(\w+)\s*,\s*(:\w+)\s*\)")

    def __call__(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        keys: list[tuple[str, str]] = []
        if "Key" in params:
            keys += [(name, value["S"]) for name, value in params["Key"].items()]
        if model.name == "Query":
            values = params.get("ExpressionAttributeValues", {})
            for match in self._CONDITION.finditer(params.get("KeyConditionExpression", "")):
                name, placeholder = (match[1], match[2]) if match[1] else (match[3], match[4])
                keys.append((name, values[placeholder]["S"]))
        for name, value in keys:
            fits = limits.partition_key_fits if name in limits.PARTITION_KEY_ATTRIBUTES else limits.sort_key_fits
            if not fits(value):
                error = {"Code": "ValidationException", "Message": f"One or more parameter values were invalid: {name}"}
                raise botocore.exceptions.ClientError({"Error": error}, model.name)


@pytest.fixture
def dynamodb_key_limits(aws: None) -> Iterator[None]:
    events = connection.dynamodb(settings()).meta.events
    check = DynamoKeyLimits()
    events.register("provide-client-params.dynamodb.*", check)
    yield
    events.unregister("provide-client-params.dynamodb.*", check)
