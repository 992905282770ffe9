"""Generated and mutated requests at every route: never a 5xx, and the store keeps its invariants.

Every answer must be a SCIM response (2xx with a JSON body, or 204/304 without one) or an
:rfc:`RFC 7644 §3.12` error with a 4xx status and a detail in words, not an internal message; 501
only where the service announces an operation as unsupported (/Bulk). After every example the
tenant's items pass ``invariants.check`` (no violation, no garbage), and a write that was refused
leaves its target exactly as it was, meta.version included.

Each test owns tenants whose state carries over from example to example, as an IdP's tenant
does; that is why function-scoped fixtures are fine here. ``make fuzz`` runs the "fuzz" profile
(HYPOTHESIS_PROFILE=fuzz): many more examples, a new seed each run.
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from chalicelib.config import settings as app_settings
from chalicelib.scim.wording import MAX_DETAIL
from chalicelib.store import connection, invariants
from chalicelib.store.batch import batch_write
from chalicelib.store.credentials import CredentialStore
from tests import scim_strategies as s
from tests.conftest import SCIM, DynamoKeyLimits, Tenant, make_tenant, served_app
from tests.helpers import BULK_REQUEST, CORE_GROUP, CORE_USER, CUSTOM_USER, ENTERPRISE_USER, ERROR, ONEMODEL_USER

# Generated requests by the thousand: make test-all (and make fuzz, with many more).
pytestmark = pytest.mark.slow

ANNOUNCED_UNSUPPORTED = {"/Bulk"}
INTERNAL_WORDS = (
    "Traceback",
    "validation error for",
    "errors.pydantic.dev",
    "botocore",
    "ClientError",
    "Exception",
    # Python class and pydantic field names (issue #14): details name SCIM attributes.
    "instance of",
    "Value error",
    "ScimFilter",
    "excluded_attributes",
    "VerbatimEmail",
)

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
# A failure `make fuzz` finds is kept (.hypothesis/, not committed) and tried first on the next run: a long run
# cut short loses pytest's report, and the seed with it.
settings.register_profile(
    "fuzz",
    settings.get_profile("ci"),
    max_examples=1_000,
    derandomize=False,
    database=DirectoryBasedExampleDatabase(str(Path(__file__).resolve().parent.parent / ".hypothesis" / "fuzz")),
)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile(PROFILE_NAME)


def examples(weight: float = 1.0) -> settings:
    """This file's profile, with a share of its examples: tests whose inputs vary more get more."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * weight)))


@dataclass
class Tally:
    """How many requests the fuzz tests sent, written at the end of the run (a pytest plugin)."""

    inputs: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    invariant_checks: int = 0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.inputs:
            return
        total = sum(self.inputs.values())
        terminalreporter.write_sep(
            "-",
            f"fuzz (profile {PROFILE_NAME}): {total} generated requests; {self.requests} requests in all "
            f"with the reads that check them; {self.invariant_checks} store invariant checks",
        )
        for name, count in sorted(self.inputs.items()):
            terminalreporter.write_line(f"{count:7d}  {name}")


TALLY = Tally()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    json: Any


def well_formed(method: str, route: str, request: str, response: Any) -> Answer:
    """The invariant on every answer: a SCIM response, or an RFC 7644 §3.12 error with a 4xx status."""
    status = int(response.status_code)
    headers = {name.lower(): value for name, value in response.headers.items()}
    seen = f"{method} {request} answered {status}: {response.body[:500]!r}"
    assert status < 500 or (status == 501 and route in ANNOUNCED_UNSUPPORTED), seen
    assert headers.get("content-type") == SCIM, seen
    assert headers.get("cache-control") == "no-store", seen
    if status in (204, 304):
        assert not response.body, seen
        return Answer(status, headers, None)
    body = json.loads(response.body)
    assert isinstance(body, dict), seen
    if status >= 400:
        assert body.get("schemas") == [ERROR], seen
        assert body.get("status") == str(status), seen
        assert isinstance(body.get("detail"), str) and body["detail"], seen
        # A word the request itself holds is an echo of the client's value (an id "Exception"), not a leak.
        assert not any(word in body["detail"] and word not in request for word in INTERNAL_WORDS), seen
        assert len(body["detail"]) <= MAX_DETAIL + 1, seen  # echoed values are cut short (issue #14)
    else:
        assert 200 <= status < 300, seen
        assert isinstance(body.get("schemas"), list) and body["schemas"], seen
        assert all(isinstance(schema, str) for schema in body["schemas"]), seen
        if status == 201:
            assert body.get("id") and headers.get("location"), seen
    return Answer(status, headers, body)


