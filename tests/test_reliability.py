"""Races and DynamoDB faults: nothing lost, never a 500, the store's invariants hold after every fault."""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from moto.dynamodb.models import dynamodb_backends

from chalicelib.config import settings
from chalicelib.store import connection, invariants
from tests.conftest import Scim, SeedUsers, user_body
from tests.helpers import CORE_GROUP, patch_body


def assert_invariants(tenant: str = "acme") -> invariants.Report:
    config = settings()
    report = invariants.check(connection.dynamodb(config), config.users_table, config.groups_table, tenant)
    assert report.violations == []
    return report


def forget_users_and_groups() -> None:
    """Empty the users and groups tables (credentials stay), straight in moto's backend.

    The fault matrix checks the invariants after each of its ~200 requests; each check reads
    the whole tenant, and moto serialises every item read in Python: kept small, the matrix
    runs in seconds, not minutes.
    """
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][connection.dynamodb(settings()).meta.region_name]
    for table in (settings().users_table, settings().groups_table):
        backend.tables[table].items.clear()


def run_together(count: int, action: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(number: int) -> None:
        barrier.wait()
        results[number] = action(number)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def members(ids: list[str]) -> list[dict[str, str]]:
    return [{"value": user_id} for user_id in ids]


# -- Races ------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("atomic_dynamodb_calls")


def test_20_concurrent_creates_of_one_user_name_give_one_201_and_19_409(scim: Scim) -> None:
    statuses = run_together(20, lambda n: scim.post("/Users", user_body("same@example.com")).status_code)

    assert sorted(statuses) == [201] + [409] * 19
    assert scim.get('/Users?filter=userName eq "same@example.com"').json["totalResults"] == 1
    assert_invariants()


def test_concurrent_patches_adding_different_members_keep_every_member(scim: Scim, seed_users: SeedUsers) -> None:
    users = seed_users(10)
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Crowd"}).json["id"]

    def add(n: int) -> int:
        body = patch_body({"op": "add", "path": "members", "value": members([users[n]])})
        return int(scim.patch(f"/Groups/{group}", body).status_code)

    assert run_together(10, add) == [204] * 10
    assert sorted(m["value"] for m in scim.get(f"/Groups/{group}").json["members"]) == sorted(users)
    assert_invariants()


def test_concurrent_patches_of_different_attributes_of_one_user_keep_both(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json["id"]
    changes = [("title", "CFO"), ("nickName", "Babs"), ("displayName", "B. Jensen"), ("locale", "en-GB")]

    def change(n: int) -> int:
        path, value = changes[n]
        body = patch_body({"op": "replace", "path": path, "value": value})
        return int(scim.patch(f"/Users/{user}", body).status_code)

    assert run_together(len(changes), change) == [200] * len(changes)
    final = scim.get(f"/Users/{user}").json
    assert [final[path] for path, _ in changes] == [value for _, value in changes]
    assert_invariants()


def test_a_rename_racing_a_create_of_the_same_display_name_leaves_one_owner(scim: Scim) -> None:
    for attempt in range(5):
        name = f"Contested {attempt}"
        group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": f"Before {attempt}"}).json["id"]
        rename = patch_body({"op": "replace", "path": "displayName", "value": name})

        def act(n: int, group: str = group, rename: dict[str, Any] = rename, name: str = name) -> int:
            if n == 0:
                return int(scim.patch(f"/Groups/{group}", rename).status_code)
            return int(scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name}).status_code)

        statuses = run_together(2, act)

        assert sorted(statuses) in ([204, 409], [201, 409])
        assert scim.get("/Groups", query={"filter": f'displayName eq "{name}"'}).json["totalResults"] == 1
        assert_invariants()


# -- Faults -----------------------------------------------------------------


