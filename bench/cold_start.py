"""Cold starts, each in a fresh process: the authorizer's and a SCIM route's, against importing chalice and boto3.

A moto server in this process plays DynamoDB over HTTP on 127.0.0.1, holding the tenant, its
credential and one user, so that a probe (:mod:`bench.cold_probe`) imports nothing but what the
Lambda would. Each kind runs ``repeats`` times, interleaved, and the median counts; one more run
of each under ``-X importtime`` names the imports that cost the most. Each kind runs twice: from
this checkout (the development venv, with the bytecode pip compiled at install), and from the
package ``chalice deploy`` uploads, unpacked read-only as Lambda runs it (:mod:`bench.artifact`).
The metrics library (Powertools Metrics, :mod:`chalicelib.metrics`) is timed on its own the same
way: what it adds to a route's cold start, and that an authorizer allowing a request never loads it.
"""

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace

from bench.artifact import Artifact, probe_command, unpacked
from bench.world import PROJECT_DIR, TENANT, issue_credential, tenant_storage, use_bench_environment, user_records
from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.tables import create_tables
from devserver.embedded_dynamodb import dynamodb_server
from devserver.ports import free_port

KINDS = ("floor", "authorizer", "route")
TOP_IMPORTS = 8
METRICS_LIBRARY = "aws_lambda_powertools"
# What a route's first request imports on top of app.py for its metrics; the authorizer's allow path stops before.
METRICS_PROBE = (
    "import sys, app; from chalicelib.auth.authorizer import authenticate; "
    f"print({METRICS_LIBRARY!r} in sys.modules); import chalicelib.metrics"
)


@dataclass
class ColdStarts:
    ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    warm_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    authorizer_loads_protocol: bool = False
    top_imports: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    artifact_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    """The same kinds, run from the unpacked deployment package (its floor imports its own chalice and boto3)."""
    artifact: Artifact | None = None
    artifact_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    """The CPU of each cold start from the package (what Lambda's memory size scales)."""
    artifact_warm_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    """The CPU of one more request once warm, from the package."""
    source_only_ms: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    """The same kinds from the package with its bytecode left out (a deploy without ``make bytecode``)."""
    metrics_import_ms: list[float] = field(default_factory=list)
    """Each fresh process's import of the metrics library, after app.py (-X importtime, cumulative)."""
    authorizer_loads_metrics: bool = False

    def median(self, kind: str) -> float:
        return statistics.median(self.ms[kind])

    def ratio(self, kind: str) -> float:
        return self.median(kind) / self.median("floor")

    def artifact_median(self, kind: str) -> float:
        return statistics.median(self.artifact_ms[kind])

    def artifact_ratio(self, kind: str) -> float:
        return self.artifact_median(kind) / self.artifact_median("floor")

    def source_only_median(self, kind: str) -> float:
        return statistics.median(self.source_only_ms[kind])


@contextmanager
def _dynamodb_server() -> Iterator[dict[str, str]]:
    """A moto server with the tenant, its credential and one user; yields the probes' environment."""
    use_bench_environment()
    with dynamodb_server(free_port()) as endpoint:
        try:
            config = replace(settings(), dynamodb_endpoint_url=endpoint)
            client = connection.dynamodb(config)
            create_tables(client, config)
            client_id, authorization = issue_credential(client, config)
            storage = tenant_storage(client, config)
            (user,) = user_records(storage, [0])
            storage.users.insert(user)
            yield {
                **os.environ,
                "DYNAMODB_ENDPOINT_URL": endpoint,
                "PYTHONPATH": str(PROJECT_DIR),
                "BENCH_AUTHORIZATION": authorization,
                "BENCH_CLIENT_ID": client_id,
                "BENCH_TENANT": TENANT,
                "BENCH_USER_ID": user.id,
            }
        finally:
            connection.reset()


def _probe(kind: str, environment: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *options, "-m", "bench.cold_probe", kind]
    return subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=True)