class Requests:
    """Sends requests as one tenant; every answer goes through :func:`well_formed`."""

    def __init__(self, client: Client, tenant: Tenant, test_name: str) -> None:
        self.client = client
        self.tenant = tenant
        self.test_name = test_name

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str | None = SCIM,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authorization: str | None = None,
    ) -> Answer:
        all_headers = {"Accept": SCIM, "Authorization": authorization or self.tenant.authorization, **(headers or {})}
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        url = "/scim/v2" + path
        if query:
            url += "?" + urlencode(query, quote_via=quote, errors="surrogatepass")
        response = self.client.http.request(method, url, headers=all_headers, body=body)
        TALLY.requests += 1
        return well_formed(method, path, f"{url[:300]!r} {all_headers!r} {body[:300]!r}", response)

    def fuzz(self, method: str, path: str, body: bytes = b"", **options: Any) -> Answer:
        """Send a generated request: the ones the tally reports."""
        TALLY.inputs[self.test_name] = TALLY.inputs.get(self.test_name, 0) + 1
        return self.send(method, path, body, **options)

    def snapshot(self, path: str) -> Any:
        """A resource as GET shows it (None when absent), to prove a refused write changed nothing."""
        answer = self.send("GET", path)
        return answer.json if answer.status == 200 else None

    def assert_store_ok(self) -> None:
        config = app_settings()
        client = connection.dynamodb(config)
        report = invariants.check(client, config.users_table, config.groups_table, self.tenant.name)
        TALLY.invariant_checks += 1
        assert report.violations == []
        assert report.garbage == []
        # The activity trail names a password change but never keeps a password or its hash.
        trail = client.query(
            TableName=config.activity_table,
            KeyConditionExpression="pk = :t",
            ExpressionAttributeValues={":t": {"S": self.tenant.name}},
            ScanIndexForward=False,
            Limit=200,
        )["Items"]
        kept = json.dumps(trail)
        assert "$argon2" not in kept and s.PASSWORD not in kept and self.tenant.client_secret not in kept


def seed_user(user_name: str) -> bytes:
    return json.dumps({"schemas": [CORE_USER], "userName": user_name, "name": {"givenName": "Seed"}}).encode()


def seed_group(display_name: str, members: list[str]) -> bytes:
    document = {"schemas": [CORE_GROUP], "displayName": display_name, "members": [{"value": m} for m in members]}
    return json.dumps(document).encode()


@dataclass
class World:
    client: Client
    credentials: CredentialStore
    foreign_user: str
    """A user of another tenant: never a member of, nor visible to, the fuzzed tenants."""


@pytest.fixture(scope="module")
def world(pytestconfig: pytest.Config) -> Iterator[World]:
    """moto and the app once per module: hypothesis sends thousands of requests."""
    if not pytestconfig.pluginmanager.is_registered(TALLY):
        pytestconfig.pluginmanager.register(TALLY, "scim-fuzz-tally")
    with served_app() as client:
        config = app_settings()
        # Reads with keys DynamoDB refuses fail here as on AWS, not silently as in moto.
        connection.dynamodb(config).meta.events.register("provide-client-params.dynamodb.*", DynamoKeyLimits())
        credentials = CredentialStore(connection.dynamodb(config), config.credentials_table)
        other = Requests(client, make_tenant(credentials, "fuzz-other"), "setup")
        yield World(client, credentials, other.send("POST", "/Users", seed_user("foreign@example.com")).json["id"])


