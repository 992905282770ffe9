"""Okta Identity Governance's entitlement-management conversation, over real HTTP against `make run`.

The server is `python -m devserver`, as `make run` starts it; the operator sets the demo tenant's
catalogue with the admin CLI (a role mapping and two declared roles), then the fixtures of
tests/fixtures/idp/okta-entitlements/ go out in order as HTTP requests: discovery, the role and
entitlement lists with paging, a user and its group, the import, a PATCH granting a role and an
entitlement (and again: nothing moves), an unknown role refused, a PATCH revoking one.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from tests.conftest import PROJECT_DIR, Tenant
from tests.replay import SCIM_ROOT, Exchange, Replayer, encode, load
from tests.test_conformance import devserver  # noqa: F401 (the same `make run` server, started for this module)


class HttpReplayer(Replayer):
    """The replayer with a real HTTP client: a fresh connection per request, as Okta's provisioning agent."""

    def __init__(self, base_url: str, tenant: Tenant) -> None:
        super().__init__(None, tenant)  # type: ignore[arg-type]
        self.base_url = base_url.removesuffix(SCIM_ROOT)

    def send(self, method: str, path: str, headers: dict[str, str], body: Any) -> Exchange:
        request = urllib.request.Request(
            self.base_url + SCIM_ROOT + encode(path).replace(" ", "%20"),
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer, raw = error.code, error.headers, error.read()
        return Exchange(method, path, status, dict(answer.items()), json.loads(raw) if raw else None)


def admin(env: dict[str, str], *argv: str) -> str:
    """``python -m admin`` against the store of this `make run` (its store file names the embedded DynamoDB)."""
    done = subprocess.run(
        [sys.executable, "-m", "admin", *argv], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_okta_entitlement_management_conversation_over_http(devserver: dict[str, str]) -> None:  # noqa: F811
    store = {k: v for k, v in os.environ.items() if k != "TABLE_PREFIX"}
    store["SCIM_LOCAL_STORE_FILE"] = devserver["SCIM_LOCAL_STORE_FILE"]
    admin(store, "roles", "set", "demo", "Finance", "--data-access", "Payroll", "--application-access", "Dashboards")
    admin(store, "roles", "catalogue", "add", "demo", "Auditor", "--kind", "application", "--description", "Audits")
    admin(store, "roles", "catalogue", "add", "demo", "Board Pack", "--kind", "data")

    tenant = Tenant("demo", devserver["SCIM_CLIENT_ID"], devserver["SCIM_CLIENT_SECRET"])
    replayer = HttpReplayer(devserver["SCIM_BASE_URL"], tenant)
    exchanges = replayer.replay(load("okta-entitlements"))

    assert [e.status for e in exchanges[-5:]] == [200, 200, 400, 200, 200]
    granted = next(e for e in exchanges if e.method == "PATCH" and e.status == 200)
    again = exchanges[exchanges.index(granted) + 1]
    assert again.headers["ETag"] == granted.headers["ETag"] == replayer.context["granted_version"]
    listed = admin(store, "roles", "catalogue", "list", "demo").splitlines()
    assert [line.split("\t")[:2] for line in listed[1:]] == [
        ["application", "Auditor"],
        ["application", "Dashboards"],
        ["data", "Board Pack"],
        ["data", "Payroll"],
    ]
