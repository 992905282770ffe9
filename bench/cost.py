"""What an operation and a tenant cost on AWS, priced from ``bench/prices.json`` (one region, dated).

Per operation, from the figures of the same run: one API Gateway request; one Lambda request and its
duration at the route's configured memory (our CPU scaled to the memory's share of a vCPU, plus 4 ms
for each DynamoDB round trip in sequence, the trail's write included), in GB-seconds; DynamoDB read
and write request units as on-demand bills them (the route's and the trail's); and the bytes its
log lines ingest into CloudWatch Logs (ours, measured, plus Lambda's START/END/REPORT lines).

A tenant is priced from its IdP's pattern (:mod:`bench.tenant_model`): how many of each operation a
month, how many authorizer invocations (API Gateway caches an allow for 60 s), and how many cold
starts (Lambda bills the init phase as duration; from the package's measured cold starts).
"""

import json
import math
from pathlib import Path
from typing import Any

from bench.lambda_memory import FULL_VCPU_MB
from bench.tenant_model import GROUP_CREATE, MEMBER_BATCH, PATTERNS, TENANT, Pattern

PRICES = Path(__file__).resolve().parent / "prices.json"
CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
STAGE = "prod"
LAMBDA_PLATFORM_LOG_BYTES = 330
"""Lambda's own START, END and REPORT lines of one invocation, about this many bytes."""
LOG_EVENT_OVERHEAD_BYTES = 26
"""What CloudWatch Logs counts as ingested beside each event's text."""
GB = 1024**3


def prices() -> dict[str, Any]:
    return dict(json.loads(PRICES.read_text()))


def memory_mb() -> dict[str, int]:
    """The configured memory of the stage's two functions."""
    stage = json.loads(CONFIG.read_text())["stages"][STAGE]
    return {
        "route": int(stage["lambda_memory_size"]),
        "authorizer": int(stage["lambda_functions"]["scim_auth"]["lambda_memory_size"]),
    }


def _cpu_at(cpu_ms: float, memory: int) -> float:
    """A single-threaded function's CPU time at ``memory``: a share of one vCPU below 1,769 MB."""
    return cpu_ms * max(1.0, FULL_VCPU_MB / memory)


def _gb_seconds(ms: float, memory: int) -> float:
    return math.ceil(ms) / 1000 * memory / 1024  # billed per 1 ms


def operation_cost(op: dict[str, Any], round_trip_ms: float, price: dict[str, Any], memory: int) -> dict[str, Any]:
    """One operation's bill, in dollars per million operations, by service."""
    duration = _cpu_at(op["cpu_ms"], memory) + round_trip_ms * (op["round_trips"] + op["trail_round_trips"])
    log_events = op["log_lines"] + 3
    log_bytes = op["log_bytes"] + LAMBDA_PLATFORM_LOG_BYTES + LOG_EVENT_OVERHEAD_BYTES * log_events
    read_units = op["read_units"]
    write_units = op["write_units"] + op["trail_write_units"]
    per_million = {
        "api_gateway": price["api_gateway_rest_per_million_requests"],
        "lambda": price["lambda_per_million_requests"]
        + 1e6 * _gb_seconds(duration, memory) * price["lambda_per_gb_second"],
        "dynamodb_reads": read_units * price["dynamodb_per_million_read_units"],
        "dynamodb_writes": write_units * price["dynamodb_per_million_write_units"],
        "logs": 1e6 * log_bytes / GB * price["cloudwatch_logs_per_gb_ingested"],
    }
    return {
        "billed_ms": math.ceil(duration),
        "read_units": read_units,
        "write_units": write_units,
        "log_bytes": log_bytes,
        "dollars_per_million": {name: round(value, 2) for name, value in per_million.items()},
        "total_per_million": round(sum(per_million.values()), 2),
    }


def _members_of(per_operation: dict[str, Any], form: str) -> int:
    """How many members the bench's operation of that form carried (``create_group_100``: 100)."""
    prefix = form.format("")
    return next(
        int(name[len(prefix) :]) for name in per_operation if name.startswith(prefix) and name[len(prefix) :].isdigit()
    )


def _cold_ms(results: dict[str, Any]) -> dict[str, float]:
    """Each function's cold start: from the package when it was measured (what Lambda runs), else the venv."""
    cold = results["cold_start"]
    source = cold.get("artifact", cold)
    return {kind: float(source[kind]["ms"]) for kind in ("route", "authorizer")}


