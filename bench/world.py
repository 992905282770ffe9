"""The tenant the benchmark measures, built the way the app builds it, on moto, in this process.

Users are loaded through the store (``UserResources.record`` makes the items a SCIM create
makes, ``UserTable.bulk_insert`` writes them with ``batch_write``), and the large group grows
through the write a member PATCH ends with (``GroupTable.change``), never through HTTP.
Loading 100,000 users through boto3 into moto takes about twice as long as handing each
BatchWriteItem to moto's backend directly, which :class:`MotoBackendWriter` does: the same
items, written by the same store code, minus moto's HTTP emulation.
"""

import base64
import contextlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

from chalice.test import Client
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from scim2_models import Context, ResourceType

from app import app
from bench.floor import floor_app
from bench.people import CORE_GROUP, user_body, user_name
from bench.route_clock import RouteClock
from chalicelib.auth.credentials import create_service_account, generate_credential
from chalicelib.config import Settings, settings
from chalicelib.provisioning.passwords import hash_password
from chalicelib.resources.storage import DynamoScimStorage
from chalicelib.scim.adapter import scim_api
from chalicelib.store import connection
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.groups import Membership
from chalicelib.store.role_mappings import RoleMapping
from chalicelib.store.tables import create_tables
from chalicelib.store.users import UserRecord, UserTable
from devserver.embedded_dynamodb import embedded_dynamodb

