"""``make load`` / ``make load-quick``: a bounded load run against a fresh ``make run``, over real HTTP.

Starts ``python -m devserver --no-tenant-limits`` on a free port of 127.0.0.1 (its own store file, so a
developer's ``make run`` is left alone), then drives it as an IdP's first sync does: ``clients`` threads, each
on one keep-alive connection, create ``users`` users between them; then one connection reads users
back by id and by ``userName eq``. It prints creates/s over the first and the last tenth of the
creates, every error, the server's RSS, the targets of issue #17 as met or not, and writes
``bench/load.json``.
Nothing here targets anything but 127.0.0.1.
"""

import argparse
import base64
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench.people import user_body, user_name
from devserver.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "load.json"
SCIM_JSON = "application/scim+json"
READS = 500
"""GETs by id, and as many ``userName eq`` filters, after the creates (the issue's 500 requests per phase)."""
PROBES = 200
"""Sequential GETs of /ServiceProviderConfig on one keep-alive connection: what shows a per-request stall."""
MAX_ERROR_SAMPLES = 5
RSS_TARGET_MB = 300.0
FLATNESS_TARGET = 1.5


@dataclass(frozen=True)
class Plan:
    users: int
    clients: int
    reads: int = READS
    probes: int = PROBES


@dataclass
class LoadResult:
    """``bench/load.json``: the keys issue #17 fixes first, then what explains them."""

    users: int
    clients: int
    errors: int
    rss_mb_end: float
    creates_per_s_start: float
    creates_per_s_end: float
    get_p50_ms: float
    reads: int = 0
    filter_p50_ms: float = 0.0
    service_provider_config_p50_ms: float = 0.0
    rss_mb_start: float = 0.0
    creates_per_s_by_tenth: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    revision: str = ""


@dataclass(frozen=True)
class DevServer:
    base_url: str
    authorization: str
    pid: int
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.base_url)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port

    @property
    def root(self) -> str:
        return urlsplit(self.base_url).path


