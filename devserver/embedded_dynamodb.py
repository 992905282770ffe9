"""The embedded DynamoDB of ``make run`` and of the bench: moto, made to hold a real tenant.

moto is a test double, and five of its habits make it unlike DynamoDB once a tenant grows or
clients write at once. While :func:`embedded_dynamodb` is active, each is undone, and
everything else stays moto's own code:

- **Transactions copy whole tables.** moto backs a ``TransactWriteItems`` out by deep-copying
  every table it touches, once per transaction item, so each write costs O(table) (a 2-item
  user write on 100,000 users: about 20 s). Instead, an undo log remembers only the items the
  transaction names and puts them back if it is cancelled, which is all a rollback needs (and drops
  the stream records moto wrote for the items it had applied before the cancellation).
- **Every object is kept forever.** moto appends each model object it creates (every item
  written, every copy made) to a class-level list for its dashboard, so memory grows with every
  write, not with the data: 3.9 GB after 1,000 users created over ``make run``. DynamoDB's
  objects are not tracked here.
- **Stream records are kept as dicts.** A record holds its item's old and new images as nested
  dicts, about 3 KB of Python objects a user write, kept for the life of the process (DynamoDB
  keeps them 24 hours): after 10,000 users created over ``make run``, about 90 MB. Here each is
  kept pickled and compressed, about a tenth of that, and read back whole when ``GetRecords``
  asks for it.
- **Shard iterators never expire.** Each ``GetRecords`` answers with a new iterator, and moto keeps
  every one, about 1.6 KB each: ``make run``'s stream functions poll four streams five times a
  second, so an idle ``make run`` grew by about 90 MB an hour. Here an iterator expires 15 minutes
  after it was issued, as DynamoDB Streams' do (reading one after that answers ``ExpiredIteratorException``).
- **Nothing is thread-safe.** Under concurrent clients a Query iterating a table while another
  request's Put adds to it fails ("dictionary changed size during iteration", a 500), and a
  transaction is not isolated from the reads beside it (a false 409). One lock serialises
  DynamoDB calls, as DynamoDB's own item operations are serialisable.
"""

import copy
import itertools
import logging
import pickle
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import moto.dynamodb.models as moto_models
from moto.core.common_models import BaseModel
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as moto_table
from moto.dynamodb.models.table import StreamRecord, Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, dynamodbstreams_backends
from moto.server import ThreadedMotoServer

DYNAMODB_MODULE = "moto.dynamodb."
ITERATOR_LIFETIME_SECONDS = 15 * 60
"""How long a shard iterator can be read after it was issued (DynamoDB Streams' GetShardIterator)."""
EXPIRED_PER_ISSUE = 2
"""Expired iterators forgotten each time one is issued: more than one, so they never pile up, and a bounded few."""


