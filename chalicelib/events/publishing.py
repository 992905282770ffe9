"""Where events go: the stage's EventBridge bus, and where a record that cannot be read is set aside (SQS).

A :class:`Publisher` either delivers every event it is given or raises :class:`PublishFailed`;
the consumer then reports that record as failed, and Lambda retries from it. Set-aside records
(:class:`DeadLetters`) carry where the record is and why, never the item: its images may hold a
password hash.
"""

import json
import logging
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws_session
from chalicelib.config import Settings
from chalicelib.events.catalog import Event
from chalicelib.store.streams import StreamPosition

log = logging.getLogger("scim.events")
# PutEvents takes at most 10 entries a call.
ENTRIES_PER_CALL = 10
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


class PublishFailed(Exception):
    """Some event was not accepted by the bus; the record that gave it is to be delivered again."""


class Publisher(Protocol):
    def publish(self, events: Sequence[Event]) -> None:
        """Deliver every event, in order, or raise :class:`PublishFailed`."""


class DeadLetters(Protocol):
    def set_aside(self, position: StreamPosition, reason: str) -> None:
        """Keep where an unreadable record is and why, for an operator."""


class EventBridgePublisher:
    """``PutEvents`` to the stage's bus, 10 entries a call, in order."""

    def __init__(self, client: Any, bus: str) -> None:
        self.client = client
        self.bus = bus

    def publish(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), ENTRIES_PER_CALL):
            chunk = events[start : start + ENTRIES_PER_CALL]
            try:
                response = self.client.put_events(Entries=[event.entry(self.bus) for event in chunk])
            except (BotoCoreError, ClientError) as error:
                raise PublishFailed(f"PutEvents failed: {type(error).__name__}") from error
            if response.get("FailedEntryCount", 0):
                codes = sorted({entry.get("ErrorCode", "?") for entry in response["Entries"] if "ErrorCode" in entry})
                raise PublishFailed(f"PutEvents refused {response['FailedEntryCount']} entries: {', '.join(codes)}")


class QueueDeadLetters:
    """One SQS message per record set aside, on the queue that is also the stream's on-failure destination."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def set_aside(self, position: StreamPosition, reason: str) -> None:
        body = {
            "setAsideBy": "onemodel-scim stream consumer",
            "reason": reason[:500],
            "table": position.table,
            "eventID": position.event_id,
            "sequenceNumber": position.sequence_number,
        }
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body, sort_keys=True))


class LoggedDeadLetters:
    """Without a queue (a stage whose infra predates it): the log keeps the record's place, and the error."""

    def set_aside(self, position: StreamPosition, reason: str) -> None:
        log.error(
            "events.set_aside table=%s eventID=%s sequenceNumber=%s reason=%s",
            position.table,
            position.event_id,
            position.sequence_number,
            reason,
        )


@cache
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    return aws_session.session().client(service, region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


def stage_publisher(settings: Settings) -> EventBridgePublisher:
    return EventBridgePublisher(_client("events", settings.region, None), settings.event_bus)


def stage_dead_letters(settings: Settings) -> DeadLetters:
    if settings.events_dead_letter_queue_url is None:
        return LoggedDeadLetters()
    return QueueDeadLetters(_client("sqs", settings.region, None), settings.events_dead_letter_queue_url)


def reset() -> None:
    """Forget the clients (tests: a new moto mock)."""
    _client.cache_clear()