@contextmanager
def fresh_devserver() -> Iterator[DevServer]:
    """``make run`` in a child process, on a free port, stopped with Ctrl-C's signal at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="scim-load-"))
    log = workdir / "devserver.log"
    environment = {key: value for key, value in os.environ.items() if key != "TABLE_PREFIX"}
    environment["SCIM_LOCAL_STORE_FILE"] = str(workdir / "store.json")
    with log.open("w") as stderr:
        process = subprocess.Popen(
            # The service's throughput, not the demo tenant's request limits (docs/operations/tenant-limits.md).
            [sys.executable, "-m", "devserver", "--port", str(free_port()), "--no-tenant-limits"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        lines = dict(process.stdout.readline().strip().split("=", 1) for _ in range(4))
        secret = f"{lines['SCIM_CLIENT_ID']}:{lines['SCIM_CLIENT_SECRET']}".encode()
        yield DevServer(lines["SCIM_BASE_URL"], f"Basic {base64.b64encode(secret).decode()}", process.pid, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rss_mb(pid: int) -> float:
    """A process's resident memory now (VmRSS), in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Client:
    """One IdP connection: HTTP/1.1 keep-alive, reconnecting only after the server closed it."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.connection = http.client.HTTPConnection(*server.address, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """Status, parsed body and milliseconds of one request; a transport failure is status 0."""
        headers = {"Accept": SCIM_JSON, "Authorization": self.server.authorization}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = SCIM_JSON
        started = time.perf_counter()
        try:
            self.connection.request(method, self.server.root + path, payload, headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            return 0, {"detail": f"{type(error).__name__}: {error}"}, (time.perf_counter() - started) * 1000
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.connection.close()
        return response.status, json.loads(raw) if raw else None, elapsed

    def close(self) -> None:
        self.connection.close()


@dataclass
class _Outcomes:
    """What the clients of one phase saw, gathered under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    finished_at: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def _run_clients(server: DevServer, clients: int, work: Callable[[Client, _Outcomes], None]) -> _Outcomes:
    outcomes = _Outcomes()

    def client_thread() -> None:
        client = Client(server)
        try:
            work(client, outcomes)
        finally:
            client.close()

    threads = [threading.Thread(target=client_thread, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _error(method: str, path: str, status: int, body: Any) -> str:
    detail = body.get("detail") if isinstance(body, dict) else body
    return f"{method} {path}: {status} {str(detail)[:200]}"


def create_users(server: DevServer, users: int, clients: int) -> tuple[_Outcomes, float]:
    """``users`` creates by ``clients`` connections at once; the outcomes and when the first one started."""
    next_index = itertools.count()
    take = threading.Lock()

    def creator(client: Client, outcomes: _Outcomes) -> None:
        while True:
            with take:
                index = next(next_index)
            if index >= users:
                return
            status, body, elapsed = client.request("POST", "/Users", user_body(index))
            with outcomes.lock:
                outcomes.finished_at.append(time.perf_counter())
                outcomes.latencies_ms.append(elapsed)
                if status == 201:
                    outcomes.created.append(str(body["id"]))
                else:
                    outcomes.errors.append(_error("POST", "/Users", status, body))

    started = time.perf_counter()
    return _run_clients(server, clients, creator), started


def read_users(server: DevServer, reads: int, clients: int, requests: Callable[[int], tuple[str, Any]]) -> _Outcomes:
    """``reads`` GETs shared by ``clients`` connections; ``requests(n)`` gives the n-th path and a check of its body.

    The load run reads on one connection, so that a latency is one request's, not a share of the server.
    """
    next_read = itertools.count()
    take = threading.Lock()

    def reader(client: Client, outcomes: _Outcomes) -> None:
        while True:
            with take:
                n = next(next_read)
            if n >= reads:
                return
            path, check = requests(n)
            status, body, elapsed = client.request("GET", path)
            with outcomes.lock:
                outcomes.latencies_ms.append(elapsed)
                if status != 200 or not check(body):
                    outcomes.errors.append(_error("GET", path, status, body))

    return _run_clients(server, clients, reader)


def _is_user(body: Any) -> bool:
    return isinstance(body, dict) and "userName" in body


def _finds_one(body: Any) -> bool:
    return isinstance(body, dict) and body.get("totalResults") == 1


def creates_per_second(started: float, finished_at: list[float], parts: int) -> list[float]:
    """Creates/s over each of ``parts`` equal slices of the creates, in the order they finished."""
    times = sorted(finished_at)
    if not times:
        return []
    rates = []
    edges = [round(len(times) * k / parts) for k in range(parts + 1)]
    for first, last in itertools.pairwise(edges):
        if last <= first:
            continue
        since = started if first == 0 else times[first - 1]
        rates.append((last - first) / max(times[last - 1] - since, 1e-9))
    return rates


def _revision() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    return described.stdout.strip() or "unknown"


def run(plan: Plan, progress: bool = False) -> LoadResult:
    """One load run against a fresh ``make run``."""
    started = time.perf_counter()

    def say(text: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    with fresh_devserver() as server:
        rss_start = rss_mb(server.pid)
        say(f"make run is up (pid {server.pid}, RSS {rss_start:.0f} MB); {plan.probes} GETs of ServiceProviderConfig")
        probe = Client(server)
        probes = [probe.request("GET", "/ServiceProviderConfig") for _ in range(plan.probes)]
        probe.close()
        errors = [_error("GET", "/ServiceProviderConfig", s, b) for s, b, _ in probes if s != 200]
        # The first SCIM request of a process loads scim2 and builds the provider: not part of any figure.
        warm_up = Client(server)
        warm_up.request("GET", "/Users?count=1")
        warm_up.close()
        say(f"creating {plan.users:,} users with {plan.clients} clients")
        created, creates_started = create_users(server, plan.users, plan.clients)
        errors += created.errors
        ids = created.created or [""]
        say(f"{len(created.created):,} created; {plan.reads} GETs by id, {plan.reads} userName filters")
        picks = random.Random(17)
        gets = read_users(
            server,
            plan.reads,
            1,
            lambda n: (f"/Users/{ids[picks.randrange(len(ids))]}", _is_user),
        )
        filters = read_users(
            server,
            plan.reads,
            1,
            lambda n: (
                "/Users?filter=" + quote(f'userName eq "{user_name(picks.randrange(plan.users)).upper()}"'),
                _finds_one,
            ),
        )
        errors += gets.errors + filters.errors
        rss_end = rss_mb(server.pid)
        if errors:
            say(f"the server's log: {server.log}")
    tenths = creates_per_second(creates_started, created.finished_at, 10)
    return LoadResult(
        users=plan.users,
        clients=plan.clients,
        errors=len(errors),
        rss_mb_end=round(rss_end, 1),
        creates_per_s_start=round(tenths[0], 1) if tenths else 0.0,
        creates_per_s_end=round(tenths[-1], 1) if tenths else 0.0,
        get_p50_ms=round(statistics.median(gets.latencies_ms), 2),
        reads=plan.reads,
        filter_p50_ms=round(statistics.median(filters.latencies_ms), 2),
        service_provider_config_p50_ms=round(statistics.median(ms for _, _, ms in probes), 2),
        rss_mb_start=round(rss_start, 1),
        creates_per_s_by_tenth=[round(rate, 1) for rate in tenths],
        error_samples=errors[:MAX_ERROR_SAMPLES],
        seconds=round(time.perf_counter() - started, 1),
        revision=_revision(),
    )


def render(result: LoadResult) -> str:
    """What a person reads: the figures, then the targets of issue #17 (printed, never enforced)."""
    flatness = result.creates_per_s_start / result.creates_per_s_end if result.creates_per_s_end else float("inf")
    lines = [
        f"Revision {result.revision}. {result.users:,} users created by {result.clients} keep-alive clients at once "
        f"against a fresh `make run`, then {result.reads} GETs by id and {result.reads} userName filters in sequence.",
        f"creates/s: {result.creates_per_s_start} over the first tenth, {result.creates_per_s_end} over the last; "
        "by tenth: " + ", ".join(f"{rate:g}" for rate in result.creates_per_s_by_tenth),
        f"GET user p50 {result.get_p50_ms} ms; userName eq p50 {result.filter_p50_ms} ms; "
        f"GET /ServiceProviderConfig p50 {result.service_provider_config_p50_ms} ms (one connection, in sequence)",
        f"server RSS {result.rss_mb_start:.0f} MB at start, {result.rss_mb_end:.0f} MB at the end; "
        f"errors {result.errors}; run took {result.seconds:.0f} s",
        *(f"  error: {sample}" for sample in result.error_samples),
        "",
        "Targets (printed, not enforced):",
        f"  [{'met' if result.errors == 0 else 'NOT met'}] 0 errors: {result.errors}",
        f"  [{'met' if result.rss_mb_end < RSS_TARGET_MB else 'NOT met'}] RSS under {RSS_TARGET_MB:.0f} MB: "
        f"{result.rss_mb_end:.0f} MB",
        f"  [{'met' if flatness <= FLATNESS_TARGET else 'NOT met'}] creates/s at the end within "
        f"{FLATNESS_TARGET}x of the start: {flatness:.2f}x",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--reads", type=int, default=READS)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where the figures go (default {RESULTS})")
    args = parser.parse_args()
    result = run(Plan(args.users, args.clients, args.reads), progress=True)
    print(render(result))
    args.output.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
