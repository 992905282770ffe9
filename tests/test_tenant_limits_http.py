"""Two tenants against `make run` over real HTTP: the greedy one held to its limits, the quiet one never throttled.

The operator sets the greedy tenant's limits with ``python -m admin limits set`` against the running
server's store, as the docs say; ``make run`` then answers what API Gateway answers after ``make deploy``:
429, ``Retry-After`` and a SCIM error body.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.helpers import ERROR, running_devserver

# A server, two admin commands and seconds of traffic: `make test-all`'s tier.
pytestmark = pytest.mark.slow
GREEDY_RATE, GREEDY_BURST = 4, 6
SECONDS = 3.0


def _environment(store_file: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "TABLE_PREFIX"}
    return environment | {"SCIM_LOCAL_STORE_FILE": str(store_file)}


def _admin(store_file: Path, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "admin", *arguments],
        cwd=PROJECT_DIR,
        env=_environment(store_file),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("limits")
    store_file = work / "store.json"
    with running_devserver(store_file, work / "devserver.log") as demo:
        _admin(store_file, "tenant", "create", "greedy")
        greedy = dict(
            line.split("=", 1) for line in _admin(store_file, "credentials", "generate", "greedy").splitlines()
        )
        limits = _admin(store_file, "limits", "set", "greedy", "--rate", str(GREEDY_RATE), "--burst", str(GREEDY_BURST))
        assert limits.strip() == f"greedy: {GREEDY_RATE} requests/s, burst {GREEDY_BURST} (its own)"
        yield {
            "url": demo["SCIM_BASE_URL"] + "/Users?count=1",
            "quiet": _basic(demo["SCIM_CLIENT_ID"], demo["SCIM_CLIENT_SECRET"]),
            "greedy": _basic(greedy["SCIM_CLIENT_ID"], greedy["SCIM_CLIENT_SECRET"]),
            "store_file": str(store_file),
        }


def _get(url: str, authorization: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_greedy_tenant_is_held_to_its_rate_and_the_quiet_one_is_never_throttled(server: dict[str, str]) -> None:
    greedy: list[tuple[int, dict[str, str], bytes]] = []
    quiet: list[int] = []
    stop = time.monotonic() + SECONDS

    def send_as_fast_as_possible() -> None:
        while time.monotonic() < stop:
            greedy.append(_get(server["url"], server["greedy"]))

    def send_now_and_then() -> None:
        while time.monotonic() < stop:
            quiet.append(_get(server["url"], server["quiet"])[0])
            time.sleep(0.2)

    started = time.monotonic()
    threads = [threading.Thread(target=send_as_fast_as_possible) for _ in range(4)]
    threads.append(threading.Thread(target=send_now_and_then))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    served = [answer for answer in greedy if answer[0] == 200]
    throttled = [answer for answer in greedy if answer[0] == 429]
    print(f"\ngreedy: {len(served)} served, {len(throttled)} throttled in {elapsed:.2f} s; quiet: {quiet}")
    assert len(served) + len(throttled) == len(greedy)
    # A bucket of GREEDY_BURST tokens refilled at GREEDY_RATE a second admits no more, however fast it is asked.
    assert GREEDY_RATE * (elapsed - 1) <= len(served) <= GREEDY_BURST + GREEDY_RATE * elapsed + 1
    assert throttled
    for _, headers, body in throttled:
        assert headers["Retry-After"] == "1"
        assert headers["Content-Type"] == "application/scim+json"
        error = json.loads(body)
        assert error["schemas"] == [ERROR] and error["status"] == "429"
    assert quiet and set(quiet) == {200}


def test_a_limit_set_while_serving_takes_effect_within_a_second(server: dict[str, str]) -> None:
    store_file = Path(server["store_file"])
    _admin(store_file, "limits", "set", "greedy", "--rate", "1", "--burst", "1")
    time.sleep(1.5)  # make run reads the usage plans again every second, and the bucket refills
    statuses = [_get(server["url"], server["greedy"])[0] for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses

    assert (
        _admin(store_file, "limits", "reset", "greedy").strip()
        == "greedy: 50 requests/s, burst 100 (the stage's default)"
    )
    time.sleep(1.5)
    assert {_get(server["url"], server["greedy"])[0] for _ in range(10)} == {200}
