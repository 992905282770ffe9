"""``make run``'s stream functions: the embedded store's DynamoDB streams read in the background, fed to the
same consumer the stage's Lambdas run (:mod:`chalicelib.events.consumer`).

On AWS, Lambda's event source mapping reads each stream and calls a stream function with batches of
10 records; ``make deploy`` sets its retries and its on-failure destination. Here
:class:`StreamTail` reads the streams through moto's DynamoDB Streams API (never a Lambda event
source mapping: moto would try to run that Lambda in docker and empty the stream), and
:class:`LocalStreamFunction` does what that mapping does with the consumer's answer: the next batch
when it succeeded, the same record again when it reported one, and after
:data:`~chalicelib.events.RETRY_ATTEMPTS` retries, that record set aside.
"""

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import Settings
from chalicelib.events import RETRY_ATTEMPTS, STREAM_BATCH_SIZE
from chalicelib.events.changes import EventBuilder
from chalicelib.events.consumer import StreamConsumer, stage_tables
from chalicelib.events.publishing import DeadLetters
from chalicelib.store.connection import dynamodb
from chalicelib.store.streams import position_of, table_names
from devserver.event_log import EventLog

log = logging.getLogger("scim.events")
POLL_SECONDS = 0.2
# boto3 1.44 sends DynamoDB Streams calls to an account-based host that moto does not serve.
STREAMS_CONFIG = Config(account_id_endpoint_mode="disabled")


class StreamTail:
    """The records of some tables' streams, from their start, as ``GetRecords`` gives them (one shard each: moto's)."""

    def __init__(self, streams: Any, dynamodb: Any, tables: Sequence[str]) -> None:
        self.streams = streams
        self.arns = [dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"] for table in tables]
        self.iterators: dict[str, list[str]] = {arn: self._iterators(arn) for arn in self.arns}

    def _iterators(self, arn: str) -> list[str]:
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        return [
            self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
            for shard in shards
        ]

    def read(self, arn: str) -> list[dict[str, Any]]:
        """The records written since the last read, each with its stream's ARN as Lambda's records carry it."""
        records: list[dict[str, Any]] = []
        for index, iterator in enumerate(self.iterators[arn]):
            response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self.iterators[arn][index] = response["NextShardIterator"]
            records += [{**record, "eventSourceARN": arn} for record in response["Records"]]
        return records


class LocalStreamFunction:
    """One stream's function as Lambda runs it with ``make deploy``'s settings: in order, retried, set aside."""

    def __init__(
        self,
        consumer: StreamConsumer,
        dead_letters: DeadLetters,
        batch_size: int = STREAM_BATCH_SIZE,
        retry_attempts: int = RETRY_ATTEMPTS,
    ) -> None:
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.retry_attempts = retry_attempts
        self.pending: list[Mapping[str, Any]] = []
        self.retries = 0

    def feed(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Take these records after those still pending, and deliver what can be delivered now."""
        self.pending += records
        while self.pending:
            batch = self.pending[: self.batch_size]
            outcome = self.consumer.consume(batch)
            if outcome.failed_from is None:
                del self.pending[: len(batch)]
                self.retries = 0
                continue
            done = next(
                (i for i, record in enumerate(batch) if record["dynamodb"]["SequenceNumber"] == outcome.failed_from),
                0,
            )
            if done:
                del self.pending[:done]
                self.retries = 0
            self.retries += 1
            if self.retries <= self.retry_attempts:
                return  # Lambda retries the record on its next poll
            self.dead_letters.set_aside(position_of(self.pending[0], self.consumer.names), "retries exhausted")
            del self.pending[0]
            self.retries = 0


class StreamPoller:
    """Reads every stream every :data:`POLL_SECONDS` in a daemon thread and feeds each one's function."""

    def __init__(self, tail: StreamTail, functions: Mapping[str, LocalStreamFunction]) -> None:
        self.tail = tail
        self.functions = functions
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)

    def start(self) -> "StreamPoller":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def poll(self) -> None:
        """One round: every stream read, every function fed (the tests call it directly)."""
        for arn, function in self.functions.items():
            function.feed(self.tail.read(arn))

    def _run(self) -> None:
        while not self.stopped.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:  # the next round reads from where this one stopped
                log.exception("events.poll_failed")


def start_local_streams(config: Settings) -> StreamPoller:
    """``make run``'s stream functions on the embedded store, publishing to the local event log (emptied first)."""
    client = dynamodb(config)
    # The container's session knows only the Lambdas' services; DynamoDB Streams is make run's alone.
    streams = boto3.session.Session().client(
        "dynamodbstreams", endpoint_url=config.dynamodb_endpoint_url, region_name=config.region, config=STREAMS_CONFIG
    )
    names = table_names(config)
    tail = StreamTail(streams, client, list(names))
    log = EventLog.fresh()
    consumer = StreamConsumer(names, EventBuilder(stage_tables(config)), log, log)
    return StreamPoller(tail, {arn: LocalStreamFunction(consumer, log) for arn in tail.arns}).start()
