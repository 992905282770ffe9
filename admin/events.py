"""``python -m admin events <tenant>``: the provisioning events the stage published (or ``make run`` would have).

Where they are read from:
- ``make run``: the file its stream functions write (``devserver/event_log.py``), in publication order.
- ``--stage STAGE``: the stage's operators' queue (``scim-<stage>-events-operators``: every event of the
  bus, kept four days). Reading leaves the messages there; SQS hides each one it handed out for
  :data:`VISIBILITY_SECONDS`, so a second read right after shows only newer events. For older or
  complete history, replay the bus's archive (docs/reference/events.md).
"""

import json
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from admin.activity import parse_since
from admin.target import events_file, read_lines
from admin.terminal import say, say_json
from chalicelib.config import Settings

VISIBILITY_SECONDS = 30
FOLLOW_POLL_SECONDS = 0.5


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def selected(events: Iterable[dict[str, Any]], tenant: str, since: str | None) -> list[dict[str, Any]]:
    """The tenant's events at or after ``since``, in the order given; each as ``{DetailType, Source, Detail}``."""
    after = _moment(since) if since else None
    return [
        event
        for event in events
        if event["Detail"].get("tenant") == tenant and (after is None or _moment(event["Detail"]["time"]) >= after)
    ]


def line(event: dict[str, Any]) -> str:
    detail = event["Detail"]
    subject = detail.get("userName") or detail.get("displayName") or detail.get("clientId") or ""
    parts = [detail["time"], event["DetailType"], f"{detail['resourceType']}/{detail['resourceId']}", subject]
    if "changedAttributes" in detail:
        parts.append("changed: " + ", ".join(detail["changedAttributes"]))
    if "roles" in detail:
        after = detail["roles"]["after"]
        parts.append(
            "roles now: decided at each sign-in"
            if after is None
            else f"roles now: data access [{', '.join(after['dataAccessRoles'])}], "
            f"application access [{', '.join(after['applicationAccessRoles'])}] ({detail['cause']})"
        )
    return "  ".join(parts)


def show(events: Iterable[dict[str, Any]], as_json: bool) -> int:
    shown = 0
    for event in events:
        if as_json:
            say_json(event, one_line=True)
        else:
            say(line(event), flush=True)  # --follow: each event as it comes
        shown += 1
    return shown


def local_events(offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    return read_lines(events_file(), offset)


def queue_events(sqs: Any, queue_url: str, wait_seconds: int) -> Iterator[dict[str, Any]]:
    """The operators' queue's messages as events, until a receive comes back empty; never deleted."""
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
        )
        messages = response.get("Messages", [])
        if not messages:
            return
        for message in messages:
            envelope = json.loads(message["Body"])
            yield {"Source": envelope["source"], "DetailType": envelope["detail-type"], "Detail": envelope["detail"]}


def events_command(
    config: Settings, tenant: str, since: str | None, as_json: bool, follow: bool, on_stage: bool
) -> int:
    since = parse_since(since) if since else None
    if on_stage:
        return _stage_events(config, tenant, since, as_json, follow)
    found, offset = local_events()
    shown = show(selected(found, tenant, since), as_json)
    if not follow:
        return _none_shown(shown)
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            found, offset = local_events(offset)
            show(selected(found, tenant, None), as_json)
    except KeyboardInterrupt:
        return 0


def _stage_events(config: Settings, tenant: str, since: str | None, as_json: bool, follow: bool) -> int:
    if config.events_operator_queue_url is None:
        raise ValueError("the stage has no EVENTS_OPERATOR_QUEUE_URL in .chalice/config.json: run make deploy-infra")
    import boto3

    sqs = boto3.client("sqs", region_name=config.region)
    ordered = sorted(queue_events(sqs, config.events_operator_queue_url, 1), key=lambda e: e["Detail"]["time"])
    shown = show(selected(ordered, tenant, since), as_json)
    if not follow:
        return _none_shown(shown)
    try:
        while True:
            show(selected(queue_events(sqs, config.events_operator_queue_url, 20), tenant, None), as_json)
    except KeyboardInterrupt:
        return 0


def _none_shown(shown: int) -> int:
    if not shown:
        say("No events for this selection.", file=sys.stderr)
    return 0
