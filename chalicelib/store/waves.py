"""DynamoDB calls that do not wait for each other go out together: one round trip for the lot.

A request's latency on DynamoDB is mostly its round trips in sequence (about 4 ms each), so reads
that need only what the request already knows (a user's item and its memberships, both keyed by
the id in the URL) are sent at once. One pool per container, made on first use and kept across
invocations: starting a pool per request cost about 1.4 ms of it. boto3's low-level clients are
thread-safe.

Each call runs in a copy of the caller's context, so the request's DynamoDB time budget
(:mod:`.deadline`, a ``ContextVar``) holds in the pool's threads too. Only calls that make no
further use of the pool run in it: a call made from one of its threads runs its own calls in
sequence, so a full pool queues work but never deadlocks.
"""

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from functools import partial
from typing import Any, TypeVar

MAX_CONCURRENT_CALLS = 16
T = TypeVar("T")
Item = TypeVar("Item")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_worker = threading.local()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="dynamodb", initializer=_mark_worker
                )
    return _pool


def _mark_worker() -> None:
    _worker.active = True


def _submit(call: Callable[[], T]) -> "Future[T]":
    return _executor().submit(copy_context().run, call)


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once and return their results in order; the first runs in the caller's thread.

    Every call finishes before this returns, and the first error (in call order) is raised then.
    """
    if len(calls) <= 1 or getattr(_worker, "active", False):
        return [call() for call in calls]
    futures = [_submit(call) for call in calls[1:]]
    results: list[Any] = []
    error: BaseException | None = None
    try:
        results.append(calls[0]())
    except BaseException as raised:  # the others still finish first: nothing of this request runs on after it
        error = raised
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as raised:
            error = error or raised
    if error is not None:
        raise error
    return results


def each(call: Callable[[Item], T], items: Iterable[Item]) -> list[T]:
    """``call`` on every item at once (the pool runs :data:`MAX_CONCURRENT_CALLS` at a time), results in order."""
    return together(*(partial(call, item) for item in items))


@contextmanager
def in_sequence() -> Iterator[None]:
    """Within it, this thread's calls run one after another, as a pool thread's do (the bench measures the CPU
    of a request this way: on moto, whose work holds the GIL, pool threads contend with it for the CPU)."""
    was = getattr(_worker, "active", False)
    _worker.active = True
    try:
        yield
    finally:
        _worker.active = was
