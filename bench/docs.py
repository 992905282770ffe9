"""``docs/reference/performance-figures.md``, rendered from ``bench/results.json`` and ``bench/load.json``.

``python -m bench.docs`` (``make docs``) writes the page; ``--check`` writes nothing and fails when the
committed page is not what the committed JSON renders (``tests/test_docs.py``). The figures are
never pasted by hand: after a ``make bench`` or ``make load`` worth keeping, run ``make docs`` and
commit the JSON with the page. What the figures mean is ``docs/design/performance.md``.
"""

import json
import sys
from pathlib import Path
from typing import Any

from bench.cost import cost_tables
from bench.lambda_memory import INVOCATIONS_A_MONTH
from bench.operations import operations
from bench.report import ROUND_TRIP_MS
from infra import generated_page

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_DIR / "bench" / "results.json"
LOAD = PROJECT_DIR / "bench" / "load.json"
PAGE = PROJECT_DIR / "docs" / "reference" / "performance-figures.md"
COLD_LABELS = {
    "floor": "floor: `import chalice, boto3`",
    "authorizer": "authorizer: import `app`, answer one token",
    "route": "SCIM route: import `app`, serve `GET /Users/{id}`",
}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _labels() -> dict[str, str]:
    return {operation.name: operation.label for operation in operations()}


