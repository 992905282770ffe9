"""What a run found: ``results.json`` (one shape, so that runs compare over time), the printed tables, the targets."""

import math
import statistics
from dataclasses import dataclass
from typing import Any

from bench.runner import BenchRun
from bench.work import Work

WRITE_CALLS = {"TransactWriteItems", "BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem"}


def _round(value: float) -> float:
    return round(value, 2)


def results(bench: BenchRun) -> dict[str, Any]:
    """The run as ``bench/results.json`` records it (issue #8 fixes the shape)."""
    floor = bench.floor_ms
    ops = {
        name: {
            "median_ms": _round(m.median_ms),
            "p95_ms": _round(m.p95_ms),
            "ratio_to_floor": _round(m.median_ms / floor),
            "ddb_calls": len(m.work.calls),
            "items_read": m.work.items_read,
            "items_written": m.work.items_written,
        }
        for name, m in bench.small.items()
        if not m.operation.floor
    }
    scaling = {}
    for name, large in bench.large.items():
        if large.operation.floor:
            continue
        small_items, large_items = bench.small[name].work.items, large.work.items
        scaling[name] = {"small": small_items, "large": large_items, "ratio": _ratio(large_items, small_items)}
    cold = bench.cold
    return {
        "floor_ms": _round(floor),
        "ops": ops,
        "scaling": scaling,
        "cold_start": {
            "authorizer": {"ms": _round(cold.median("authorizer")), "ratio": _round(cold.ratio("authorizer"))},
            "route": {"ms": _round(cold.median("route")), "ratio": _round(cold.ratio("route"))},
            "floor_ms": _round(cold.median("floor")),
        },
        "peak_rss_mb": {"bench": _round(bench.peak_rss_mb), "cold": _round(max(cold.rss_mb["route"]))},
        "activity": activity(bench),
    }


def activity(bench: BenchRun) -> dict[str, Any]:
    """What the activity trail adds to each operation, and what the metrics library adds to a cold start."""
    cold = bench.cold
    import_ms = statistics.median(cold.metrics_import_ms) if cold.metrics_import_ms else 0.0
    return {
        "trail": {
            name: {"ddb_calls": len(m.trail.calls), "items_written": m.trail.items_written}
            for name, m in bench.small.items()
            if not m.operation.floor
        },
        "metrics_library": {
            "import_ms": _round(import_ms),
            "share_of_route_cold_start": _round(import_ms / cold.median("route")) if cold.ms["route"] else 0.0,
            "authorizer_allow_loads_it": cold.authorizer_loads_metrics,
        },
    }


def _ratio(large: float, small: float) -> float:
    """large / small; from nothing to something counts as growing by that something (JSON has no infinity)."""
    if small == 0:
        return 1.0 if large == 0 else float(large)
    return _round(large / small)


@dataclass(frozen=True)
class Target:
    text: str
    met: bool
    found: str


def _writes(work: Work) -> int:
    return sum(1 for call in work.calls if call in WRITE_CALLS)


def targets(bench: BenchRun) -> list[Target]:
    """Issue #8's targets, each with what this run found; printed, never enforced."""
    found = results(bench)
    ops, sizes, cold = found["ops"], bench.sizes, found["cold_start"]
    work = {name: m.work for name, m in bench.small.items()}
    growing = {name: entry["ratio"] for name, entry in found["scaling"].items() if entry["ratio"] != 1.0}
    batch = f"patch_group_add_{sizes.batch}"
    batch_writes, batch_reads = _writes(work[batch]), len(work[batch].calls) - _writes(work[batch])
    write_bound = 1 + math.ceil(sizes.batch / 25)
    read_bound = 2 + 2 * math.ceil(sizes.batch / 100)
    return [
        Target(
            f"GET user by id within 1.5x the floor ({sizes.users:,} users)",
            ops["get_user"]["ratio_to_floor"] <= 1.5,
            f"{ops['get_user']['ratio_to_floor']}x",
        ),
        Target(
            f"userName eq within 2x the floor ({sizes.users:,} users)",
            ops["filter_user_name"]["ratio_to_floor"] <= 2.0,
            f"{ops['filter_user_name']['ratio_to_floor']}x",
        ),
        Target(
            f"DynamoDB work of every indexed operation the same at {sizes.users:,} and {sizes.large_users:,} users, "
            f"and of member add/remove at {sizes.small_group} and {sizes.large_group:,} members",
            not growing,
            "ratio 1.0 for all" if not growing else ", ".join(f"{name} {ratio}" for name, ratio in growing.items()),
        ),
        Target("GET user: 1 DynamoDB call", len(work["get_user"].calls) == 1, work["get_user"].summary()),
        Target(
            "userName eq: at most 2 DynamoDB calls",
            len(work["filter_user_name"].calls) <= 2,
            work["filter_user_name"].summary(),
        ),
        Target(
            "PATCH user: at most 2 DynamoDB calls", len(work["patch_user"].calls) <= 2, work["patch_user"].summary()
        ),
        Target(
            f"add {sizes.batch} members: at most 1 + {sizes.batch}/25 writes plus the existence checks",
            batch_writes <= write_bound and batch_reads <= read_bound,
            f"{batch_writes} write calls (bound {write_bound}), {batch_reads} reads (bound {read_bound}): "
            f"{work[batch].summary()}",
        ),
        Target(
            "authorizer cold start within 1.3x the floor",
            cold["authorizer"]["ratio"] <= 1.3,
            f"{cold['authorizer']['ratio']}x",
        ),
        Target(
            "authorizer cold start loads neither scim2 nor pydantic",
            not bench.cold.authorizer_loads_protocol,
            "loads them" if bench.cold.authorizer_loads_protocol else "neither loaded",
        ),
        Target(
            "SCIM route cold start within 3x the floor", cold["route"]["ratio"] <= 3.0, f"{cold['route']['ratio']}x"
        ),
        Target(
            "activity trail: at most one write call per SCIM request",
            all(entry["ddb_calls"] <= 1 for entry in found["activity"]["trail"].values()),
            ", ".join(sorted({bench.small[name].trail.summary() for name in found["activity"]["trail"]})),
        ),
        Target(
            "an authorizer allowing a request loads no metrics library",
            not bench.cold.authorizer_loads_metrics,
            "loads it" if bench.cold.authorizer_loads_metrics else "not loaded",
        ),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, rows)]