class _TablesNotCopied:
    """Stands in for the ``copy`` module inside moto's transaction: tables are not copied, the rest is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_key(table: Table, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    if operation != "Put":
        return dict(request["Key"])
    key = {table.hash_key_attr: request["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = request["Item"][table.range_key_attr]
    return key


def _restore(backend: DynamoDBBackend, table: Table, key: dict[str, Any], before: Any) -> None:
    hash_key, range_key = backend.get_keys_value(table, key)
    if before is None:
        table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = before
    else:
        table.items[hash_key] = before


@contextmanager
def transactions_with_undo_log() -> Iterator[None]:
    """While active, moto's transactions copy the items they name, not the tables, and roll back from that log.

    Not thread-safe by itself (it swaps moto's ``copy`` for the call): :func:`embedded_dynamodb`
    runs it under the lock of :func:`serialised_calls`.
    """
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Table, dict[str, Any], Any]] = []
        for entry in transact_items:
            operation, request = next(iter(entry.items()))
            table = self.tables.get(request.get("TableName", ""))
            if table is not None and operation in {"Put", "Delete", "Update", "ConditionCheck"}:
                key = _item_key(table, operation, request)
                undo.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
        shards = {table.name: table.stream_shard for table, _, _ in undo if table.stream_shard is not None}
        streamed = [(shard, len(shard.items)) for shard in shards.values()]
        moto_models.copy = _TablesNotCopied  # type: ignore[attr-defined,assignment]
        try:
            original(self, transact_items)
        except Exception:
            for table, key, before in reversed(undo):
                _restore(self, table, key, before)
            # A cancelled transaction changed nothing, so its stream says nothing (moto had recorded its first items).
            for shard, length in streamed:
                del shard.items[length:]
            raise
        finally:
            moto_models.copy = copy  # type: ignore[attr-defined]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextmanager
def untracked_models() -> Iterator[None]:
    """While active, the DynamoDB objects moto creates are not recorded in its dashboard's lists."""
    tracked_new = BaseModel.__new__

    def new(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        if cls.__module__.startswith(DYNAMODB_MODULE):
            instance: BaseModel = object.__new__(cls)
            return instance
        return tracked_new(cls, *args, **kwargs)

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseModel.__new__ = staticmethod(tracked_new)  # type: ignore[method-assign]


class CompactStreamRecord(StreamRecord):
    """A stream record as moto builds it, kept pickled and compressed until it is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.packed = zlib.compress(pickle.dumps(self.__dict__.pop("record"), pickle.HIGHEST_PROTOCOL), 1)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = pickle.loads(zlib.decompress(self.packed))  # this process's own bytes
        return record


@contextmanager
def compact_stream_records() -> Iterator[None]:
    """While active, the stream records moto writes are :class:`CompactStreamRecord` (those written before stay)."""
    original = moto_table.StreamRecord
    moto_table.StreamRecord = CompactStreamRecord  # type: ignore[misc]
    try:
        yield
    finally:
        moto_table.StreamRecord = original  # type: ignore[misc]


def _now() -> float:
    return time.monotonic()


class ExpiringIterators(dict[str, Any]):
    """A streams backend's shard iterators, each forgotten :data:`ITERATOR_LIFETIME_SECONDS` after it was issued.

    DynamoDB Streams calls do not go through :func:`serialised_calls` (its lock is DynamoDB's), so issuing
    takes a lock of its own: two clients reading streams at once never expire the same iterator twice.
    """

    def __init__(self, issued: dict[str, Any]) -> None:
        super().__init__(issued)
        self.issued_at = dict.fromkeys(issued, _now())
        self.lock = threading.Lock()

    def __setitem__(self, key: str, value: Any) -> None:
        with self.lock:
            now = _now()
            for oldest in list(itertools.islice(self.issued_at, EXPIRED_PER_ISSUE)):
                if now - self.issued_at[oldest] < ITERATOR_LIFETIME_SECONDS:
                    break
                del self.issued_at[oldest]
                self.pop(oldest, None)
            super().__setitem__(key, value)
            self.issued_at.pop(key, None)
            self.issued_at[key] = now

    def __missing__(self, key: str) -> Any:
        raise JsonRESTError("ExpiredIteratorException", "The shard iterator has expired or was never issued.")


@contextmanager
def expiring_shard_iterators() -> Iterator[None]:
    """While active, every DynamoDB Streams backend (those there and those made next) expires its shard iterators."""
    original = DynamoDBStreamsBackend.__init__

    def init(self: DynamoDBStreamsBackend, region_name: str, account_id: str) -> None:
        original(self, region_name, account_id)
        self.shard_iterators = ExpiringIterators(self.shard_iterators)

    for regions in dynamodbstreams_backends.values():
        for backend in regions.values():
            backend.shard_iterators = ExpiringIterators(backend.shard_iterators)
    DynamoDBStreamsBackend.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBStreamsBackend.__init__ = original  # type: ignore[method-assign]


@contextmanager
def serialised_calls() -> Iterator[None]:
    """While active, one DynamoDB call at a time runs in moto, whichever thread or connection it comes from."""
    original = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextmanager
def embedded_dynamodb() -> Iterator[None]:
    """moto's DynamoDB as a real tenant needs it: flat write cost, compact memory, safe under concurrent clients.

    For moto in this process, inside ``mock_aws()`` or around :func:`dynamodb_server`.
    """
    with ExitStack() as stack:
        stack.enter_context(untracked_models())
        stack.enter_context(serialised_calls())
        stack.enter_context(transactions_with_undo_log())
        stack.enter_context(compact_stream_records())
        stack.enter_context(expiring_shard_iterators())
        yield


@contextmanager
def dynamodb_server(port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """The embedded DynamoDB served over HTTP on ``host:port`` in this process; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with embedded_dynamodb():
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
