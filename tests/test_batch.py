"""Batch calls finish the work DynamoDB hands back (moto never does, so a fake client does here)."""

from typing import Any

import pytest

from chalicelib.store.batch import batch_get, batch_write
from chalicelib.store.errors import Unavailable


class Throttled:
    """Leaves the last request of each call unprocessed, ``times`` times over."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.written: list[Any] = []
        self.calls = 0

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.calls += 1
        (requests,) = RequestItems.values()
        assert len(requests) <= 25
        if self.times > 0 and len(requests) > 1:
            self.times -= 1
            self.written.extend(requests[:-1])
            return {"UnprocessedItems": {"t": requests[-1:]}}
        self.written.extend(requests)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        keys = RequestItems["t"]["Keys"]
        assert len(keys) <= 100 and RequestItems["t"]["ConsistentRead"]
        if self.times > 0 and len(keys) > 1:
            self.times -= 1
            return {"Responses": {"t": keys[:-1]}, "UnprocessedKeys": {"t": {**RequestItems["t"], "Keys": keys[-1:]}}}
        return {"Responses": {"t": keys}, "UnprocessedKeys": {}}


def test_batch_write_chunks_by_25_and_retries_unprocessed_items() -> None:
    client = Throttled(times=3)
    requests = [{"PutRequest": {"Item": {"n": {"N": str(n)}}}} for n in range(60)]

    batch_write(client, "t", requests)

    assert sorted(r["PutRequest"]["Item"]["n"]["N"] for r in client.written) == sorted(str(n) for n in range(60))
    assert client.calls == 3 + 3


def test_batch_get_chunks_by_100_and_retries_unprocessed_keys() -> None:
    client = Throttled(times=2)
    keys = [{"n": {"N": str(n)}} for n in range(250)]

    found = batch_get(client, "t", keys)

    assert sorted(found, key=lambda k: int(k["n"]["N"])) == keys
    assert client.calls == 3 + 2


class NeverCatchesUp:
    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        return {"UnprocessedItems": RequestItems}


def test_batch_write_gives_up_as_unavailable_when_dynamodb_never_catches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.store.batch._backoff", lambda round_number: None)

    with pytest.raises(Unavailable):
        batch_write(NeverCatchesUp(), "t", [{"PutRequest": {"Item": {"n": {"N": "1"}}}}])
