"""The SCIM operations the benchmark measures, each as one HTTP request an IdP sends, and how it is measured.

An operation prepares its request on the world, and may act on the answer outside the
measurement (a created group is deleted again; a created user is what the round's DELETE
deactivates), so that each round meets a tenant of the same shape.
"""

import math
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench.log_bytes import Logged, logged
from bench.people import CORE_GROUP, CORE_USER, external_id, user_name
from bench.route_clock import RouteTime
from bench.work import Work, WorkCounter
from bench.world import World
from chalicelib.resources.group_names import CONTAINER
from chalicelib.store.waves import in_sequence

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USERS = "/scim/v2/Users"
GROUPS = "/scim/v2/Groups"
# What a user response leaves out to need no read but the user's own: what the rest of a GET costs.
WITHOUT_GROUPS = "groups,urn:onemodel:params:scim:schemas:extension:2.0:User"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] | None = None
    expect: int = 200


@dataclass(frozen=True)
class Operation:
    name: str
    label: str
    prepare: Callable[[World, str], Call]
    indexed: bool = True
    """Whether its DynamoDB work must not grow with the tenant (compared at two sizes)."""
    after: Callable[[World, Any], None] | None = None
    """Runs after the measured request, with its response body, outside the measurement."""
    max_rounds: int | None = None
    """Fewer rounds for an operation that reads the whole tenant."""
    floor: bool = False


