"""`make run` as a newcomer uses it: start it, source the printed lines, talk SCIM over real HTTP, Ctrl-C."""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR
from tests.helpers import CORE_GROUP, CORE_USER, patch_body, running_devserver

# The test's own store file, so that a `make run` of the developer's keeps its .scim-local.json.
STORE_FILE = {"SCIM_LOCAL_STORE_FILE": str(Path(tempfile.gettempdir()) / f"scim-local-{os.getpid()}.json")}


@pytest.fixture(scope="module")
def devserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    log = tmp_path_factory.mktemp("devserver") / "devserver.log"
    with running_devserver(Path(STORE_FILE["SCIM_LOCAL_STORE_FILE"]), log) as variables:
        yield variables


def call(env: dict[str, str], method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
    request = urllib.request.Request(
        env["SCIM_BASE_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/scim+json"},
    )
    if auth:
        token = base64.b64encode(f"{env['SCIM_CLIENT_ID']}:{env['SCIM_CLIENT_SECRET']}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, (json.loads(raw) if raw else None, dict(error.headers))


def test_make_run_prints_five_sourceable_lines(devserver: dict[str, str]) -> None:
    assert devserver["SCIM_BASE_URL"].startswith("http://127.0.0.1:")
    assert devserver["SCIM_BASE_URL"].endswith("/scim/v2")
    assert devserver["SCIM_CLIENT_ID"].startswith("scim-")
    assert len(devserver["SCIM_CLIENT_SECRET"]) == 43
    assert devserver["SCIM_BEARER_TOKEN"] == f"{devserver['SCIM_CLIENT_ID']}.{devserver['SCIM_CLIENT_SECRET']}"
    assert devserver["SCIM_ADMIN_URL"] == devserver["SCIM_BASE_URL"].removesuffix("/scim/v2") + "/admin/v1"


def test_make_run_accepts_the_bearer_token(devserver: dict[str, str]) -> None:
    request = urllib.request.Request(
        devserver["SCIM_BASE_URL"] + "/Users", headers={"Authorization": f"Bearer {devserver['SCIM_BEARER_TOKEN']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_readme_session_works_over_real_http(devserver: dict[str, str]) -> None:
    status, user = call(
        devserver,
        "POST",
        "/Users",
        {
            "schemas": [CORE_USER],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"type": "work", "value": "ada@example.com"}],
        },
    )
    assert status == 201
    status, found = call(devserver, "GET", "/Users?filter=userName%20eq%20%22ada@example.com%22")
    assert (status, found["totalResults"]) == (200, 1)
    status, _ = call(devserver, "DELETE", f"/Users/{user['id']}")
    assert status == 204
    status, kept = call(devserver, "GET", f"/Users/{user['id']}")
    assert (status, kept["active"]) == (200, False)


def test_make_run_answers_401_with_a_challenge(devserver: dict[str, str]) -> None:
    status, (body, headers) = call(devserver, "GET", "/Users", auth=False)

    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="SCIM", Bearer realm="SCIM"'
    assert body["status"] == "401"


def test_admin_cli_talks_to_make_runs_store_by_default(devserver: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "admin", "credentials", "list", "demo"],
        cwd=PROJECT_DIR,
        env=os.environ | STORE_FILE,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert devserver["SCIM_CLIENT_ID"] in result.stdout
    assert devserver["SCIM_CLIENT_SECRET"] not in result.stdout


def _admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "admin", *arguments],
        cwd=PROJECT_DIR,
        env=os.environ | STORE_FILE,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _published_for(user_id: str) -> list[dict[str, Any]]:
    events_file = Path(STORE_FILE["SCIM_LOCAL_STORE_FILE"]).with_name(
        Path(STORE_FILE["SCIM_LOCAL_STORE_FILE"]).stem + "-events.jsonl"
    )
    lines = events_file.read_text().splitlines() if events_file.exists() else []
    return [event for event in map(json.loads, lines) if event["Detail"]["resourceId"] == user_id]


def _published_within(user_id: str, count: int, seconds: float = 5.0) -> float:
    """How long until ``count`` events of the user are published; fails after ``seconds``."""
    started = time.monotonic()
    while len(_published_for(user_id)) < count:
        assert time.monotonic() - started < seconds, _published_for(user_id)
        time.sleep(0.05)
    return time.monotonic() - started


def test_make_run_publishes_the_events_of_a_deactivation_and_of_role_changes(devserver: dict[str, str]) -> None:
    # Given a Customer Supplied Role mapped with the CLI, and its group pushed by the IdP
    mapped = _admin("roles", "set", "demo", "Treasury", "--data-access", "finance-data", "--application-access", "bi")
    assert mapped.returncode == 0, mapped.stderr
    status, group = call(devserver, "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Treasury"})
    assert status == 201
    # When a user is created, added to the group, deactivated through SCIM, and the mapping changes with the CLI
    password = "Tr0ub4dor&3-horse"
    body = {"schemas": [CORE_USER], "userName": "ada@demo.example"}
    status, user = call(devserver, "POST", "/Users", {**body, "password": password})
    assert status == 201
    waits = [_published_within(user["id"], 1)]
    add = {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    patch = patch_body(add)
    assert call(devserver, "PATCH", f"/Groups/{group['id']}", patch)[0] in (200, 204)
    waits.append(_published_within(user["id"], 2))
    deactivate = {"op": "replace", "path": "active", "value": False}
    deactivation = patch_body(deactivate)
    assert call(devserver, "PATCH", f"/Users/{user['id']}", deactivation)[0] == 200
    waits.append(_published_within(user["id"], 3))
    changed = _admin(
        "roles", "set", "demo", "Treasury", "--data-access", "finance-data,payroll", "--application-access", "bi"
    )
    assert changed.returncode == 0, changed.stderr
    waits.append(_published_within(user["id"], 4))

    # Then `admin events demo --json` shows the four, once each, in order, with the mapped roles and no secret
    shown = _admin("events", "demo", "--json")
    assert shown.returncode == 0, shown.stderr
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    mine = [event for event in events if event["Detail"]["resourceId"] == user["id"]]
    assert [event["DetailType"] for event in mine] == [
        "UserCreated",
        "UserRolesChanged",
        "UserDeactivated",
        "UserRolesChanged",
    ]
    assert mine[1]["Detail"]["roles"]["after"]["dataAccessRoles"] == ["finance-data"]
    assert mine[3]["Detail"]["roles"]["after"]["dataAccessRoles"] == ["finance-data", "payroll"]
    assert len({event["Detail"]["eventId"] for event in mine}) == 4
    assert password not in shown.stdout and devserver["SCIM_CLIENT_SECRET"] not in shown.stdout
    assert max(waits) < 5, waits
    # and the readable form says the same
    readable = _admin("events", "demo", "--since", "10m")
    assert "UserDeactivated" in readable.stdout and "roles now: data access [finance-data, payroll]" in readable.stdout
    # (the mapping goes again: the tests after this one read the tenant's catalogue of mapped roles)
    assert _admin("roles", "delete", "demo", "Treasury").returncode == 0


def _connection(env: dict[str, str]) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(env["SCIM_BASE_URL"])
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)