@dataclass
class Seeded:
    """A tenant of one test, with users and groups to aim at."""

    requests: Requests
    users: list[str]
    groups: list[str]
    foreign_user: str

    def user_targets(self) -> st.SearchStrategy[str]:
        return st.one_of(st.sampled_from(self.users), st.just(self.foreign_user), ids())

    def group_targets(self) -> st.SearchStrategy[str]:
        return st.one_of(st.sampled_from(self.groups), ids())

    def member_values(self) -> list[str]:
        return [*self.users, self.foreign_user, self.groups[0], "not-a-user"]


EXAMPLES_PER_TENANT = 25
"""A new tenant every so many examples, the old one's items deleted: the invariant check reads a whole
tenant after each example, and moto copies a whole table for each transaction."""


class Tenants:
    """The tenants of one test, each with users and groups to aim at, each used for a run of examples."""

    def __init__(self, world: World, test_name: str) -> None:
        self.world = world
        self.test_name = test_name
        self.examples = 0
        self.seeded: Seeded | None = None

    def current(self) -> Seeded:
        if self.seeded is None or self.examples % EXAMPLES_PER_TENANT == 0:
            if self.seeded is not None:
                _delete_items_of(self.seeded.requests.tenant.name)
            self.seeded = self._seed()
        self.examples += 1
        return self.seeded

    def _seed(self) -> Seeded:
        tenant = make_tenant(self.world.credentials, f"fuzz-{uuid.uuid4().hex[:8]}")
        requests = Requests(self.world.client, tenant, self.test_name)
        users = [requests.send("POST", "/Users", seed_user(f"seed-{n}@example.com")).json["id"] for n in range(3)]
        groups = [
            requests.send("POST", "/Groups", seed_group(name, users[:2])).json["id"]
            for name in ("Seed Readers", "Seed Writers")
        ]
        return Seeded(requests, users, groups, self.world.foreign_user)


def _delete_items_of(tenant: str) -> None:
    config = app_settings()
    client = connection.dynamodb(config)
    for table in (config.users_table, config.groups_table):
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :t",
            ExpressionAttributeValues={":t": {"S": tenant}},
            ProjectionExpression="pk, sk",
        )
        keys = [{"pk": item["pk"], "sk": item["sk"]} for page in pages for item in page["Items"]]
        batch_write(client, table, [{"DeleteRequest": {"Key": key}} for key in keys])


@pytest.fixture
def tenants(world: World, request: pytest.FixtureRequest) -> Iterator[Tenants]:
    fuzzed = Tenants(world, request.node.name)
    yield fuzzed
    if fuzzed.seeded is not None:
        _delete_items_of(fuzzed.seeded.requests.tenant.name)


def ids() -> st.SearchStrategy[str]:
    return st.one_of(st.uuids().map(str), s.text().filter(lambda text: 0 < len(text) < 2_000))


def encoded(value: Any, ascii_only: bool) -> bytes:
    """JSON as most IdPs send it (ASCII escapes), or as raw UTF-8, lone surrogates and all."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def bodies(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Mutated valid documents, any JSON at all, and bytes no JSON parser should take."""
    return st.one_of(
        st.builds(encoded, documents, st.booleans()),
        st.builds(encoded, s.json_values(), st.booleans()),
        s.raw_bodies(),
    )


def if_match() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={"If-Match": s.header_values()})


def resource_path(kind: str, target: str) -> str:
    return f"/{kind}/{quote(target, safe='', errors='surrogatepass')}"


def assert_refused_write_changed_nothing(seeded: Seeded, path: str, before: Any, answer: Answer) -> None:
    after = seeded.requests.snapshot(path)
    if answer.status >= 400:
        assert after == before, f"answered {answer.status} {answer.json}, yet {path} changed"
    elif before is not None and after is not None:
        assert int(after["meta"]["version"][3:-1]) >= int(before["meta"]["version"][3:-1])


def write(seeded: Seeded, method: str, kind: str, target: str, body: bytes, **options: Any) -> None:
    """Send a write to a resource, then check the answer, the resource and the store."""
    path = resource_path(kind, target)
    before = seeded.requests.snapshot(path)
    answer = seeded.requests.fuzz(method, path, body, **options)
    assert_refused_write_changed_nothing(seeded, path, before, answer)
    seeded.requests.assert_store_ok()