def _get_user_names_not_kept(world: World, tag: str) -> Call:
    """GET user as a container's first read of its groups: the names the container kept are forgotten first."""
    CONTAINER.clear()
    return Call("GET", f"{USERS}/{world.user_ids[0]}")


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _new_user(tag: str, password: bool) -> Call:
    body: dict[str, Any] = {
        "schemas": [CORE_USER],
        "userName": f"new-{tag}@example.com",
        "externalId": f"new-{tag}",
        "name": {"givenName": "New", "familyName": "Hire"},
        "emails": [{"value": f"new-{tag}@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    if password:
        body["password"] = f"Correct-Horse-{tag}-9"
    return Call("POST", USERS, body, expect=201)


def _created(world: World, body: Any) -> None:
    world.created.append(str(body["id"]))


def _replacement(world: World, tag: str) -> Call:
    body = {
        "schemas": [CORE_USER],
        "userName": user_name(1),
        "externalId": external_id(1),
        "name": {"givenName": "Given1", "familyName": f"Family-{tag}"},
        "emails": [{"value": user_name(1), "type": "work", "primary": True}],
        "title": "Engineer",
        "active": True,
    }
    return Call("PUT", f"{USERS}/{world.user_ids[1]}", body)


def _delete_group(world: World, created: Any) -> None:
    status, _ = world.scim.request("DELETE", f"{GROUPS}/{created['id']}")
    if status != 204:
        raise BenchError(f"deleting a benchmark group answered {status}")


def _members(user_ids: list[str]) -> list[dict[str, str]]:
    return [{"value": user_id} for user_id in user_ids]


def _member_change(world: World, op: str, user_ids: list[str]) -> Call:
    """Entra's form: ``{"op": "add"|"remove", "path": "members", "value": [{"value": id}, ...]}``."""
    body = _patch({"op": op, "path": "members", "value": _members(user_ids)})
    return Call("PATCH", f"{GROUPS}/{world.all_staff}", body, expect=204)


def _remove_newcomer(world: World, tag: str) -> Call:
    """Okta's form: ``members[value eq "id"]``."""
    body = _patch({"op": "remove", "path": f'members[value eq "{world.newcomer}"]'})
    return Call("PATCH", f"{GROUPS}/{world.all_staff}", body, expect=204)


FLOOR = Operation(
    "floor", "floor: GetItem behind the authorizer", lambda w, t: Call("GET", f"/floor/{w.user_ids[0]}"), floor=True
)


def operations(group_members: int = 100, batch: int = 100) -> list[Operation]:
    """The operations of issue #8, in the order a round runs them.

    :param group_members: how many members the created group has.
    :param batch: how many members the large member PATCH adds and removes (over 97: the batch path).
    """
    return [
        Operation("get_user", "GET user by id", lambda w, t: Call("GET", f"{USERS}/{w.user_ids[0]}")),
        Operation(
            "get_user_names_not_kept", "GET user by id, its groups' names not kept yet", _get_user_names_not_kept
        ),
        Operation(
            "get_user_without_groups",
            "GET user by id, groups and roles excluded",
            lambda w, t: Call("GET", f"{USERS}/{w.user_ids[0]}", query={"excludedAttributes": WITHOUT_GROUPS}),
        ),
        Operation(
            "filter_user_name",
            "list, userName eq",
            lambda w, t: Call("GET", USERS, query={"filter": f'userName eq "{user_name(0).upper()}"'}),
        ),
        Operation(
            "filter_email",
            "list, emails.value eq",
            lambda w, t: Call("GET", USERS, query={"filter": f'emails.value eq "{user_name(0).upper()}"'}),
        ),
        Operation(
            "filter_work_email",
            'list, emails[type eq "work"].value eq',
            lambda w, t: Call("GET", USERS, query={"filter": f'emails[type eq "work"].value eq "{user_name(0)}"'}),
        ),
        Operation(
            "filter_external_id",
            "list, externalId eq",
            lambda w, t: Call("GET", USERS, query={"filter": f'externalId eq "{external_id(0)}"'}),
        ),
        Operation(
            "filter_title",
            "list, title eq (not indexed)",
            lambda w, t: Call("GET", USERS, query={"filter": 'title eq "Director"'}),
            indexed=False,
            max_rounds=3,
        ),
        Operation("create_user", "create user", lambda w, t: _new_user(t, password=False), after=_created),
        Operation(
            "create_user_password",
            "create user with password",
            lambda w, t: _new_user(t, password=True),
            after=_created,
        ),
        Operation("put_user", "PUT user", _replacement),
        Operation(
            "patch_user",
            "PATCH user (replace title)",
            lambda w, t: Call(
                "PATCH", f"{USERS}/{w.user_ids[1]}", _patch({"op": "replace", "path": "title", "value": f"T {t}"})
            ),
        ),
        Operation(
            "delete_user",
            "DELETE user (deactivates)",
            lambda w, t: Call("DELETE", f"{USERS}/{w.created.pop()}", expect=204),
        ),
        Operation(
            f"create_group_{group_members}",
            f"create group, {group_members} members",
            lambda w, t: Call(
                "POST",
                GROUPS,
                {"schemas": [CORE_GROUP], "displayName": f"Group {t}", "members": _members(w.user_ids[:group_members])},
                expect=201,
            ),
            after=_delete_group,
        ),
        Operation(
            "patch_group_add_member", "PATCH group: add 1 member", lambda w, t: _member_change(w, "add", [w.newcomer])
        ),
        Operation("patch_group_remove_member", "PATCH group: remove 1 member", _remove_newcomer),
        Operation(
            f"patch_group_add_{batch}",
            f"PATCH group: add {batch} members",
            lambda w, t: _member_change(w, "add", w.outsiders(batch)),
        ),
        Operation(
            f"patch_group_remove_{batch}",
            f"PATCH group: remove {batch} members",
            lambda w, t: _member_change(w, "remove", w.outsiders(batch)),
        ),
        Operation("get_group", "GET group (10 members)", lambda w, t: Call("GET", f"{GROUPS}/{w.engineering}")),
        Operation(
            "list_groups",
            "list groups, excludedAttributes=members",
            lambda w, t: Call("GET", GROUPS, query={"excludedAttributes": "members"}),
        ),
    ]


@dataclass
class Measurements:
    """Every timed run of one operation: latencies and the DynamoDB work of each."""

    operation: Operation
    latencies_ms: list[float] = field(default_factory=list)
    works: list[Work] = field(default_factory=list)
    authorizer: Work = field(default_factory=Work)
    routes: list[RouteTime] = field(default_factory=list)
    """The API Lambda's part of each run: the route alone, as behind API Gateway's authorizer cache."""
    in_sequence: list[RouteTime] = field(default_factory=list)
    """The route of each run of the round run again with its calls made one after another (:func:`measure`)."""
    trail: Work = field(default_factory=Work)
    """What the request added to the activity trail (not in ``works``)."""
    logs: list[Logged] = field(default_factory=list)
    """The log lines each run wrote."""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def route_ms(self) -> float:
        """Median wall time of the route alone (moto's DynamoDB included)."""
        return statistics.median(route.wall_ms for route in self.routes)

    @property
    def cpu_ms(self) -> float:
        """Median CPU of our code in the route, everything but moto, its calls made one after another."""
        return statistics.median(route.cpu_ms for route in self.in_sequence)

    @property
    def pooled_cpu_ms(self) -> float:
        """Median CPU of the route as it runs, its pool's threads contending with moto for the GIL."""
        return statistics.median(route.cpu_ms for route in self.routes)

    def modelled_ms(self, round_trip_ms: float) -> float:
        """What the route would take on DynamoDB: our CPU plus one round trip per call in sequence (median of runs)."""
        return statistics.median(
            route.cpu_ms + round_trip_ms * work.round_trips
            for route, work in zip(self.in_sequence, self.works, strict=True)
        )

    @property
    def p95_ms(self) -> float:
        """Nearest-rank 95th percentile."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def work(self) -> Work:
        """The largest work of any run; runs of one operation do the same work unless a retry happened."""
        return max(self.works, key=lambda work: (work.items, len(work.calls)))

    @property
    def steady(self) -> bool:
        return len({(w.calls, w.items_read, w.items_written) for w in self.works}) == 1


class BenchError(RuntimeError):
    """An operation answered something other than what it must: the figures would mean nothing."""


@dataclass(frozen=True)
class Run:
    """One timed request: its latency, the route's part of it, and the DynamoDB work of the route and the authorizer."""

    latency_ms: float
    route: RouteTime
    work: Work
    authorizer: Work
    trail: Work
    """What the request added to the activity trail (not in ``work``)."""
    logged: Logged = field(default_factory=Logged)


def run_once(world: World, counter: WorkCounter, operation: Operation, tag: str) -> Run:
    """Send the operation's request once."""
    call = operation.prepare(world, f"{tag}-{operation.name}")
    client = world.floor if operation.floor else world.scim
    world.clock.last = None
    with counter.measure() as measured, logged() as lines:
        started = time.perf_counter()
        status, body = client.request(call.method, call.path, call.body, call.query)
        elapsed = (time.perf_counter() - started) * 1000
    if status != call.expect:
        raise BenchError(f"{operation.name}: {call.method} {call.path} answered {status}, not {call.expect}: {body}")
    if world.clock.last is None:
        raise BenchError(f"{operation.name}: the request never reached a route")
    if operation.after is not None:
        operation.after(world, body)
    return Run(elapsed, world.clock.last, measured.work, measured.authorizer, measured.trail, lines)


def measure(
    world: World, counter: WorkCounter, operations: list[Operation], rounds: int, warmup: int, phase: str
) -> dict[str, Measurements]:
    """Run every operation once per round, in order, so that drift spreads evenly; then the round again, every
    DynamoDB call made in the request's own thread, one after another, for the CPU of our code.

    The first ``warmup`` rounds are not recorded (the first SCIM request loads scim2 and builds the
    provider); an operation with ``max_rounds`` skips them and runs only its first measured rounds.

    Why the CPU comes from the second run: on DynamoDB the pool's threads (chalicelib/store/waves.py)
    spend a call waiting on the network, the GIL free, so calls made at once cost the CPU they cost in
    sequence (4 GetItems against a simulated 4 ms network, 2026-11-29: 1.79 ms of CPU one after another,
    1.85 ms two by two). On moto each call is CPU-bound work holding the GIL, and threads running at once
    contend for it: GET user took 4.7 ms of CPU pooled and 3.2 ms in sequence. Latency, calls and round
    trips come from the first run, as the request runs; the second counts nothing (the counter's hooks,
    which read moto's items around every write to count write units, would be counted as our CPU).
    """
    results = {operation.name: Measurements(operation) for operation in operations}
    for round_number in range(warmup + rounds):
        for sequential in (False, True):
            for operation in operations:
                measured_round = round_number - warmup
                limit = operation.max_rounds
                if limit is not None and not 0 <= measured_round < limit:
                    continue
                with ExitStack() as stack:
                    if sequential:
                        stack.enter_context(in_sequence())
                        stack.enter_context(counter.paused())
                    run = run_once(world, counter, operation, f"{phase}-{round_number}{'-s' if sequential else ''}")
                if measured_round < 0:
                    continue
                result = results[operation.name]
                if sequential:
                    result.in_sequence.append(run.route)
                    continue
                result.latencies_ms.append(run.latency_ms)
                result.routes.append(run.route)
                result.works.append(run.work)
                result.authorizer = run.authorizer
                result.trail = run.trail
                result.logs.append(run.logged)
    return results
