"""The benchmark's machinery at a tiny size, so that ``make bench`` cannot rot between runs."""

import json
import os
from typing import Any

import pytest

from bench.people import CORE_USER, user_body
from bench.report import render, results
from bench.runner import Sizes, run
from bench.world import TENANT, World, moto_world
from chalicelib.config import settings

TINY = Sizes(
    users=20,
    large_users=40,
    large_group=20,
    rounds=1,
    warmup=1,
    large_rounds=1,
    cold_repeats=1,
    group_members=5,
    batch=5,
    import_profile=False,
    # Building the package downloads the Lambda's wheels from PyPI: `make test-deploy`, not `make test`.
    package=os.environ.get("SCIM_DEPLOY_TEST") == "1",
)
OPERATION_FIGURES = {
    "median_ms",
    "p95_ms",
    "ratio_to_floor",
    "ddb_calls",
    "items_read",
    "items_written",
    "route_ms",
    "route_ratio_to_floor",
    "cpu_ms",
    "pooled_cpu_ms",
    "round_trips",
    "modelled_ms",
    "write_units",
    "read_units",
    "trail_write_units",
    "trail_round_trips",
    "log_lines",
    "log_bytes",
}


def _tenant_items(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.client.query(
        TableName=settings().users_table,
        KeyConditionExpression="pk = :t",
        ExpressionAttributeValues={":t": {"S": TENANT}},
    )["Items"]
    return items


@pytest.mark.slow
def test_a_tiny_run_records_every_figure_of_results_json_and_counts_dynamodb_work_exactly() -> None:
    bench = run(TINY)
    found = json.loads(json.dumps(results(bench)))

    assert set(found) == {
        "floor_ms",
        "route_floor_ms",
        "round_trip_ms",
        "ops",
        "scaling",
        "cold_start",
        "peak_rss_mb",
        "authorizer_memory",
        "activity",
        "cost",
    }
    assert [choice["memory_mb"] for choice in found["authorizer_memory"]] == [512, 1024, 1769]
    assert all(set(figures) == OPERATION_FIGURES for figures in found["ops"].values())
    assert {"get_user", "filter_user_name", "filter_title", "patch_user", "create_group_5"} <= set(found["ops"])
    assert all(set(entry) == {"small", "large", "ratio"} for entry in found["scaling"].values())
    assert "filter_title" not in found["scaling"]
    assert set(found["cold_start"]) == {"authorizer", "route", "floor_ms"} | ({"artifact"} if TINY.package else set())
    assert all(set(found["cold_start"][kind]) == {"ms", "ratio"} for kind in ("authorizer", "route"))
    if TINY.package:
        artifact = found["cold_start"]["artifact"]
        assert all(set(artifact[kind]) == {"ms", "ratio"} for kind in ("authorizer", "route"))
        assert artifact["files"] > 0 and artifact["authorizer"]["ms"] > 0
        assert set(artifact["without_bytecode_ms"]) == {"floor", "authorizer", "route"}
    assert set(found["peak_rss_mb"]) == {"bench", "cold"}
    # The counts are exact: GET user by id reads the user, its memberships (one index query) and the tenant's role
    # mappings and settings (one query) at once, because the default response carries groups, roles and the role
    # source; its groups' names are the ones the container kept since the warm-up: one round trip.
    assert sorted(bench.small["get_user"].work.calls) == ["GetItem", "Query", "Query"]
    # A container that has not kept them reads the groups' names in a second trip.
    not_kept = bench.small["get_user_names_not_kept"].work
    assert (sorted(not_kept.calls), not_kept.round_trips) == (["BatchGetItem", "GetItem", "Query", "Query"], 2)
    # The authorizer reads the credential, then (its secret matching) the service account.
    assert bench.small["get_user"].authorizer.calls == ("GetItem", "GetItem")
    # A PATCH writes the user beside the reads its response needs; a create is one transaction of two small
    # items: 2 units each, plus the user's entry in the externalId index.
    assert bench.small["get_user"].work.round_trips == 1
    assert bench.small["patch_user"].work.round_trips == 2
    assert bench.small["filter_user_name"].work.round_trips == 2
    assert bench.small["filter_email"].work.round_trips == 2
    assert bench.small["filter_work_email"].work.round_trips == 2
    # A member add reads the group, the membership and the user's name at once, then writes, then reads the
    # version its commuting write left.
    assert bench.small["patch_group_add_member"].work.round_trips == 3
    # The user, its userName claim and its one email pointer, 2 units each in a transaction; 1 for the index entry.
    assert bench.small["create_user"].work.write_units == 3 * 2 + 1
    assert all(m.route_ms > 0 and m.cpu_ms > 0 and m.pooled_cpu_ms > 0 for m in bench.small.values())
    # Every measured run has its twin with the calls made one after another, for the CPU.
    assert all(len(m.in_sequence) == len(m.routes) == len(m.works) for m in bench.small.values())
    without_groups = bench.small["get_user_without_groups"].work
    assert (without_groups.calls, without_groups.items_read, without_groups.items_written) == (("GetItem",), 1, 0)
    assert bench.small["floor"].work.calls == ("GetItem",)
    assert found["scaling"]["get_user"]["ratio"] == 1.0
    assert not bench.cold.authorizer_loads_protocol
    assert not bench.cold.authorizer_loads_metrics and bench.cold.metrics_import_ms[0] > 0
    assert found["activity"]["trail"]["get_user"] == {"ddb_calls": 0, "items_written": 0}
    # Read units as on-demand DynamoDB bills them: one strongly consistent read of a small item is one.
    assert found["ops"]["get_user_without_groups"]["read_units"] == 1.0
    # Each operation writes its access line (with its metrics); a write's trail entry is priced with it.
    assert all(op["log_lines"] >= 1 and op["log_bytes"] > 200 for op in found["ops"].values())
    assert found["ops"]["patch_user"]["trail_write_units"] >= 1 and found["ops"]["patch_user"]["trail_round_trips"] == 1
    cost = found["cost"]
    assert cost["prices"]["region"] and cost["prices"]["as_of"]
    assert cost["memory_mb"] == {"route": 1024, "authorizer": 1769}
    assert set(cost["per_operation"]) == set(found["ops"])
    for entry in cost["per_operation"].values():
        assert entry["total_per_million"] == pytest.approx(sum(entry["dollars_per_million"].values()), abs=0.06)
        assert entry["dollars_per_million"]["api_gateway"] == cost["prices"]["api_gateway_rest_per_million_requests"]
    assert set(cost["tenant"]) == {"assumptions", "entra_incremental", "okta_push", "initial_import"}
    assert cost["tenant"]["entra_incremental"]["authorizer_invocations"] == 30 * 24 * 60 // 40
    assert all(
        cost["tenant"][name]["total_dollars"] > 0 for name in ("entra_incremental", "okta_push", "initial_import")
    )
    assert "Tenant model" in render(bench)
    assert "Targets" in render(bench)


def test_loaded_users_are_stored_as_a_scim_create_stores_them() -> None:
    with moto_world(1) as world:
        status, _ = world.scim.request("POST", "/scim/v2/Users", user_body(1))
        items = _tenant_items(world)

    assert status == 201
    users = [item for item in items if item["sk"]["S"].startswith("user#")]
    claims = [item for item in items if item["sk"]["S"].startswith("userName#")]
    assert len(users) == len(claims) == 2
    assert {frozenset(item) for item in users} == {frozenset(users[0])}
    assert {frozenset(json.loads(item["doc"]["S"])) for item in users} == {frozenset(json.loads(users[0]["doc"]["S"]))}
    assert {frozenset(item) for item in claims} == {frozenset(claims[0])}


def test_a_cancelled_transaction_leaves_nothing_behind_under_the_undo_log() -> None:
    with moto_world(1) as world:
        # A second user with the same userName: the user item goes in, its claim fails, the user must go again.
        status, _ = world.scim.request(
            "POST", "/scim/v2/Users", {"schemas": [CORE_USER], "userName": "USER000000@example.com"}
        )
        items = _tenant_items(world)

    assert status == 409
    assert len([item for item in items if item["sk"]["S"].startswith("user#")]) == 1
