"""Logs: one JSON line per request with what ops need, and never a secret or a password."""

import json
import logging

import pytest

from tests.conftest import Scim, Tenant, user_body
from tests.helpers import patch_body

PASSWORD = "Zebra-Piano-4711"


def test_one_json_line_per_request_with_who_what_and_outcome(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    scim.post("/Users", user_body())
    scim.post("/Users", user_body())

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    assert [(line["method"], line["path"], line["status"], line["scim_type"]) for line in lines] == [
        ("POST", "/Users", 201, None),
        ("POST", "/Users", 409, "uniqueness"),
    ]
    for line in lines:
        assert line["tenant"] == "acme"
        assert line["client_id"] == tenant.client_id
        assert line["request_id"]
        assert isinstance(line["latency_ms"], float)


def test_no_secret_password_or_authorization_header_reaches_any_log(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what production logs; botocore's DEBUG lines are off there
    user = scim.post("/Users", user_body(password=PASSWORD)).json
    scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": "password", "value": "weak"}),
    )
    scim.put(f"/Users/{user['id']}", user_body(password=PASSWORD + "x"))
    scim.post("/Users", user_body("other@example.com", password="Short1!"))

    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "scim.request" in everything
    for secret in (tenant.client_secret, PASSWORD, "weak", "Short1!", tenant.authorization, "Authorization"):
        assert secret not in everything


def test_each_local_request_has_one_request_id_in_its_header_log_lines_and_trail_entry(
    scim: Scim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib.config import settings
    from chalicelib.provisioning.handler import ProvisioningHandler
    from chalicelib.store import connection
    from chalicelib.store.activity import ActivityTable

    # Given a write answered normally (API Gateway gives the id on AWS; make run and the tests emulate it)
    created = scim.post("/Users", user_body())
    request_id = created.headers["x-amzn-RequestId"]
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (entry,) = ActivityTable(connection.dynamodb(settings()), settings().activity_table, "acme").newest()
    assert line["request_id"] == entry.request_id == request_id

    # When a request fails inside: a 500, whose log line names the id the client saw
    def broken(self: ProvisioningHandler, request: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ProvisioningHandler, "handle", broken)
    caplog.set_level(logging.ERROR)
    failed = scim.get("/Users")
    assert failed.status_code == 500 and "a bug" not in failed.body.decode()
    failed_id = failed.headers["x-amzn-RequestId"]
    assert failed_id != request_id
    (error,) = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    assert error == f"internal error, request id {failed_id}"
