"""``python -m admin events``: a tenant's events from the stage's operators' queue (here moto's SQS)."""

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from admin import events as admin_events
from chalicelib.config import settings


def _envelope(tenant: str, name: str, time: str, user_name: str = "ada@example.com") -> dict[str, Any]:
    detail = {"tenant": tenant, "time": time, "resourceType": "User", "resourceId": "u-1", "userName": user_name}
    return {"source": "onemodel.scim", "detail-type": name, "detail": detail}


def test_on_a_stage_it_reads_the_operators_queue_oldest_first_for_one_tenant_and_leaves_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="scim-dev-events-operators")["QueueUrl"]
        # Given the bus's events of two tenants, arrived out of order
        for envelope in (
            _envelope("acme", "UserDeactivated", "2026-12-04T05:30:02.000Z"),
            _envelope("globex", "UserCreated", "2026-12-04T05:30:01.500Z"),
            _envelope("acme", "UserCreated", "2026-12-04T05:30:01.000Z"),
        ):
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(envelope))
        config = replace(settings(), events_operator_queue_url=queue)
        # When an operator asks for acme's
        assert admin_events.events_command(config, "acme", None, True, False, on_stage=True) == 0
        # Then acme's two, oldest first, as published; globex's stay unseen, and the queue keeps all three
        shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(e["DetailType"], e["Detail"]["tenant"]) for e in shown] == [
            ("UserCreated", "acme"),
            ("UserDeactivated", "acme"),
        ]
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        kept = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        assert kept == 3


def test_since_keeps_only_the_newer_events() -> None:
    events = [
        {"DetailType": "UserCreated", "Detail": {"tenant": "acme", "time": "2020-01-01T00:00:00.000Z"}},
        {"DetailType": "UserDeactivated", "Detail": {"tenant": "acme", "time": "2999-01-01T00:00:00.000Z"}},
    ]
    assert [e["DetailType"] for e in admin_events.selected(events, "acme", "2026-01-01")] == ["UserDeactivated"]


@pytest.mark.parametrize("as_json", [False, True])
def test_what_an_idp_sent_is_shown_escaped_readable_or_json(as_json: bool, capsys: pytest.CaptureFixture[str]) -> None:
    event = {
        "DetailType": "UserCreated",
        "Detail": _envelope("acme", "x", "t", "ada\x1b[2J\u202e@example.com")["detail"],
    }
    assert admin_events.show([event], as_json=as_json) == 1
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "ada\\u001b[2J\\u202e@example.com" in shown if as_json else "ada\\x1b[2J\\u202e@example.com" in shown
    if as_json:  # one event a line, and the same event read back
        assert json.loads(shown)["Detail"]["userName"] == "ada\x1b[2J\u202e@example.com"


def test_a_readable_line_says_when_roles_are_decided_at_sign_in() -> None:
    detail = {**_envelope("acme", "x", "t", "ada@example.com")["detail"], "cause": "RoleSource"}
    detail["roles"] = {"before": None, "after": None}
    assert admin_events.line({"DetailType": "UserRolesChanged", "Detail": detail}).endswith(
        "roles now: decided at each sign-in"
    )


def test_a_stage_without_its_operators_queue_says_what_to_run() -> None:
    config = replace(settings(), events_operator_queue_url=None)
    with pytest.raises(ValueError, match="make deploy-infra"):
        admin_events.events_command(config, "acme", None, False, False, on_stage=True)
