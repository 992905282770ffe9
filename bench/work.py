"""The DynamoDB work of a request, counted exactly with botocore event hooks: calls, items read, items written.

Counted as ``tests/conftest.py``'s ``DynamoCalls`` counts (items read: GetItem hits, BatchGetItem
responses, the ScannedCount of a Query or Scan; items written: every Put/Update/Delete request,
one per transaction item). The authorizer's reads of the credentials table are kept apart, so an
operation's work is its route's alone, which is what the targets speak of; so is the route's write
of the activity trail (one PutItem per write or refused request), reported on its own.
"""

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass(frozen=True)
class Work:
    """What one request asked of DynamoDB; ``calls`` names each call in order."""

    calls: tuple[str, ...] = ()
    items_read: int = 0
    items_written: int = 0

    @property
    def items(self) -> int:
        return self.items_read + self.items_written

    def named(self, operation: str) -> int:
        return self.calls.count(operation)

    def summary(self) -> str:
        """``GetItem×2 Query TransactWriteItems``: each call name once, with its count."""
        counted = Counter(self.calls)
        return " ".join(name if n == 1 else f"{name}×{n}" for name, n in counted.items()) or "none"


@dataclass
class _Tally:
    calls: list[str] = field(default_factory=list)
    items_read: int = 0
    items_written: int = 0

    def work(self) -> Work:
        return Work(tuple(self.calls), self.items_read, self.items_written)


def _tables(params: dict[str, Any]) -> set[str]:
    if "TableName" in params:
        return {params["TableName"]}
    if "RequestItems" in params:
        return set(params["RequestItems"])
    if "TransactItems" in params:
        return {next(iter(item.values()))["TableName"] for item in params["TransactItems"]}
    return set()


def _written(operation: str, params: dict[str, Any]) -> int:
    if operation == "TransactWriteItems":
        return len(params["TransactItems"])
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params["RequestItems"].values())
    return 1 if operation in WRITE_OPERATIONS else 0


def _read(operation: str, parsed: dict[str, Any]) -> int:
    if operation == "GetItem":
        return 1 if "Item" in parsed else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation in {"Query", "Scan"}:
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    return 0


class WorkCounter:
    """Hooks one DynamoDB client; ``measure()`` yields a holder whose ``work`` is set when the block ends.

    Thread-safe: a user page queries each user's groups from a thread pool.
    """

    def __init__(self, client: Any, authorizer_table: str, trail_table: str | None = None) -> None:
        self.client = client
        self.authorizer_table = authorizer_table
        self.trail_table = trail_table
        self._lock = threading.Lock()
        self._route = _Tally()
        self._authorizer = _Tally()
        self._trail = _Tally()
        self.last_trail = Work()
        # botocore hands the request's parameters to the first hook and the response to the second.
        self._pending = threading.local()

    def install(self) -> None:
        events = self.client.meta.events
        events.register("provide-client-params.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    def uninstall(self) -> None:
        events = self.client.meta.events
        events.unregister("provide-client-params.dynamodb.*", self._before)
        events.unregister("after-call.dynamodb.*", self._after)

    def _tally(self, params: dict[str, Any]) -> _Tally:
        tables = _tables(params)
        if tables == {self.trail_table}:
            return self._trail
        return self._authorizer if tables == {self.authorizer_table} else self._route

    def _before(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            tally = self._tally(params)
            tally.calls.append(model.name)
            tally.items_written += _written(model.name, params)
        self._pending.tally = tally

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        tally = getattr(self._pending, "tally", self._route)
        with self._lock:
            tally.items_read += _read(model.name, parsed)

    @contextmanager
    def measure(self) -> Iterator["Measured"]:
        """Count the work of the block: the route's, and the authorizer's apart."""
        with self._lock:
            self._route, self._authorizer, self._trail = _Tally(), _Tally(), _Tally()
        measured = Measured()
        try:
            yield measured
        finally:
            with self._lock:
                measured.work = self._route.work()
                measured.authorizer = self._authorizer.work()
                measured.trail = self._trail.work()


@dataclass
class Measured:
    work: Work = field(default_factory=Work)
    authorizer: Work = field(default_factory=Work)
    trail: Work = field(default_factory=Work)
