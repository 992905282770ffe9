"""The embedded DynamoDB of `make run` and the bench holds a real tenant: no table copies, no kept objects,
no errors when clients write and read at once."""

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from devserver.embedded_dynamodb import dynamodb_server, embedded_dynamodb
from devserver.ports import free_port

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