def render(bench: BenchRun) -> str:
    """The tables a person reads: per operation, scaling, cold start, memory, targets."""
    found = results(bench)
    sizes, floor = bench.sizes, found["floor_ms"]
    authorizer = bench.small["get_user"].authorizer
    lines = [
        f"Revision {bench.revision}. Per operation, {sizes.users:,} users, {sizes.rounds} rounds, in-process "
        "(chalice.test.Client, moto). "
        f"Floor: {floor} ms median (GetItem behind the same authorizer).",
        f"DynamoDB work is the route's; the authorizer adds {authorizer.summary()} to every request, floor included.",
        "",
    ]
    rows = []
    for name, m in bench.small.items():
        if m.operation.floor:
            continue
        entry = found["ops"][name]
        steady = "" if m.steady else " (varies: max shown)"
        rows.append(
            [
                m.operation.label,
                f"{entry['median_ms']:.1f}",
                f"{entry['p95_ms']:.1f}",
                f"{entry['ratio_to_floor']:.2f}",
                str(entry["ddb_calls"]),
                str(entry["items_read"]),
                str(entry["items_written"]),
                m.work.summary() + steady,
            ]
        )
    lines += _table(["operation", "median ms", "p95 ms", "x floor", "calls", "read", "written", "calls made"], rows)
    small_label, large_label = f"{sizes.users:,} users", f"{sizes.large_users:,} users"
    lines += [
        "",
        f"Scaling: DynamoDB items read + written at {small_label} and {large_label} "
        f"(member add/remove: {sizes.small_group} and {sizes.large_group:,} members); "
        f"loaded through the store in {bench.load_seconds:.0f} s (BatchWriteItem handed to moto's backend), "
        f"group grown in {bench.grow_seconds:.0f} s.",
        "moto's wall time grows with the table whatever the code does (its Query sorts the whole table, "
        "its GSI queries scan it): it is printed, but the work counts judge flatness.",
        "",
    ]
    rows = []
    for name, entry in found["scaling"].items():
        small, large = bench.small[name], bench.large[name]
        rows.append(
            [
                large.operation.label,
                str(entry["small"]),
                str(entry["large"]),
                f"{entry['ratio']:.2f}",
                f"{len(small.work.calls)} / {len(large.work.calls)}",
                f"{small.median_ms:.0f} / {large.median_ms:.0f}",
            ]
        )
    lines += _table(
        ["operation", "items small", "items large", "ratio", "calls small / large", "moto's ms small / large"], rows
    )
    lines.append(
        f"(the non-indexed filter reads every user: not compared; floor under moto at {large_label}: "
        f"{bench.large['floor'].median_ms:.0f} ms)"
    )
    cold = found["cold_start"]
    lines += [
        "",
        f"Cold start, fresh processes, median of {sizes.cold_repeats} (DynamoDB: a moto server on 127.0.0.1):",
        "",
        *_table(
            ["cold start", "median ms", "x floor"],
            [
                ['floor: python -c "import chalice, boto3"', f"{cold['floor_ms']:.0f}", "1.00"],
                [
                    "authorizer: import app, answer one token",
                    f"{cold['authorizer']['ms']:.0f}",
                    f"{cold['authorizer']['ratio']:.2f}",
                ],
                [
                    "SCIM route: import app, GET /Users/{id}",
                    f"{cold['route']['ms']:.0f}",
                    f"{cold['route']['ratio']:.2f}",
                ],
            ],
        ),
    ]
    trail = found["activity"]["trail"]
    written = [name for name, entry in trail.items() if entry["ddb_calls"]]
    metrics_library = found["activity"]["metrics_library"]
    lines += [
        "",
        f"Activity trail: {len(written)} of {len(trail)} operations leave an entry, each one PutItem of one item "
        "(the writes; reads leave none), after the SCIM write and apart from the route's figures above: "
        + (", ".join(f"{name} {bench.small[name].trail.summary()}" for name in written) or "none"),
        f"Metrics library (Powertools Metrics): {metrics_library['import_ms']:.0f} ms of import in a cold SCIM "
        f"route ({100 * metrics_library['share_of_route_cold_start']:.0f}% of its cold start, -X importtime, "
        f"median of {len(bench.cold.metrics_import_ms)}); an authorizer allowing a request loads it: "
        f"{'yes' if metrics_library['authorizer_allow_loads_it'] else 'no'} (it loads on a first refusal or error).",
    ]
    for kind, imports in bench.cold.top_imports.items():
        lines.append(
            f"top imports of the {kind} by cumulative time (-X importtime): "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports)
        )
    lines += [
        "",
        f"Peak RSS: this process at {sizes.large_users:,} users {found['peak_rss_mb']['bench']:.0f} MB "
        f"(moto holds every item); a cold process serving one request {found['peak_rss_mb']['cold']:.0f} MB.",
        "",
        "Targets (printed, not enforced):",
    ]
    lines += [f"  [{'met' if t.met else 'NOT met'}] {t.text}: {t.found}" for t in targets(bench)]
    lines.append(f"\nRun took {bench.seconds:.0f} s.")
    return "\n".join(lines)
