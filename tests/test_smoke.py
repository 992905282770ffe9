"""``make smoke`` against a stage that answers as after a plain ``chalice deploy``: the 401 check fails.

The passing case runs against ``make run`` (tests/test_devserver.py). Here a stub server answers
as API Gateway does without ``make deploy``'s gateway responses: ``{"message":"Unauthorized"}``,
no ``WWW-Authenticate``.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra import smoke

SERVICE_PROVIDER_CONFIG = {"schemas": [smoke.SERVICE_PROVIDER_CONFIG]}
LIST = {"schemas": [smoke.LIST_RESPONSE], "totalResults": 0, "Resources": []}


class PlainChaliceStage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.endswith("/ServiceProviderConfig"):
            self._answer(200, SERVICE_PROVIDER_CONFIG)
        elif self.headers.get("Authorization"):
            self._answer(200, LIST)
        else:
            self._answer(401, {"message": "Unauthorized"})

    def _answer(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def stage() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PlainChaliceStage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/scim/v2"
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_fails_where_api_gateway_answers_the_missing_credential_itself(stage: str) -> None:
    results = dict(smoke.smoke(stage, "scim-abc", "s3cret"))
    assert results["ServiceProviderConfig without credentials: 200"] is None
    assert results["/Users?count=1 as scim-abc: 200 ListResponse"] is None
    problem = results["/Users without credentials: 401, WWW-Authenticate, SCIM error"]
    assert problem == "no WWW-Authenticate header; not a SCIM error body: {'message': 'Unauthorized'}"


def test_smoke_names_a_stage_that_does_not_answer() -> None:
    results = smoke.smoke("http://127.0.0.1:9/scim/v2", None, None)
    assert all(problem for _, problem in results)
    assert results[0][1] is not None and results[0][1].startswith("no answer: ")