@examples(1.5)
@given(data=st.data())
def test_any_user_creation_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    body = data.draw(bodies(s.mutated(s.valid_user(), s.USER_ATTRIBUTE_PATHS)), "body")
    query = data.draw(st.fixed_dictionaries({}, optional={"attributes": s.text(), "excludedAttributes": s.text()}))

    seeded.requests.fuzz("POST", "/Users", body, content_type=data.draw(s.content_types(), "content type"), query=query)

    seeded.requests.assert_store_ok()


@examples()
@given(data=st.data())
def test_any_user_replacement_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    target = data.draw(seeded.user_targets(), "user")
    body = data.draw(bodies(s.mutated(s.valid_user(), s.USER_ATTRIBUTE_PATHS)), "body")

    write(
        seeded, "PUT", "Users", target, body, content_type=data.draw(s.content_types()), headers=data.draw(if_match())
    )


@examples(1.5)
@given(data=st.data())
def test_any_user_patch_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    target = data.draw(seeded.user_targets(), "user")
    hints = [{"active": False}, "Zebra-Piano-4711x", [{"value": "a@b.c", "type": "work"}], {"givenName": "x"}]
    body = data.draw(bodies(s.patch_operations(hints)), "body")

    write(
        seeded, "PATCH", "Users", target, body, content_type=data.draw(s.content_types()), headers=data.draw(if_match())
    )


@examples()
@given(data=st.data())
def test_any_group_creation_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    body = data.draw(bodies(s.mutated(s.valid_group(seeded.member_values()), s.GROUP_ATTRIBUTE_PATHS)), "body")

    seeded.requests.fuzz("POST", "/Groups", body, content_type=data.draw(s.content_types(), "content type"))

    seeded.requests.assert_store_ok()


@examples()
@given(data=st.data())
def test_any_group_replacement_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    target = data.draw(seeded.group_targets(), "group")
    body = data.draw(bodies(s.mutated(s.valid_group(seeded.member_values()), s.GROUP_ATTRIBUTE_PATHS)), "body")

    write(
        seeded, "PUT", "Groups", target, body, content_type=data.draw(s.content_types()), headers=data.draw(if_match())
    )


@examples(1.5)
@given(data=st.data())
def test_any_group_patch_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    target = data.draw(seeded.group_targets(), "group")
    members = [{"value": value} for value in seeded.member_values()]
    hints = [members, members[:1], {"displayName": "Renamed"}, {"members": members}, "Seed Readers"]
    body = data.draw(bodies(s.patch_operations(hints)), "body")
    query = data.draw(st.fixed_dictionaries({}, optional={"excludedAttributes": st.just("members")}), "query")

    write(
        seeded,
        "PATCH",
        "Groups",
        target,
        body,
        content_type=data.draw(s.content_types()),
        headers=data.draw(if_match()),
        query=query,
    )


@examples()
@given(data=st.data())
def test_any_deletion_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    kind = data.draw(st.sampled_from(["Users", "Groups"]), "kind")
    if data.draw(st.booleans(), "a new resource"):
        body = seed_user(f"{uuid.uuid4()}@example.com") if kind == "Users" else seed_group(str(uuid.uuid4()), [])
        target = seeded.requests.send("POST", f"/{kind}", body).json["id"]
    else:
        target = data.draw(seeded.user_targets() if kind == "Users" else ids(), "target")

    write(seeded, "DELETE", kind, target, b"", content_type=data.draw(s.content_types()), headers=data.draw(if_match()))


@examples(1.5)
@given(data=st.data())
def test_any_list_query_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    path = data.draw(st.sampled_from(["/Users", "/Groups", ""]), "path")
    query = data.draw(s.query_parameters(), "query")

    answer = seeded.requests.fuzz("GET", path, query=query, content_type=data.draw(s.content_types()))

    if answer.status == 200 and "totalResults" in answer.json:
        assert len(answer.json.get("Resources", [])) <= answer.json["totalResults"]
    assert seeded.foreign_user not in json.dumps(answer.json)