def _per_operation(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    rows = [
        [
            labels.get(name, name),
            f"{op['median_ms']:.1f}",
            f"{op['ratio_to_floor']:.2f}",
            f"{op['route_ms']:.1f}",
            f"{op['route_ratio_to_floor']:.2f}",
            f"{op['cpu_ms']:.1f}",
            str(op["round_trips"]),
            f"{op['modelled_ms']:.1f}",
            str(op["ddb_calls"]),
            f"{op['items_read']} / {op['items_written']}",
            str(op["write_units"]),
        ]
        for name, op in results["ops"].items()
    ]
    header = ["operation", "median ms", "× floor", "route ms", "× route floor", "CPU ms", "trips in sequence"]
    header += ["modelled ms", "DynamoDB calls", "items read / written", "write units"]
    return [
        "## Per operation",
        "",
        f"Floor {results['floor_ms']} ms, route-only floor {results['route_floor_ms']} ms; modelled = CPU + "
        f"{results.get('round_trip_ms', ROUND_TRIP_MS):g} ms a round trip in sequence. The authorizer's two "
        'GetItems come on top of every "median ms" and are not in the DynamoDB counts.',
        "",
        *_table(header, rows),
    ]


def _scaling(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    rows = [
        [labels.get(name, name), str(entry["small"]), str(entry["large"]), f"{entry['ratio']:.2f}"]
        for name, entry in results["scaling"].items()
    ]
    return [
        "## Scaling",
        "",
        "DynamoDB items read and written at the small and the large size (1,000 and 100,000 users in a full "
        "`make bench`; member changes on a group of 10 and of 50,000 members):",
        "",
        *_table(["operation", "items, small", "items, large", "ratio"], rows),
    ]


def _cold_start(cold: dict[str, Any]) -> list[str]:
    artifact = cold.get("artifact")

    def figures(tree: dict[str, Any], kind: str) -> str:
        if kind == "floor":
            return f"{tree['floor_ms']:,.0f} ms"
        return f"{tree[kind]['ms']:,.0f} ms ({tree[kind]['ratio']:.2f}×)"

    header = ["cold start", "venv"]
    if artifact is not None:
        header += ["package", "package without `.pyc`"]
    rows = []
    for kind, label in COLD_LABELS.items():
        row = [label, figures(cold, kind)]
        if artifact is not None:
            row += [figures(artifact, kind), f"{artifact['without_bytecode_ms'][kind]:,.0f} ms"]
        rows.append(row)
    lines = ["## Cold start", "", *_table(header, rows)]
    if artifact is not None:
        lines += [
            "",
            f"The package: {artifact['files']:,} files, {artifact['compiled_files']:,} of them `.pyc`, "
            f"{artifact['zip_mb']} MB zipped.",
        ]
    return lines


def _activity(results: dict[str, Any]) -> list[str]:
    trail = results["activity"]["trail"]
    written = [name for name, entry in trail.items() if entry["ddb_calls"]]
    metrics = results["activity"]["metrics_library"]
    return [
        "## Activity trail and metrics",
        "",
        f"{len(written)} of {len(trail)} operations leave a trail entry, each "
        f"{' and '.join(sorted({str(trail[name]['ddb_calls']) for name in written}))} call(s) writing "
        f"{' and '.join(sorted({str(trail[name]['items_written']) for name in written}))} item(s). "
        f"The metrics library costs {metrics['import_ms']:.1f} ms of import in a cold SCIM route "
        f"({100 * metrics['share_of_route_cold_start']:.0f}% of its cold start); an allowed request's "
        f"authorizer loads it: {'yes' if metrics['authorizer_allow_loads_it'] else 'no'}.",
    ]


def _authorizer_memory(results: dict[str, Any]) -> list[str]:
    rows = [
        [f"{c['memory_mb']:,} MB", f"{c['cold_ms']:.0f} ms", f"{c['warm_ms']:.1f} ms", f"${c['dollars_a_month']:.4f}"]
        for c in results["authorizer_memory"]
    ]
    return [
        "## Authorizer memory",
        "",
        f"Modelled for one credential in use all month ({INVOCATIONS_A_MONTH:,} invocations, 1 in 60 cold):",
        "",
        *_table(["authorizer memory", "cold start", "warm", "cost a month"], rows),
    ]


def _load(load: dict[str, Any]) -> list[str]:
    ratio = load["creates_per_s_start"] / load["creates_per_s_end"] if load["creates_per_s_end"] else float("inf")
    return [
        "## `make load`",
        "",
        f"Revision `{load['revision']}`: {load['users']:,} users created by {load['clients']} clients in "
        f"{load['seconds']:.0f} s, {load['errors']} errors. Creates/s over the first tenth "
        f"{load['creates_per_s_start']} and over the last {load['creates_per_s_end']} ({ratio:.2f}×); "
        f"server RSS {load['rss_mb_start']:.0f} MB at start, {load['rss_mb_end']:.0f} MB at the end. "
        f"Then {load['reads']} reads each: GET user p50 {load['get_p50_ms']} ms, `userName eq` p50 "
        f"{load['filter_p50_ms']} ms, `GET /ServiceProviderConfig` p50 {load['service_provider_config_p50_ms']} ms.",
        "",
        "Creates/s by tenth: " + ", ".join(str(value) for value in load["creates_per_s_by_tenth"]) + ".",
    ]


def _cost(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    cost = results.get("cost")
    if cost is None:  # a results.json from before the cost model
        return []
    lines = ["## Cost", ""]
    for caption, header, rows in cost_tables(cost, labels):
        lines += [caption, "", *_table(header, rows), ""]
    return lines


def render(results: dict[str, Any], load: dict[str, Any], labels: dict[str, str]) -> str:
    lines = [
        "# Performance figures",
        "",
        "<!-- Generated by `python -m bench.docs` (`make docs`) from bench/results.json and bench/load.json:",
        "     run `make bench` / `make load`, then `make docs`. tests/test_docs.py fails when it is stale. -->",
        "",
        "The last recorded `make bench` (`bench/results.json`) and `make load` (`bench/load.json`). How they",
        "are measured, what each column means and why the code is shaped as it is:",
        "[Performance: the method](../design/performance.md). Figures from another machine do not compare;",
        "the ratios to a floor measured in the same run do.",
        "",
        *_per_operation(results, labels),
        "",
        *_scaling(results, labels),
        "",
        *_cold_start(results["cold_start"]),
        "",
        *_activity(results),
        "",
        *_authorizer_memory(results),
        "",
        *_cost(results, labels),
        "## Memory",
        "",
        f"Peak RSS of the bench process at the large size {results['peak_rss_mb']['bench']:,.0f} MB; a cold "
        f"process serving one request {results['peak_rss_mb']['cold']:,.0f} MB.",
        "",
        *_load(load),
    ]
    return "\n".join(lines) + "\n"


def page() -> str:
    """The page as the committed JSON renders it."""
    return render(json.loads(RESULTS.read_text()), json.loads(LOAD.read_text()), _labels())


def main(argv: list[str] | None = None) -> int:
    return generated_page.main(PAGE, page, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