def test_a_head_answer_has_no_body_so_the_next_answer_on_the_connection_is_intact(devserver: dict[str, str]) -> None:
    # The body of a HEAD answer was sent anyway, and a keep-alive client read it as the next status line.
    base = urllib.parse.urlsplit(devserver["SCIM_BASE_URL"]).path
    connection = _connection(devserver)
    try:
        for method in ("HEAD", "GET", "HEAD", "GET"):
            connection.request(method, base + "/ServiceProviderConfig")
            response = connection.getresponse()
            body = response.read()
            assert (method, len(body) > 0) == (method, method == "GET")
            assert response.status in (200, 404, 405) if method == "HEAD" else response.status == 200
            if method == "GET":
                assert json.loads(body)["schemas"]
    finally:
        connection.close()


def test_make_run_listens_with_a_backlog_an_idp_burst_fits_in(devserver: dict[str, str]) -> None:
    # socketserver's backlog of 5 reset 3 of 100 connections of 20 clients creating users at once.
    port = urllib.parse.urlsplit(devserver["SCIM_BASE_URL"]).port
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    backlog = int(listening.stdout.split()[2])  # ss shows a listening socket's backlog as its Send-Q

    assert backlog >= 128, listening.stdout


def test_fifty_clients_creating_users_at_once_are_all_served(devserver: dict[str, str]) -> None:
    base = urllib.parse.urlsplit(devserver["SCIM_BASE_URL"]).path
    headers = {"Authorization": f"Bearer {devserver['SCIM_BEARER_TOKEN']}", "Content-Type": "application/scim+json"}
    start = threading.Barrier(50)
    outcomes: list[Any] = []

    def create(n: int) -> None:
        body = json.dumps({"schemas": [CORE_USER], "userName": f"burst-{n}@example.com"})
        start.wait(timeout=30)
        connection = _connection(devserver)
        try:
            connection.request("POST", base + "/Users", body=body, headers=headers)
            outcomes.append(connection.getresponse().status)
        except OSError as error:
            outcomes.append(repr(error))
        finally:
            connection.close()

    clients = [threading.Thread(target=create, args=(n,)) for n in range(50)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=120)

    assert outcomes == [201] * 50


