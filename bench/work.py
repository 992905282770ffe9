"""The DynamoDB work of a request, counted exactly with botocore event hooks.

Counted as ``tests/conftest.py``'s ``DynamoCalls`` counts (items read: GetItem hits, BatchGetItem
responses, the ScannedCount of a Query or Scan; items written: every Put/Update/Delete request,
one per transaction item), plus what DynamoDB's latency and bill follow: the **round trips in
sequence** (calls made at once count once: the longest chain of calls each started after the
previous one answered), the **write units** (:mod:`bench.write_units`, from the items before
and after each write, read from moto's tables beside the call) and the **read units** (:func:`read_units`,
from the items each read returned). The authorizer's reads of the
credentials table are kept apart, so an operation's work is its route's alone, which is what
the targets speak of; so is the route's write of the activity trail (one PutItem per write or
refused request), reported on its own.

A call handed to the pool of :mod:`chalicelib.store.waves` starts when it is handed over: on
DynamoDB the caller's own call waits on the network and the pool's thread sends at once, but
the embedded store answers one call at a time with the GIL held, so the pool's thread may only
reach botocore after the caller's call has answered. Timing its start from the hand-over counts
the round trips as DynamoDB would see them.
"""

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import chalicelib.store.waves
from bench.write_units import Item, Write, item_size
from chalicelib.store.dynamodb_types import DynamoDBClient

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}
READ_UNIT_BYTES = 4096
COUNTED_ITEM_BYTES = 200
"""A counting query returns no item to size: each item it counts is taken as this many bytes (keys and a few
attributes, as the claims and memberships it counts are)."""


class Tables(Protocol):
    """What the write-unit count reads beside a call: an item as it is now, and a table's index keys."""

    def item(self, table: str, key_or_item: Item) -> Item | None: ...

    def index_keys(self, table: str) -> Sequence[Sequence[str]]: ...


@dataclass(frozen=True)
class Work:
    """What one request asked of DynamoDB; ``calls`` names each call in order."""

    calls: tuple[str, ...] = ()
    items_read: int = 0
    items_written: int = 0
    round_trips: int = 0
    """Calls in sequence: calls that ran at once count once."""
    write_units: int = 0
    read_units: float = 0.0
    """As on-demand DynamoDB bills reads: per 4 KB, half for an eventually consistent read (:func:`read_units`)."""

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
    spans: list[tuple[float, float]] = field(default_factory=list)
    write_units: int = 0
    read_units: float = 0.0

    def work(self) -> Work:
        return Work(
            tuple(self.calls),
            self.items_read,
            self.items_written,
            round_trips(self.spans),
            self.write_units,
            self.read_units,
        )


def round_trips(spans: list[tuple[float, float]]) -> int:
    """The longest chain of calls, each started after the one before it answered: the round trips in sequence."""
    chain: list[tuple[float, int]] = []
    for start, end in sorted(spans, key=lambda span: span[1]):
        depth = 1 + max((length for ended, length in chain if ended <= start), default=0)
        chain.append((end, depth))
    return max((length for _, length in chain), default=0)