@examples()
@given(data=st.data())
def test_any_read_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    kind = data.draw(st.sampled_from(["Users", "Groups"]), "kind")
    target = data.draw(seeded.user_targets() if kind == "Users" else seeded.group_targets(), "target")
    headers = data.draw(st.fixed_dictionaries({}, optional={"If-None-Match": s.header_values()}), "headers")

    query = data.draw(s.query_parameters(), "query")

    answer = seeded.requests.fuzz("GET", resource_path(kind, target), query=query, headers=headers)

    if target == seeded.foreign_user:  # another tenant's user: not found, unless the query is refused first
        assert answer.status in (400, 404)


@examples(1.5)
@given(data=st.data())
def test_any_search_body_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    path = data.draw(st.sampled_from(["/Users/.search", "/Groups/.search", "/.search"]), "path")
    body = data.draw(bodies(s.search_requests()), "body")

    answer = seeded.requests.fuzz("POST", path, body, content_type=data.draw(s.content_types()))

    assert seeded.foreign_user not in json.dumps(answer.json)


DISCOVERY_IDS = ["User", "Group", CORE_USER, CORE_GROUP, CUSTOM_USER, ONEMODEL_USER, ENTERPRISE_USER]
BULK = {"schemas": [BULK_REQUEST], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]}


@examples()
@given(data=st.data())
def test_any_discovery_or_bulk_request_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    route = data.draw(st.sampled_from(["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Bulk"]), "route")
    if route != "/Bulk" and data.draw(st.booleans(), "by id"):
        identifier = data.draw(st.one_of(st.sampled_from(DISCOVERY_IDS), s.text()), "id")
        route += "/" + quote(identifier, safe=":", errors="surrogatepass")
    method, body = ("POST", data.draw(bodies(st.just(BULK)), "body")) if route == "/Bulk" else ("GET", b"")

    content_type = data.draw(s.content_types())
    seeded.requests.fuzz(method, route, body, content_type=content_type, query=data.draw(s.query_parameters()))


ROUTES = [
    "",
    "/Users",
    "/Users/.search",
    "/Users/{user}",
    "/Groups",
    "/Groups/.search",
    "/Groups/{group}",
    "/.search",
    "/Bulk",
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/Schemas",
    f"/Schemas/{CORE_USER}",
    "/Widgets",
]


@examples()
@given(data=st.data())
def test_any_method_on_any_route_is_a_scim_answer(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    route = data.draw(st.sampled_from(ROUTES), "route")
    path = route.format(user=seeded.users[2], group=seeded.groups[1])
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]), "method")
    body = data.draw(bodies(s.json_values()), "body") if method not in ("GET", "HEAD") else b""
    before = seeded.requests.snapshot(path) if "{" in route else None

    answer = seeded.requests.fuzz(method, path, body, content_type=data.draw(s.content_types()))

    if "{" in route:
        assert_refused_write_changed_nothing(seeded, path, before, answer)
    seeded.requests.assert_store_ok()


AUTHENTICATED_READS = [
    "",
    "/Users",
    "/Groups",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/Schemas",
    f"/Schemas/{CORE_USER}",
]


@examples()
@given(data=st.data())
def test_any_authorization_header_but_the_tenant_s_is_a_scim_401(tenants: Tenants, data: st.DataObject) -> None:
    seeded = tenants.current()
    path = data.draw(st.sampled_from(AUTHENTICATED_READS), "path")
    scheme = st.sampled_from(["Basic", "Bearer", "basic", "BEARER", "Digest"])
    authorization = data.draw(
        st.one_of(
            s.header_values().filter(bool),
            st.builds(lambda name, value: f"{name} {value}", scheme, s.header_values()),
            st.just(seeded.requests.tenant.authorization + "x"),
            st.just("Basic " + "QUFB" * 2_000),
        ),
        "authorization",
    )

    answer = seeded.requests.fuzz("GET", path, authorization=authorization)

    assert answer.status == 401