def _result(kind: str, completed: subprocess.CompletedProcess[str]) -> dict[str, float | bool]:
    result: dict[str, float | bool] = json.loads(completed.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise RuntimeError(f"the cold {kind} probe answered wrongly: {completed.stdout}{completed.stderr}")
    return result


def metrics_library_import(environment: dict[str, str]) -> tuple[float, bool]:
    """The ms a fresh process spends importing the metrics library after app.py, and whether app.py and the
    authorizer had loaded it already."""
    command = [sys.executable, "-X", "importtime", "-c", METRICS_PROBE]
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=True)
    imports = dict(top_imports(completed.stderr, count=10_000))
    return imports.get(METRICS_LIBRARY, 0.0), completed.stdout.strip() == "True"


def top_imports(importtime: str, count: int = TOP_IMPORTS) -> list[tuple[str, float]]:
    """The slowest imports by cumulative time (ms), from ``-X importtime``'s report on stderr."""
    found: list[tuple[str, float]] = []
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        found.append((name.strip(), int(cumulative) / 1000))
    return sorted(found, key=lambda entry: entry[1], reverse=True)[:count]


def _artifact_probe(artifact: Artifact, kind: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command, probe_environment = probe_command(artifact, kind, environment)
    return subprocess.run(command, cwd=artifact.root, env=probe_environment, capture_output=True, text=True, check=True)


def _settle(environment: dict[str, str], artifact: Artifact | None) -> None:
    """Every tree the probes run from written out and read once before any probe is timed.

    The package is unpacked (some 4,500 files) and copied without its bytecode just before the
    probes: timed at once, the first ones shared the disk with the kernel writing those files back,
    and the route from the package measured 3.04 times its floor in a ``make bench`` where, the trees
    settled, the same code measured 2.87 (7 rounds each, the same hour).
    """
    trees = [] if artifact is None else [artifact, artifact.without_bytecode()]
    os.sync()
    for kind in KINDS:  # one untimed round: each tree's files read as every timed round reads them
        _probe(kind, environment)
        for tree in trees:
            _artifact_probe(tree, kind, environment)


def measure_cold_starts(repeats: int, import_profile: bool = True, package: bool = True) -> ColdStarts:
    """The cold starts, ``repeats`` of each kind from each tree; with ``import_profile``, the top imports too.

    :param package: Whether to build the package and measure from it too (``chalice package`` downloads the
        Lambda's wheels from PyPI).
    """
    cold = ColdStarts()
    with _dynamodb_server() as environment, unpacked() if package else nullcontext() as artifact:
        cold.artifact = artifact
        _settle(environment, artifact)
        for _ in range(repeats):
            for kind in KINDS:
                result = _result(kind, _probe(kind, environment))
                cold.ms[kind].append(float(result["ms"]))
                cold.cpu_ms[kind].append(float(result["cpu_ms"]))
                cold.warm_cpu_ms[kind].append(float(result["warm_cpu_ms"]))
                cold.rss_mb[kind].append(float(result["rss_mb"]))
                if kind == "authorizer":
                    cold.authorizer_loads_protocol |= bool(result["protocol_loaded"])
                if artifact is None:
                    continue
                from_artifact = _result(kind, _artifact_probe(artifact, kind, environment))
                cold.artifact_ms[kind].append(float(from_artifact["ms"]))
                cold.artifact_cpu_ms[kind].append(float(from_artifact["cpu_ms"]))
                cold.artifact_warm_cpu_ms[kind].append(float(from_artifact["warm_cpu_ms"]))
                from_source = _result(kind, _artifact_probe(artifact.without_bytecode(), kind, environment))
                cold.source_only_ms[kind].append(float(from_source["ms"]))
            import_ms, loaded = metrics_library_import(environment)
            cold.metrics_import_ms.append(import_ms)
            cold.authorizer_loads_metrics |= loaded
        for kind in ("authorizer", "route") if import_profile else ():
            cold.top_imports[kind] = top_imports(_probe(kind, environment, "-X", "importtime").stderr)
    return cold