def _writes(operation: str, params: dict[str, Any]) -> list[tuple[str, Item, bool, bool]]:
    """Each write action of a call: (table, its key or item, transactional, a condition check)."""
    if operation == "TransactWriteItems":
        found = []
        for entry in params["TransactItems"]:
            kind, action = next(iter(entry.items()))
            found.append((action["TableName"], action.get("Item") or action["Key"], True, kind == "ConditionCheck"))
        return found
    if operation == "BatchWriteItem":
        return [
            (table, request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"], False, False)
            for table, requests in params["RequestItems"].items()
            for request in requests
        ]
    if operation in WRITE_OPERATIONS:
        return [(params["TableName"], params.get("Item") or params["Key"], False, False)]
    return []


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


def _units(size: int) -> int:
    return max(1, math.ceil(size / READ_UNIT_BYTES))


def read_units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
    """Read request units as DynamoDB bills them (Developer Guide, "Read/write capacity mode"): a key read 1 per 4 KB
    of the item, rounded up, a miss 1; a Query the items it read summed, then rounded up to 4 KB, at least 1; half
    of each for an eventually consistent read (every index query). A projection does not lower the bill."""
    if operation == "GetItem":
        return (1.0 if params.get("ConsistentRead") else 0.5) * _units(item_size(parsed.get("Item")))
    if operation == "BatchGetItem":
        total = 0.0
        for table, request in params.get("RequestItems", {}).items():
            found = parsed.get("Responses", {}).get(table, [])
            misses = max(0, len(request.get("Keys", [])) - len(found))
            units = sum(_units(item_size(item)) for item in found) + misses
            total += (1.0 if request.get("ConsistentRead") else 0.5) * units
        return total
    if operation in {"Query", "Scan"}:
        consistent = params.get("ConsistentRead") and "IndexName" not in params
        items = parsed.get("Items")
        size = (
            sum(item_size(item) for item in items)
            if items is not None
            else int(parsed.get("ScannedCount", parsed.get("Count", 0))) * COUNTED_ITEM_BYTES
        )
        return (1.0 if consistent else 0.5) * _units(size)
    return 0.0


class WorkCounter:
    """Hooks one DynamoDB client; ``measure()`` yields a holder whose ``work`` is set when the block ends.

    Thread-safe: a user page queries each user's groups from a thread pool.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        authorizer_table: str,
        trail_table: str | None = None,
        tables: Tables | None = None,
    ) -> None:
        self.client = client
        self.authorizer_table = authorizer_table
        self.trail_table = trail_table
        self.tables = tables
        self._lock = threading.Lock()
        self._route = _Tally()
        self._authorizer = _Tally()
        self._trail = _Tally()
        # botocore hands the request's parameters to the first hook and the response to the second.
        self._pending = threading.local()
        self._submit = chalicelib.store.waves._submit
        self._paused = False

    def install(self) -> None:
        events = self.client.meta.events
        events.register("provide-client-params.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)
        chalicelib.store.waves._submit = self._handed_over

    def uninstall(self) -> None:
        events = self.client.meta.events
        events.unregister("provide-client-params.dynamodb.*", self._before)
        events.unregister("after-call.dynamodb.*", self._after)
        chalicelib.store.waves._submit = self._submit

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing counted within: the hooks return at once, and read no moto item around a write.

        They stay registered: botocore caches each event's handlers, and unregistering one clears
        that cache, which the next request would pay for again as if it were our CPU.
        """
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _handed_over(self, call: Callable[[], Any]) -> Any:
        """Submit to the pool, stamping when: the first DynamoDB call of that task started then."""
        handed = time.perf_counter()

        def stamped() -> Any:
            self._pending.handed = handed
            try:
                return call()
            finally:
                self._pending.handed = None

        return self._submit(stamped)

    def _tally(self, params: dict[str, Any]) -> _Tally:
        tables = _tables(params)
        if tables == {self.trail_table}:
            return self._trail
        return self._authorizer if tables == {self.authorizer_table} else self._route

    def _before(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        if self._paused:
            return
        with self._lock:
            tally = self._tally(params)
            tally.calls.append(model.name)
            tally.items_written += _written(model.name, params)
        self._pending.tally = tally
        self._pending.params = params
        self._pending.writes = [
            (table, key, transactional, check, self._peek(table, key))
            for table, key, transactional, check in _writes(model.name, params)
        ]
        handed = getattr(self._pending, "handed", None)
        self._pending.handed = None  # only the task's first call was sent at the hand-over
        self._pending.started = handed if handed is not None else time.perf_counter()

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if self._paused:
            return
        ended = time.perf_counter()
        tally = getattr(self._pending, "tally", self._route)
        units = 0
        if self.tables is not None and "Error" not in parsed:
            for table, key, transactional, check, before in getattr(self._pending, "writes", []):
                after = self._peek(table, key)
                units += Write(self.tables.index_keys(table), before, after, transactional, check).units()
        read = read_units(model.name, getattr(self._pending, "params", {}), parsed) if "Error" not in parsed else 0.0
        with self._lock:
            tally.read_units += read
            tally.items_read += _read(model.name, parsed)
            tally.spans.append((getattr(self._pending, "started", ended), ended))
            tally.write_units += units

    def _peek(self, table: str, key: Item) -> Item | None:
        return None if self.tables is None else self.tables.item(table, key)

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
