"""The embedded DynamoDB of `make run` and the bench holds a real tenant: no table copies, no kept objects,
no errors when clients write and read at once."""

import gc
import itertools
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.dynamodbstreams.models import dynamodbstreams_backends

from devserver import embedded_dynamodb as embedded
from devserver.embedded_dynamodb import dynamodb_server, embedded_dynamodb
from devserver.ports import free_port
from devserver.streams import STREAMS_CONFIG

TABLE = "embedded-test"
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]


def _client(endpoint: str | None = None) -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _create_table(client: Any) -> None:
    client.create_table(
        TableName=TABLE, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST"
    )


def _user_with_claim(name: str) -> list[dict[str, Any]]:
    """What a SCIM create writes: the user, and its userName claim guarded against a second owner."""
    user = {"pk": {"S": "t"}, "sk": {"S": f"user#{uuid.uuid4()}"}, "userName": {"S": name}}
    claim = {"pk": {"S": "t"}, "sk": {"S": f"userName#{name}"}, "owner": user["sk"]}
    return [
        {"Put": {"TableName": TABLE, "Item": user}},
        {"Put": {"TableName": TABLE, "Item": claim, "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def _items(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.scan(TableName=TABLE)["Items"]
    return found


@pytest.fixture
def in_process() -> Iterator[Any]:
    with mock_aws(), embedded_dynamodb():
        client = _client()
        _create_table(client)
        yield client


def test_a_transaction_copies_the_items_it_names_never_the_table(
    in_process: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(50):
        in_process.transact_write_items(TransactItems=_user_with_claim(f"user{n}"))

    def refuse(self: Table, memo: Any) -> Table:
        raise AssertionError("moto copied the whole table for a transaction")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    in_process.transact_write_items(TransactItems=_user_with_claim("one-more"))

    assert len(_items(in_process)) == 102


def test_a_cancelled_transaction_is_undone_item_by_item(in_process: Any) -> None:
    in_process.transact_write_items(TransactItems=_user_with_claim("taken"))

    with pytest.raises(in_process.exceptions.TransactionCanceledException):
        in_process.transact_write_items(TransactItems=_user_with_claim("taken"))

    assert len(_items(in_process)) == 2


def test_moto_keeps_none_of_the_items_it_writes_or_copies(in_process: Any) -> None:
    tracked = len(Item.instances_tracked)  # type: ignore[attr-defined]

    for n in range(100):
        in_process.transact_write_items(TransactItems=_user_with_claim(f"user{n}"))
        in_process.put_item(TableName=TABLE, Item={"pk": {"S": "t"}, "sk": {"S": "counter"}, "n": {"N": str(n)}})

    assert len(_items(in_process)) == 201
    assert len(Item.instances_tracked) == tracked  # type: ignore[attr-defined]


def _preload(client: Any, count: int) -> None:
    """A tenant that already has users: what moto copied on every transaction."""
    for start in range(0, count, 25):
        puts = [
            {"PutRequest": {"Item": {"pk": {"S": "t"}, "sk": {"S": f"user#loaded-{n}"}}}}
            for n in range(start, min(start + 25, count))
        ]
        client.batch_write_item(RequestItems={TABLE: puts})


@pytest.mark.slow
def test_clients_writing_and_reading_at_once_over_http_meet_no_error_and_no_half_write() -> None:
    errors: list[str] = []
    writers, creates = 4, 25

    with dynamodb_server(free_port()) as endpoint:
        _create_table(_client(endpoint))
        _preload(_client(endpoint), 500)

        def writer(n: int) -> None:
            client = _client(endpoint)
            for k in range(creates):
                try:
                    client.transact_write_items(TransactItems=_user_with_claim(f"w{n}-{k}"))
                    client.query(
                        TableName=TABLE,
                        KeyConditionExpression="pk = :t",
                        ExpressionAttributeValues={":t": {"S": "t"}},
                        Limit=10,
                    )
                    # Half of them again: each must be refused whole, never half applied.
                    if k % 2:
                        client.transact_write_items(TransactItems=_user_with_claim(f"w{n}-{k}"))
                except client.exceptions.TransactionCanceledException:
                    continue
                except Exception as error:
                    errors.append(f"{type(error).__name__}: {error}")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        items = _items(_client(endpoint))

    assert errors == []
    users = [item for item in items if item["sk"]["S"].startswith("user#") and "userName" in item]
    claims = [item for item in items if item["sk"]["S"].startswith("userName#")]
    assert len(users) == len(claims) == writers * creates


STREAMED = "embedded-streamed"


def _streamed_table() -> Any:
    """A table with a NEW_AND_OLD_IMAGES stream, as the users table has."""
    client = _client()
    client.create_table(
        TableName=STREAMED,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTES,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return client


@pytest.fixture
def streamed() -> Iterator[tuple[Any, Any, str]]:
    """The embedded store with a streamed table; yields DynamoDB, DynamoDB Streams and the stream's ARN."""
    with mock_aws(), embedded_dynamodb():
        client = _streamed_table()
        streams = boto3.session.Session().client(
            "dynamodbstreams",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=STREAMS_CONFIG,
        )
        yield client, streams, client.describe_table(TableName=STREAMED)["Table"]["LatestStreamArn"]


def _first_iterator(streams: Any, arn: str) -> str:
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator: str = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return iterator


def _person(n: int, title: str) -> dict[str, Any]:
    return {
        "pk": {"S": "t"},
        "sk": {"S": f"user#{n}"},
        "name": {"M": {"givenName": {"S": f"Given{n}"}, "familyName": {"S": "Family"}}},
        "emails": {"L": [{"M": {"value": {"S": f"u{n}@example.com"}, "primary": {"BOOL": True}}}]},
        "title": {"S": title},
        "version": {"N": "1"},
        "photo": {"B": b"\x89PNG"},
    }


def test_stream_records_read_back_as_written_with_both_images(streamed: tuple[Any, Any, str]) -> None:
    client, streams, arn = streamed
    client.put_item(TableName=STREAMED, Item=_person(1, "Engineer"))
    client.put_item(TableName=STREAMED, Item=_person(1, "Director"))
    client.delete_item(TableName=STREAMED, Key={"pk": {"S": "t"}, "sk": {"S": "user#1"}})

    records = streams.get_records(ShardIterator=_first_iterator(streams, arn))["Records"]

    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    inserted, modified, removed = (record["dynamodb"] for record in records)
    assert inserted["NewImage"] == _person(1, "Engineer") and "OldImage" not in inserted
    assert modified["OldImage"] == _person(1, "Engineer") and modified["NewImage"] == _person(1, "Director")
    assert removed["OldImage"] == _person(1, "Director") and "NewImage" not in removed
    assert [r["dynamodb"]["Keys"] for r in records] == [{"pk": {"S": "t"}, "sk": {"S": "user#1"}}] * 3
    assert len({int(r["dynamodb"]["SequenceNumber"]) for r in records}) == 3
    assert all(r["dynamodb"]["ApproximateCreationDateTime"] for r in records)


def _retained_bytes(client: Any, people: list[dict[str, Any]]) -> int:
    """What writing these items leaves allocated: the table's items and their stream records."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for person in people:
            client.put_item(TableName=STREAMED, Item=person)
        gc.collect()
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def test_stream_records_are_kept_compact() -> None:
    people = [_person(n, f"Engineer of the {n}th floor, " * 8) for n in range(200)]
    with mock_aws(), embedded.untracked_models():  # moto's own stream records, and nothing kept for its dashboard
        plain = _retained_bytes(_streamed_table(), people)
    with mock_aws(), embedded_dynamodb():
        compact = _retained_bytes(_streamed_table(), people)

    # The same 200 items written, each kept by the table and by its INSERT record: moto's records, as dicts,
    # outweigh the items themselves.
    assert compact < 0.6 * plain, (compact, plain)


def test_shard_iterators_expire_15_minutes_after_they_are_issued(
    streamed: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, streams, arn = streamed
    now = [1000.0]
    monkeypatch.setattr(embedded, "_now", lambda: now[0])
    client.put_item(TableName=STREAMED, Item=_person(1, "Engineer"))
    first = _first_iterator(streams, arn)
    read = streams.get_records(ShardIterator=first)
    assert len(read["Records"]) == 1

    # A poller reading every 0.2 s for an hour: what it holds stays what 15 minutes issue.
    iterator = read["NextShardIterator"]
    for _ in range(100):
        now[0] += 60.0
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    client.put_item(TableName=STREAMED, Item=_person(2, "Engineer"))
    latest = streams.get_records(ShardIterator=iterator)

    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in latest["Records"]] == ["user#2"]
    assert len(dynamodbstreams_backends[ACCOUNT]["us-east-1"].shard_iterators) <= 16
    with pytest.raises(ClientError) as expired:
        streams.get_records(ShardIterator=first)
    assert expired.value.response["Error"]["Code"] == "ExpiredIteratorException"


@pytest.mark.slow
def test_streams_read_by_clients_at_once_over_http_meet_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stream readers polling while a writer writes, as make run's stream functions and a developer's script."""
    now = [0.0]
    monkeypatch.setattr(embedded, "_now", lambda: now[0])
    errors: list[str] = []
    seen: list[set[str]] = [set(), set()]

    with dynamodb_server(free_port()) as endpoint:
        client = _client(endpoint)
        client.create_table(
            TableName=STREAMED,
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        arn = client.describe_table(TableName=STREAMED)["Table"]["LatestStreamArn"]
        done = threading.Event()

        def reader(n: int) -> None:
            streams = boto3.session.Session().client(
                "dynamodbstreams",
                region_name="us-east-1",
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=STREAMS_CONFIG,
            )
            try:
                iterator = _first_iterator(streams, arn)
                for reads in itertools.count():
                    finished = done.is_set() and reads >= 30
                    now[0] += 100.0  # a reader's own iterator is 200 s old at most; those before it expire
                    read = streams.get_records(ShardIterator=iterator)
                    seen[n] |= {r["dynamodb"]["Keys"]["sk"]["S"] for r in read["Records"]}
                    iterator = read["NextShardIterator"]
                    if finished:
                        return
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for n in range(40):
            client.put_item(TableName=STREAMED, Item=_person(n, "Engineer"))
        done.set()
        for thread in threads:
            thread.join()

    assert errors == []
    assert seen == [{f"user#{n}" for n in range(40)}] * 2
    assert now[0] > 2 * embedded.ITERATOR_LIFETIME_SECONDS  # iterators did expire while they read