PROJECT_DIR = Path(__file__).resolve().parent.parent
STAGE = "test"
"""The stage of ``.chalice/config.json`` the test client runs, as the tests do."""
TENANT = "acme"
BENCH_ENV = {
    "TABLE_PREFIX": "scim-test",
    "SCIM_DEV_SECRETS": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
SMALL_GROUP = 10
LOAD_CHUNK = 5_000


def use_bench_environment() -> None:
    """Point the app's settings at moto's in-process DynamoDB (the test stage's tables)."""
    os.environ.update(BENCH_ENV)
    os.environ.pop("DYNAMODB_ENDPOINT_URL", None)


def resource_type(storage: DynamoScimStorage, name: str) -> ResourceType:
    return next(rt for rt in storage.provider.resource_types if rt.name == name)


def user_records(storage: DynamoScimStorage, indexes: Iterable[int]) -> list[UserRecord]:
    """The records a SCIM create of these users stores: each body validated as a creation request, then
    ``UserResources.record`` with the product flags every SCIM-created user gets."""
    model: Any = storage.provider.model_for(resource_type(storage, "User"))
    stamp = datetime.now(UTC).isoformat()
    return [
        storage.user_repository.record(
            model.model_validate(user_body(index), scim_ctx=Context.RESOURCE_CREATION_REQUEST),
            id=str(uuid.uuid4()),
            version=1,
            created=stamp,
            last_modified=stamp,
            allow_sso_login=True,
            auto_assign_roles=True,
        )
        for index in indexes
    ]


def tenant_storage(client: DynamoDBClient, config: Settings) -> DynamoScimStorage:
    return DynamoScimStorage(scim_api().provider, client, config, TENANT, hash_password)


def issue_credential(client: DynamoDBClient, config: Settings) -> tuple[str, str]:
    """The tenant's SCIM service account and credential: (client ID, Authorization header)."""
    credentials = CredentialStore(client, config.credentials_table)
    create_service_account(credentials, TENANT)
    # A new tenant, whose users are loaded with their email pointers: lookups by email may trust them.
    UserTable(client, config.users_table, TENANT).emails.mark_complete()
    issued = generate_credential(credentials, config.credential_hash_key, TENANT, "benchmark")
    token = base64.b64encode(f"{issued.client_id}:{issued.client_secret}".encode()).decode()
    return issued.client_id, f"Basic {token}"


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


@dataclass
class ScimClient:
    """HTTP over ``chalice.test.Client``; the access log line each request writes is formatted, then discarded."""

    http: Any
    authorization: str

    def request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        if query:
            path += "?" + urlencode(query, quote_via=quote)
        headers = {
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
            "Authorization": self.authorization,
        }
        payload = b"" if body is None else json.dumps(body).encode()
        with contextlib.redirect_stdout(_Discard()):
            response = self.http.request(method, path, headers=headers, body=payload)
        return response.status_code, json.loads(response.body) if response.body else None


class MotoBackendWriter:
    """A DynamoDB client whose BatchWriteItem goes straight to moto's backend; every other call goes through boto3."""

    def __init__(self, client: DynamoDBClient, region: str) -> None:
        self._client = client
        self._backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        for table, requests in RequestItems.items():
            for request in requests:
                if "PutRequest" in request:
                    self._backend.put_item(table, request["PutRequest"]["Item"])
                else:
                    self._backend.delete_item(table, request["DeleteRequest"]["Key"])
        return {"UnprocessedItems": {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class MotoTables:
    """Items and index keys straight from moto's backend: what :class:`bench.work.WorkCounter` reads beside a call
    to count write units, without a DynamoDB call of its own."""

    def __init__(self, region: str) -> None:
        self._backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def item(self, table: str, key_or_item: dict[str, Any]) -> dict[str, Any] | None:
        found = self._backend.get_table(table)
        key = {found.hash_key_attr: key_or_item[found.hash_key_attr]}
        if found.range_key_attr is not None:
            key[found.range_key_attr] = key_or_item[found.range_key_attr]
        item = self._backend.get_item(table, key)
        return None if item is None else dict(item.to_json()["Attributes"])

    def index_keys(self, table: str) -> list[list[str]]:
        indexes = self._backend.get_table(table).all_indexes()
        return [[key["AttributeName"] for key in index.schema] for index in indexes]


@dataclass
class World:
    """One tenant on moto: its users (ids in load order), two groups, and the clients that call it."""

    scim: ScimClient
    floor: ScimClient
    client: DynamoDBClient
    clock: RouteClock
    tables: MotoTables
    storage: DynamoScimStorage
    loader: DynamoScimStorage
    """The same store, writing its batches through :class:`MotoBackendWriter`."""
    user_ids: list[str] = field(default_factory=list)
    engineering: str = ""
    """A 10-member group: what GET group reads."""
    all_staff: str = ""
    """The group members are added to and removed from: 10 members, grown to 50,000 to compare."""
    all_staff_size: int = 0
    created: list[str] = field(default_factory=list)
    """Users the benchmark created over SCIM, in order: what DELETE deactivates."""

    @property
    def size(self) -> int:
        return len(self.user_ids)

    @property
    def newcomer(self) -> str:
        """The user added to All staff and removed again in each round: the last one loaded, in no group."""
        return self.user_ids[-1]

    def outsiders(self, count: int) -> list[str]:
        """``count`` users in no group, the same ones every time: those loaded just before the newcomer."""
        if self.size - 1 - count < self.all_staff_size:
            raise RuntimeError(f"a tenant of {self.size} users has no {count} users outside All staff")
        return self.user_ids[self.size - 1 - count : self.size - 1]

    def load_users(self, count: int) -> float:
        """Add ``count`` users through the store; return the seconds it took."""
        started = time.perf_counter()
        first = self.size
        for chunk_start in range(first, first + count, LOAD_CHUNK):
            records = user_records(self.storage, range(chunk_start, min(chunk_start + LOAD_CHUNK, first + count)))
            self.loader.users.bulk_insert(records)
            self.user_ids.extend(record.id for record in records)
        return time.perf_counter() - started

    def grow_all_staff(self, members: int) -> float:
        """Make the first ``members`` users members of All staff; return the seconds it took.

        The memberships are written by ``GroupTable.change``, the write a member PATCH ends with, with
        ``display`` set to the userName as ``GroupResources.memberships`` sets it; the PATCH's existence
        checks are skipped, since these users were just loaded (moto takes 0.2 s to answer a BatchGetItem
        of 100 users, which would make them most of the run).
        """
        started = time.perf_counter()
        current = self.storage.groups.get(self.all_staff)
        if current is None:
            raise RuntimeError("the All staff group is gone")
        names = self.storage.user_repository
        added = [
            Membership(self.all_staff, self.user_ids[index], user_name(index), names.user_name_key(user_name(index)))
            for index in range(self.all_staff_size, members)
        ]
        updated = replace(current, version=current.version + 1, last_modified=datetime.now(UTC).isoformat())
        self.loader.groups.change(current, updated, added, pinned=False)
        self.all_staff_size = members
        return time.perf_counter() - started


@contextlib.contextmanager
def moto_world(users: int) -> Iterator[World]:
    """A fresh moto DynamoDB holding one tenant of ``users`` users, its credential, two groups of 10 and
    their role mappings, on the embedded DynamoDB of ``make run`` (:mod:`devserver.embedded_dynamodb`)."""
    use_bench_environment()
    with mock_aws(), RouteClock().installed() as clock, embedded_dynamodb():
        connection.reset()
        config = settings()
        client = connection.dynamodb(config)
        create_tables(client, config)
        _, authorization = issue_credential(client, config)
        storage = tenant_storage(client, config)
        with (
            Client(app, stage_name=STAGE, project_dir=str(PROJECT_DIR)) as app_client,
            Client(floor_app, stage_name=STAGE, project_dir=str(PROJECT_DIR)) as floor_client,
        ):
            world = World(
                scim=ScimClient(app_client.http, authorization),
                floor=ScimClient(floor_client.http, authorization),
                client=client,
                clock=clock,
                tables=MotoTables(config.region),
                storage=storage,
                # Duck-typed: the writer answers every call the client does.
                loader=tenant_storage(cast("DynamoDBClient", MotoBackendWriter(client, config.region)), config),
            )
            world.load_users(users)
            for role in ("Engineering", "All staff"):
                storage.role_mappings.put(RoleMapping(role, (f"{role} data",), ("Dashboards",)))
            world.engineering = _create_group(world, "Engineering", world.user_ids[:SMALL_GROUP])
            world.all_staff = _create_group(world, "All staff", world.user_ids[:SMALL_GROUP])
            world.all_staff_size = SMALL_GROUP
            try:
                yield world
            finally:
                connection.reset()


def _create_group(world: World, name: str, members: list[str]) -> str:
    status, body = world.scim.request(
        "POST",
        "/scim/v2/Groups",
        {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": user} for user in members]},
    )
    if status != 201:
        raise RuntimeError(f"creating group {name!r} answered {status}: {body}")
    return str(body["id"])