def tenant_cost(
    pattern: Pattern, per_operation: dict[str, dict[str, Any]], results: dict[str, Any], price: dict[str, Any]
) -> dict[str, Any]:
    """A month (or an import) of one IdP's pattern for the model tenant, in dollars by service."""
    memory = memory_mb()
    by_service = {"api_gateway": 0.0, "lambda": 0.0, "dynamodb_reads": 0.0, "dynamodb_writes": 0.0, "logs": 0.0}
    requests = 0
    sizes = [_members_of(per_operation, form) for form in (GROUP_CREATE, MEMBER_BATCH)]
    for name, count in pattern.operations(TENANT, *sizes).items():
        requests += count
        for service, dollars in per_operation[name]["dollars_per_million"].items():
            by_service[service] += count * dollars / 1e6
    cold = _cold_ms(results)
    authorizers = pattern.authorizer_invocations(TENANT)
    colds = pattern.cold_starts(TENANT)
    warm_authorizer_ms = results["round_trip_ms"] * 2 + 1.0  # two reads; its CPU warm is about a millisecond
    authorizer_ms = colds * _cpu_at(cold["authorizer"], memory["authorizer"]) + authorizers * warm_authorizer_ms
    route_init_ms = colds * _cpu_at(cold["route"], memory["route"])
    by_service["lambda"] += (
        authorizers * price["lambda_per_million_requests"] / 1e6
        + (authorizer_ms / 1000 * memory["authorizer"] / 1024 + route_init_ms / 1000 * memory["route"] / 1024)
        * price["lambda_per_gb_second"]
    )
    # The authorizer's two reads of the credentials table, strongly consistent: a unit each.
    by_service["dynamodb_reads"] += authorizers * 2 * price["dynamodb_per_million_read_units"] / 1e6
    return {
        "requests": requests,
        "authorizer_invocations": authorizers,
        "cold_starts": colds,
        "dollars": {name: round(value, 4) for name, value in by_service.items()},
        "total_dollars": round(sum(by_service.values()), 4),
    }


def costs(results: dict[str, Any]) -> dict[str, Any]:
    """The ``cost`` part of ``results.json``: the prices, each operation's bill and the tenant model's."""
    price = prices()
    memory = memory_mb()
    per_operation = {
        name: operation_cost(op, results["round_trip_ms"], price, memory["route"])
        for name, op in results["ops"].items()
    }
    return {
        "prices": price,
        "memory_mb": memory,
        "per_operation": per_operation,
        "tenant": {
            "assumptions": TENANT.described(),
            **{
                pattern.name: {
                    "description": pattern.description,
                    **tenant_cost(pattern, per_operation, results, price),
                }
                for pattern in PATTERNS
            },
        },
    }


SERVICES = ("api_gateway", "lambda", "dynamodb_reads", "dynamodb_writes", "logs")
SERVICE_LABELS = ("API Gateway", "Lambda", "DynamoDB reads", "DynamoDB writes", "logs")


def cost_tables(cost: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The cost figures as (caption, header, rows): per operation in dollars per million, then the tenant model."""
    price = cost["prices"]
    memory = cost["memory_mb"]
    per_operation = [
        [
            labels.get(name, name),
            str(entry["billed_ms"]),
            f"{entry['read_units']:g}",
            str(entry["write_units"]),
            f"{entry['log_bytes']:,}",
            *(f"{entry['dollars_per_million'][service]:.2f}" for service in SERVICES),
            f"{entry['total_per_million']:.2f}",
        ]
        for name, entry in cost["per_operation"].items()
    ]
    header = ["operation", "billed ms", "RRU", "WRU", "log bytes", *(f"{s} $/M" for s in SERVICE_LABELS), "total $/M"]
    tenant = cost["tenant"]
    assumptions = tenant["assumptions"]
    patterns = [name for name in tenant if name != "assumptions"]
    tenant_rows = [
        [
            tenant[name]["description"],
            f"{tenant[name]['requests']:,}",
            f"{tenant[name]['authorizer_invocations']:,}",
            f"{tenant[name]['cold_starts']:,}",
            *(f"{tenant[name]['dollars'][service]:.4f}" for service in SERVICES),
            f"{tenant[name]['total_dollars']:.4f}",
        ]
        for name in patterns
    ]
    tenant_header = ["pattern", "SCIM requests", "authorizer calls", "cold starts", *(f"{s} $" for s in SERVICE_LABELS)]
    return [
        (
            f"Cost per operation, in dollars per million requests ({price['region']}, prices of {price['as_of']}, "
            f"bench/prices.json): the route at {memory['route']} MB billed for our CPU at that memory's share of a "
            "vCPU plus 4 ms a round trip (the trail's write included); read and write request units on demand, the "
            "trail's included; log bytes ingested (ours plus Lambda's START/END/REPORT lines). The authorizer is "
            "not in these rows: API Gateway caches its allow for 60 s, so it is priced per minute of use below.",
            header,
            per_operation,
        ),
        (
            f"Tenant model: {assumptions['users']:,} users, {assumptions['groups']} groups, "
            f"{assumptions['memberships_per_user']} groups a user; a month brings {assumptions['joiners_a_month']} "
            f"joiners, {assumptions['leavers_a_month']} leavers, {assumptions['updates_a_month']:,} profile updates "
            "and "
            f"{assumptions['membership_changes_a_month']} membership changes (bench/tenant_model.py states each "
            "assumption). Cold starts are of each function; Lambda bills their init as duration.",
            [*tenant_header, "total $"],
            tenant_rows,
        ),
    ]