def _smoke(devserver: dict[str, str], **credential: str) -> subprocess.CompletedProcess[str]:
    # What `make smoke SMOKE_URL=...` runs; the credential comes from the environment, as in the docs.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")} | credential
    return subprocess.run(
        [sys.executable, "-m", "infra.smoke", "--url", devserver["SCIM_BASE_URL"]],
        cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_make_smoke_passes_against_make_run_and_never_prints_the_secret(devserver: dict[str, str]) -> None:
    secret = devserver["SCIM_CLIENT_SECRET"]
    result = _smoke(devserver, SCIM_CLIENT_ID=devserver["SCIM_CLIENT_ID"], SCIM_CLIENT_SECRET=secret)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == f"smoke {devserver['SCIM_BASE_URL']}"
    assert [line[:4] for line in lines[1:]] == ["ok  "] * 3
    assert secret not in result.stdout + result.stderr


def test_make_smoke_fails_on_a_wrong_or_missing_credential(devserver: dict[str, str]) -> None:
    wrong = _smoke(devserver, SCIM_CLIENT_ID=devserver["SCIM_CLIENT_ID"], SCIM_CLIENT_SECRET="wrong")
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[-1].startswith("FAIL /Users?count=1 as scim-")
    assert "got 401" in wrong.stdout.splitlines()[-1]
    missing = _smoke(devserver)
    assert missing.returncode == 1
    assert missing.stdout.splitlines()[-1] == (
        "FAIL authenticated read: set SCIM_CLIENT_ID and SCIM_CLIENT_SECRET to a tenant's credential"
    )


def admin_call(env: dict[str, str], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """The management API over plain HTTP, as the platform's backend calls it (no SigV4 on loopback)."""
    request = urllib.request.Request(
        env["SCIM_ADMIN_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_management_api_over_real_http(devserver: dict[str, str]) -> None:
    """Against make run: credentials, status, activity, the role catalogue, the role source and sign-in."""
    # The demo credential revoked, a new one generated, listed, used by an IdP, then revoked: the IdP's next call 401
    assert admin_call(devserver, "DELETE", f"/tenants/demo/credentials/{devserver['SCIM_CLIENT_ID']}?actor=t")[0] == 200
    status, issued = admin_call(devserver, "POST", "/tenants/demo/credentials", {"description": "Okta", "actor": "t"})
    assert status == 201
    idp = {**devserver, "SCIM_CLIENT_ID": issued["clientId"], "SCIM_CLIENT_SECRET": issued["clientSecret"]}
    listed = admin_call(devserver, "GET", "/tenants/demo/credentials")[1]["credentials"]
    assert [c["state"] for c in listed if c["clientId"] == issued["clientId"]] == ["active"]
    status, grace = call(idp, "POST", "/Users", {"schemas": [CORE_USER], "userName": "grace@example.com"})
    assert status == 201
    status, _ = call(
        idp, "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": grace["id"]}]}
    )
    assert status == 201
    # Status and activity read
    assert admin_call(devserver, "GET", "/tenants/demo/status")[1]["credential"]["client_id"] == issued["clientId"]
    trail = admin_call(devserver, "GET", "/tenants/demo/activity?limit=2")[1]
    assert [e["resource_type"] for e in trail["entries"]] == ["Group", "User"] and trail["nextCursor"]
    # saml-attribute: the roles its SAML values map to; scim-groups again: its groups' roles
    for role, data in (("Finance", ["Payroll"]), ("Legal", ["Contracts"])):
        admin_call(devserver, "PUT", f"/tenants/demo/role-mappings/{role}", {"dataAccessRoles": data, "actor": "t"})
    # The role catalogue: a role declared (its name percent-encoded) is an SCIM entitlement until withdrawn
    pack = "/tenants/demo/role-catalogue/data/Board%20Pack"
    assert admin_call(devserver, "PUT", pack, {"description": "Board packs", "actor": "t"})[0] == 200
    catalogue = admin_call(devserver, "GET", "/tenants/demo/role-catalogue?kind=data")[1]["roles"]
    assert [(r["name"], r["mappedBy"]) for r in catalogue] == [("Board Pack", []), ("Contracts", ["Legal"]),
                                                                ("Payroll", ["Finance"])]  # fmt: skip
    assert call(idp, "GET", "/Entitlements/Board%20Pack")[1]["description"] == "Board packs"
    assert admin_call(devserver, "DELETE", pack + "?actor=t")[1]["inCatalogue"] is False
    assert call(idp, "GET", "/Entitlements/Board%20Pack")[0] == 404
    body = {"source": "saml-attribute", "attribute": "roles", "actor": "t"}
    assert admin_call(devserver, "PUT", "/tenants/demo/role-source", body)[0] == 200
    sign_in = {"userName": "grace@example.com", "samlAttributes": {"roles": ["Legal"]}}
    assert admin_call(devserver, "POST", "/tenants/demo/sign-in", sign_in)[1]["dataAccessRoles"] == ["Contracts"]
    admin_call(devserver, "PUT", "/tenants/demo/role-source", {"source": "scim-groups", "actor": "t"})
    assert admin_call(devserver, "POST", "/tenants/demo/sign-in", sign_in)[1]["dataAccessRoles"] == ["Payroll"]
    # A deactivated user's sign-in is refused with a reason
    call(
        idp,
        "PATCH",
        f"/Users/{grace['id']}",
        patch_body({"op": "replace", "path": "active", "value": False}),
    )
    refused = admin_call(devserver, "POST", "/tenants/demo/sign-in", sign_in)[1]
    assert (refused["allowed"], refused["reason"]) == (False, "deactivated")
    assert admin_call(devserver, "DELETE", f"/tenants/demo/credentials/{issued['clientId']}?actor=t")[0] == 200
    assert call(idp, "GET", "/Users")[0] == 401


def test_make_run_refuses_a_host_other_than_loopback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devserver", "--host", "0.0.0.0"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert result.returncode == 2 and "loopback only" in result.stderr


def test_ctrl_c_stops_everything(devserver: dict[str, str]) -> None:
    os.kill(int(devserver["pid"]), signal.SIGINT)

    deadline = time.monotonic() + 10
    with pytest.raises(OSError):
        while time.monotonic() < deadline:
            call(devserver, "GET", "/ServiceProviderConfig", auth=False)
            time.sleep(0.1)


def test_make_runs_server_turns_nagle_off_on_every_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers and body go out in two writes: with Nagle on, a keep-alive client waited ~43 ms for each answer."""
    from devserver.local_server import NoDelayRequestHandler, local_server

    nodelay: list[int] = []
    recorded = threading.Event()
    setup = NoDelayRequestHandler.setup

    def recording_setup(handler: NoDelayRequestHandler) -> None:
        setup(handler)
        nodelay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        recorded.set()

    monkeypatch.setattr(NoDelayRequestHandler, "setup", recording_setup)
    monkeypatch.setattr(os, "environ", os.environ.copy())  # Chalice sets the stage's variables on load
    server = local_server(PROJECT_DIR, "127.0.0.1", 0, "test")
    accepting = threading.Thread(target=server.server.handle_request)
    accepting.start()
    try:
        with socket.create_connection(server.server.server_address[:2], timeout=10):
            pass
        accepting.join(timeout=10)
        # The server answers each connection in its own (daemon) thread: handle_request returns
        # once that thread starts, so wait for the handler's setup rather than racing it.
        recorded.wait(timeout=10)
    finally:
        server.server.server_close()

    assert len(nodelay) == 1 and nodelay[0] != 0
