"""One batch of stream records in, their events published in stream order, and which record to retry from.

The contract with Lambda's DynamoDB event source (``ReportBatchItemFailures``):
- Records are handled in the stream's order, so the events of one item go out in the order it changed.
- A record that cannot be read (:class:`~chalicelib.store.streams.MalformedRecord`) will never be
  readable: it is set aside on the dead-letter queue, and the records after it go on.
- A record whose events could not be built (a read failed) or published is reported as the batch's
  first failure: Lambda retries the batch from that record, so nothing after it is lost or reordered,
  and the records before it are not delivered again. After the stage's retries (``make deploy`` sets
  them) Lambda splits the batch and finally sends that record's place to the same dead-letter queue.
An event may so be published more than once (a record retried after some of its events went out):
consumers deduplicate by ``eventId``.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from chalicelib.config import Settings, settings
from chalicelib.events.changes import EventBuilder, Tables
from chalicelib.events.publishing import DeadLetters, Publisher, PublishFailed, stage_dead_letters, stage_publisher
from chalicelib.store.connection import dynamodb
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMappingTable
from chalicelib.store.streams import MalformedRecord, decode, position_of, table_names
from chalicelib.store.users import UserTable

log = logging.getLogger("scim.events")


@dataclass(frozen=True)
class BatchOutcome:
    published: int
    set_aside: int
    failed_from: str | None = None
    """The sequence number of the first record to deliver again; None when the whole batch is done."""

    def response(self) -> dict[str, Any]:
        """What the stream function returns: Lambda retries from the reported record, only."""
        failures = [] if self.failed_from is None else [{"itemIdentifier": self.failed_from}]
        return {"batchItemFailures": failures}


class StreamConsumer:
    """The stream function's work, for one stage: decode, build, publish, in order."""

    def __init__(
        self, names: Mapping[str, str], builder: EventBuilder, publisher: Publisher, dead_letters: DeadLetters
    ) -> None:
        self.names = names
        self.builder = builder
        self.publisher = publisher
        self.dead_letters = dead_letters

    def consume(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        published = set_aside = 0
        for raw in records:
            position = position_of(raw, self.names)
            try:
                change = decode(raw, self.names)
            except MalformedRecord as error:
                try:
                    self.dead_letters.set_aside(position, str(error))
                except Exception:
                    log.exception("events.set_aside_failed sequenceNumber=%s", position.sequence_number)
                    return BatchOutcome(published, set_aside, position.sequence_number)
                log.error("events.malformed_record sequenceNumber=%s: %s", position.sequence_number, error)
                set_aside += 1
                continue
            try:
                events = self.builder.events(change) if change is not None else []
                self.publisher.publish(events)
            except PublishFailed as error:
                log.error("events.publish_failed sequenceNumber=%s: %s", position.sequence_number, error)
                return BatchOutcome(published, set_aside, position.sequence_number)
            except Exception:
                log.exception("events.build_failed sequenceNumber=%s", position.sequence_number)
                return BatchOutcome(published, set_aside, position.sequence_number)
            published += len(events)
        return BatchOutcome(published, set_aside)


def stage_tables(config: Settings) -> Any:
    client = dynamodb(config)

    def tables_of(tenant: str) -> Tables:
        return Tables(
            UserTable(client, config.users_table, tenant),
            GroupTable(client, config.groups_table, tenant),
            RoleMappingTable(client, config.role_mappings_table, tenant),
        )

    return tables_of


@cache
def _stage_consumer(config: Settings) -> StreamConsumer:
    return StreamConsumer(
        table_names(config), EventBuilder(stage_tables(config)), stage_publisher(config), stage_dead_letters(config)
    )


def handle_stream_batch(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The stream functions' entry point: the Lambda event's ``Records`` in, the partial batch response out."""
    outcome = _stage_consumer(settings()).consume(records)
    log.info(
        "events.batch records=%d published=%d set_aside=%d failed_from=%s",
        len(records),
        outcome.published,
        outcome.set_aside,
        outcome.failed_from,
    )
    return outcome.response()
