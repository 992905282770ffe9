"""``make smoke STAGE=<stage>`` or ``make smoke SMOKE_URL=<SCIM base URL>``: a stage checked from outside.

Three requests, as an IdP's first contact makes them:

1. ``GET /ServiceProviderConfig`` without credentials: 200 and the RFC 7643 §5 schema.
2. ``GET /Users`` without credentials: 401 with ``WWW-Authenticate`` and an RFC 7644 §3.12 error body
   (API Gateway's gateway response, which ``make deploy`` puts).
3. ``GET /Users?count=1`` with the credential in ``SCIM_CLIENT_ID`` / ``SCIM_CLIENT_SECRET``
   (HTTP Basic): 200 and a ListResponse. The secret is never printed.

The base URL is ``SMOKE_URL``, else the stage's REST API in ``.chalice/deployed/<stage>.json``.
Prints one line per check and exits 1 when any fails.
"""

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def get(url: str, authorization: str | None = None) -> Answer:
    headers = {"Accept": "application/scim+json"}
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw, received = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, received = error.code, error.read(), error.headers
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw[:200].decode("utf-8", "replace")
    return Answer(status, {name.lower(): value for name, value in received.items()}, body)


def _schemas(answer: Answer) -> list[str]:
    return list(answer.body.get("schemas", [])) if isinstance(answer.body, dict) else []


def check_service_provider_config(base: str) -> str | None:
    answer = get(f"{base}/ServiceProviderConfig")
    if answer.status != 200 or SERVICE_PROVIDER_CONFIG not in _schemas(answer):
        return f"expected 200 with the ServiceProviderConfig schema, got {answer.status}: {answer.body!r:.200}"
    return None


def check_refusal_without_credentials(base: str) -> str | None:
    answer = get(f"{base}/Users")
    problems = []
    if answer.status != 401:
        problems.append(f"status {answer.status}, expected 401")
    if "www-authenticate" not in answer.headers:
        problems.append("no WWW-Authenticate header")
    if ERROR not in _schemas(answer) or answer.body.get("status") != "401":
        problems.append(f"not a SCIM error body: {answer.body!r:.200}")
    return "; ".join(problems) or None


def check_authenticated_read(base: str, client_id: str, client_secret: str) -> str | None:
    token = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    answer = get(f"{base}/Users?count=1", f"Basic {token}")
    if answer.status != 200 or LIST_RESPONSE not in _schemas(answer):
        # The body of a refusal names no secret; it is shown as the server sent it.
        return f"expected 200 with a ListResponse, got {answer.status}: {answer.body!r:.200}"
    return None


def base_url(stage: str | None, override: str | None) -> str:
    if override:
        return override.rstrip("/")
    from infra.rest_api import deployed_rest_api

    assert stage is not None
    return f"{deployed_rest_api(PROJECT_DIR, stage)['rest_api_url'].rstrip('/')}/scim/v2"


def smoke(base: str, client_id: str | None, client_secret: str | None) -> list[tuple[str, str | None]]:
    """Each check's name and its problem (None when it passed)."""
    checks: list[tuple[str, Callable[[], str | None]]] = [
        ("ServiceProviderConfig without credentials: 200", lambda: check_service_provider_config(base)),
        (
            "/Users without credentials: 401, WWW-Authenticate, SCIM error",
            lambda: check_refusal_without_credentials(base),
        ),
    ]
    if client_id and client_secret:
        checks.append(
            (
                f"/Users?count=1 as {client_id}: 200 ListResponse",
                lambda: check_authenticated_read(base, client_id, client_secret),
            )
        )
    results = []
    for name, check in checks:
        try:
            results.append((name, check()))
        except (urllib.error.URLError, OSError) as error:
            results.append((name, f"no answer: {error}"))
    if not (client_id and client_secret):
        results.append(("authenticated read", "set SCIM_CLIENT_ID and SCIM_CLIENT_SECRET to a tenant's credential"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.smoke", description=__doc__)
    parser.add_argument("--stage", help="a deployed stage: its URL from .chalice/deployed/<stage>.json")
    parser.add_argument("--url", default=os.environ.get("SMOKE_URL") or None, help="the SCIM base URL (.../scim/v2)")
    args = parser.parse_args(argv)
    if not (args.stage or args.url):
        parser.error("give STAGE=<a deployed stage> or SMOKE_URL=<the SCIM base URL>")
    base = base_url(args.stage, args.url)
    print(f"smoke {base}")
    results = smoke(base, os.environ.get("SCIM_CLIENT_ID"), os.environ.get("SCIM_CLIENT_SECRET"))
    for name, problem in results:
        print(f"{'FAIL' if problem else 'ok  '} {name}" + (f": {problem}" if problem else ""))
    return 1 if any(problem for _, problem in results) else 0


if __name__ == "__main__":
    sys.exit(main())
