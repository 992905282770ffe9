"""Logs: one JSON line per request with what ops need, and never a secret or a password."""

import json
import logging

import pytest

from tests.conftest import Scim, Tenant, user_body

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
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": "weak"}],
        },
    )
    scim.put(f"/Users/{user['id']}", user_body(password=PASSWORD + "x"))
    scim.post("/Users", user_body("other@example.com", password="Short1!"))

    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "scim.request" in everything
    for secret in (tenant.client_secret, PASSWORD, "weak", "Short1!", tenant.authorization, "Authorization"):
        assert secret not in everything
