"""The guarded write maps a refused transaction to an error by what each entry guards, never by its position,
and sends again a transaction that only collided with another."""

import itertools
from typing import Any

import botocore.exceptions
import pytest

from chalicelib.store.errors import Conflict, NotFound, StoreError, Taken, cancellation_codes
from chalicelib.store.guarded import COLLISION_RETRIES, VERSION, Write, commit, refusals


class RefusingClient:
    """Answers TransactWriteItems as DynamoDB does when the conditions of some entries fail."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        reasons = [
            {"Code": "ConditionalCheckFailed" if self._name(item) in self.failing else "None"} for item in TransactItems
        ]
        response = {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons}
        raise botocore.exceptions.ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]

    def put_item(self, **arguments: Any) -> None:
        if self._name({"Put": arguments}) in self.failing:
            error = {"Error": {"Code": "ConditionalCheckFailedException"}}
            raise botocore.exceptions.ClientError(error, "PutItem")  # type: ignore[arg-type]

    @staticmethod
    def _name(item: dict[str, Any]) -> str:
        ((_, request),) = item.items()
        return str(request["Item"]["sk"]["S"])


def _writes() -> list[Write]:
    return [
        Write({"Put": {"TableName": "users", "Item": {"sk": {"S": "user"}}}}, VERSION),
        Write({"Put": {"TableName": "users", "Item": {"sk": {"S": "old claim"}}}}),
        Write({"Put": {"TableName": "users", "Item": {"sk": {"S": "new claim"}}}}, "userName"),
    ]


def _error(failing: set[str], writes: list[Write], exists: bool = True) -> StoreError:
    with pytest.raises(StoreError) as raised:
        commit(RefusingClient(failing), writes, refusals(lambda: exists, "bjensen"))
    return raised.value


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ({"user"}, Conflict),
        ({"new claim"}, Taken),
        # A stale version wins over a taken name, wherever either entry sits.
        ({"user", "new claim"}, Conflict),
    ],
)
def test_the_error_follows_the_failed_guard_in_any_order(
    order: tuple[int, ...], failing: set[str], expected: type[StoreError]
) -> None:
    writes = [_writes()[index] for index in order]

    assert type(_error(failing, writes)) is expected


def test_a_taken_claim_names_its_attribute_and_value() -> None:
    error = _error({"new claim"}, _writes())

    assert isinstance(error, Taken)
    assert (error.attribute, error.value) == ("userName", "bjensen")


def test_a_failed_version_of_a_resource_that_is_gone_is_not_found() -> None:
    assert type(_error({"user"}, _writes(), exists=False)) is NotFound


def test_a_single_write_is_one_conditional_call_with_the_same_errors() -> None:
    assert type(_error({"user"}, _writes()[:1])) is Conflict


def test_a_failure_no_guard_explains_is_raised_as_it_came() -> None:
    with pytest.raises(botocore.exceptions.ClientError):
        commit(RefusingClient({"old claim"}), _writes(), refusals(lambda: True, "bjensen"))


class CollidingClient:
    """Cancels the first ``collisions`` transactions as DynamoDB cancels one that met another on a shared item."""

    def __init__(self, collisions: int, also: str = "None") -> None:
        self.collisions = collisions
        self.also = also
        self.sent: list[list[dict[str, Any]]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        self.sent.append(TransactItems)
        if len(self.sent) <= self.collisions:
            reasons = [{"Code": self.also}, {"Code": "TransactionConflict"}, {"Code": "None"}]
            response = {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons}
            raise botocore.exceptions.ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


def test_a_transaction_that_collided_with_another_is_sent_again_until_it_commits() -> None:
    client = CollidingClient(collisions=COLLISION_RETRIES)

    commit(client, _writes(), refusals(lambda: True, "bjensen"))  # type: ignore[arg-type]

    assert len(client.sent) == COLLISION_RETRIES + 1
    assert all(items == client.sent[0] for items in client.sent)


def test_a_transaction_that_keeps_colliding_is_raised_as_it_came() -> None:
    client = CollidingClient(collisions=COLLISION_RETRIES + 1)

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        commit(client, _writes(), refusals(lambda: True, "bjensen"))  # type: ignore[arg-type]

    assert "TransactionConflict" in cancellation_codes(raised.value)
    assert len(client.sent) == COLLISION_RETRIES + 1


def test_a_collision_beside_a_failed_guard_is_the_guard_s_error_at_once() -> None:
    client = CollidingClient(collisions=1, also="ConditionalCheckFailed")

    with pytest.raises(Conflict):
        commit(client, _writes(), refusals(lambda: True, "bjensen"))  # type: ignore[arg-type]
    assert len(client.sent) == 1