class Faults:
    """Fails the n-th DynamoDB call of a request, once or on every retry, before DynamoDB (moto) sees it."""

    KINDS = ("ThrottlingException", "InternalServerError", "TransactionConflict", "ConnectionError")

    def __init__(self) -> None:
        self.arm(None)

    def arm(self, target: int | None, kind: str = "", persistent: bool = False) -> None:
        self.calls, self.target, self.kind, self.persistent, self.injected = 0, target, kind, persistent, 0
        self.operation = ""

    def before_call(self, model: Any, **kwargs: Any) -> None:
        self.calls += 1
        self.operation = model.name

    def response(self, request: Any) -> AWSResponse | None:
        """The failure to answer instead of DynamoDB, or None to let the call through."""
        if self.target != self.calls or (self.injected and not self.persistent):
            return None
        if self.kind == "TransactionConflict" and self.operation != "TransactWriteItems":
            return None
        self.injected += 1
        if self.kind == "ConnectionError":
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
        if self.kind == "TransactionConflict":
            body: dict[str, Any] = {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "injected",
                "CancellationReasons": [{"Code": "TransactionConflict"}],
            }
            status = 400
        else:
            body = {"__type": f"com.amazonaws.dynamodb.v20120810#{self.kind}", "message": "injected"}
            status = 400 if self.kind == "ThrottlingException" else 500
        return AWSResponse(request.url, status, {}, MockRawResponse(json.dumps(body).encode()))


# The matrix runs the "more members than one transaction holds" paths with a transaction limit of
# 10 instead of DynamoDB's 100, and batches of 5 instead of 25, so that each of its requests moves
# a dozen items in several batches, not a hundred.
SMALL_TRANSACTION_LIMIT = 10


@pytest.fixture
def faults(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    monkeypatch.setattr("chalicelib.store.batch._backoff", lambda round_number: None)
    monkeypatch.setattr("chalicelib.store.groups.TRANSACTION_LIMIT", SMALL_TRANSACTION_LIMIT)
    monkeypatch.setattr("chalicelib.store.batch.WRITE_CHUNK", 5)
    injector = Faults()
    stubber = BotocoreStubber.__call__

    def faulty(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        return injector.response(request) or stubber(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", faulty)
    events = connection.dynamodb(settings()).meta.events
    events.register("before-call.dynamodb.*", injector.before_call)
    yield injector
    events.unregister("before-call.dynamodb.*", injector.before_call)


def _user_scenarios(scim: Scim) -> dict[str, Callable[[], Any]]:
    def created() -> str:
        return str(scim.post("/Users", user_body(f"{uuid.uuid4()}@example.com")).json["id"])

    def put() -> Callable[[], Any]:
        user = created()
        return lambda: scim.put(f"/Users/{user}", user_body(f"{uuid.uuid4()}@example.com"))

    def patch() -> Callable[[], Any]:
        user = created()
        body = patch_body({"op": "replace", "path": "title", "value": "CFO"})
        return lambda: scim.patch(f"/Users/{user}", body)

    def delete() -> Callable[[], Any]:
        user = created()
        return lambda: scim.delete(f"/Users/{user}")

    def rename_member() -> Callable[[], Any]:
        user = created()
        group = {"schemas": [CORE_GROUP], "displayName": str(uuid.uuid4()), "members": members([user])}
        scim.post("/Groups", group)
        body = patch_body({"op": "replace", "path": "userName", "value": str(uuid.uuid4())})
        return lambda: scim.patch(f"/Users/{user}", body)

    return {
        "create user": lambda: (
            lambda: scim.post("/Users", user_body(f"{uuid.uuid4()}@example.com", password="Correct-Horse-42"))
        ),
        "replace user": put,
        "patch user": patch,
        "deactivate user": delete,
        "rename a group member": rename_member,
    }


def _group_scenarios(scim: Scim, new_users: SeedUsers) -> dict[str, Callable[[], Any]]:
    def group(size: int) -> str:
        body = {"schemas": [CORE_GROUP], "displayName": str(uuid.uuid4()), "members": members(new_users(size))}
        return str(scim.post("/Groups", body).json["id"])

    def create(size: int) -> Callable[[], Any]:
        ids = new_users(size)
        return lambda: scim.post(
            "/Groups", {"schemas": [CORE_GROUP], "displayName": str(uuid.uuid4()), "members": members(ids)}
        )

    def add(size: int) -> Callable[[], Any]:
        target, ids = group(2), new_users(size)
        body = patch_body({"op": "add", "path": "members", "value": members(ids)})
        return lambda: scim.patch(f"/Groups/{target}", body)

    def remove(size: int) -> Callable[[], Any]:
        ids = new_users(size + 1)
        body = {"schemas": [CORE_GROUP], "displayName": str(uuid.uuid4()), "members": members(ids)}
        target = str(scim.post("/Groups", body).json["id"])
        removal = patch_body({"op": "remove", "path": f'members[value eq "{ids[0]}"]'})
        return lambda: scim.patch(f"/Groups/{target}", removal)

    def put() -> Callable[[], Any]:
        target, ids = group(3), new_users(2)
        return lambda: scim.put(
            f"/Groups/{target}", {"schemas": [CORE_GROUP], "displayName": "Renamed " + target, "members": members(ids)}
        )

    def delete() -> Callable[[], Any]:
        target = group(3)
        return lambda: scim.delete(f"/Groups/{target}")

    return {
        "create group": lambda: create(3),
        "add a member": lambda: add(1),
        "add members beyond one transaction": lambda: add(SMALL_TRANSACTION_LIMIT + 5),
        "remove a member": lambda: remove(1),
        "replace group": put,
        "delete group": delete,
    }


@pytest.mark.slow
@pytest.mark.parametrize("family", ["users", "groups"])
def test_every_injected_fault_gives_success_or_503_and_keeps_the_invariants(
    scim: Scim, faults: Faults, family: str, seed_users: SeedUsers
) -> None:
    scenarios = _user_scenarios(scim) if family == "users" else _group_scenarios(scim, seed_users)
    outcomes: dict[int, int] = {}
    retries = 0
    for name, prepare in scenarios.items():
        began = time.perf_counter()
        request = prepare()
        faults.arm(None)
        request()
        calls = faults.calls  # of the request alone
        forget_users_and_groups()
        # Every kind of failure at every call of every write path, once and on every retry.
        for call in range(1, calls + 1):
            for kind in Faults.KINDS:
                for persistent in (False, True):
                    request = prepare()
                    faults.arm(call, kind, persistent)
                    response = request()
                    injected = faults.injected
                    faults.arm(None)
                    if not injected:
                        continue  # a transaction conflict on a call that is no transaction
                    status = response.status_code
                    outcomes[status] = outcomes.get(status, 0) + 1
                    assert status < 300 or status == 503, (name, call, kind, persistent, response.body)
                    if not persistent and kind == "ThrottlingException":
                        assert status < 300, (name, call, "a single throttle is retried away")
                    assert_invariants()
                    if status == 503:
                        assert response.headers["Retry-After"]
                        assert response.json["status"] == "503"
                        # The IdP retries: it completes the write, or finds it done (a create that
                        # committed before failing is now taken; a delete, gone).
                        retried = request().status_code
                        done = {"create": 409, "delete": 404}.get(name.split()[0])
                        assert retried < 300 or retried == done, (name, call, kind, "retry", retried)
                        assert assert_invariants().stale == [], (name, call, kind, "a retried rename sets displays")
                        retries += 1
                    forget_users_and_groups()
        print(f"{name}: {calls} DynamoDB calls, each failed up to 8 ways, {time.perf_counter() - began:.1f} s")
    print(
        f"{family}: {sum(outcomes.values())} requests with an injected fault, outcomes by status: {outcomes}; "
        f"each of the {retries} 503s retried to completion"
    )


def test_a_group_delete_without_if_match_that_loses_a_race_to_a_member_patch_is_tried_again(
    scim: Scim, seed_users: SeedUsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A member PATCH committed between the DELETE's read and its write: the DELETE answered 412 (2 of 4 rounds),
    # though without If-Match a lost race is the server's to try again.
    from chalicelib.resources.storage import DynamoScimStorage

    users = seed_users(2)
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Racing", "members": members(users[:1])}).json
    delete = DynamoScimStorage.delete
    raced: list[int] = []

    def delete_after_a_patch(storage: Any, *args: Any, **kwargs: Any) -> None:
        if not raced:
            patch = patch_body({"op": "add", "path": "members", "value": members(users[1:])})
            raced.append(scim.patch(f"/Groups/{group['id']}", patch).status_code)
        delete(storage, *args, **kwargs)

    monkeypatch.setattr(DynamoScimStorage, "delete", delete_after_a_patch)

    response = scim.delete(f"/Groups/{group['id']}")

    assert (raced, response.status_code) == ([204], 204)
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert_invariants()
