"""What a request costs inside the API Lambda's handler: its wall time, and the CPU of our own code.

API Gateway caches the authorizer's answer for a credential (``ttl_seconds`` in ``app.py``), so
most requests an IdP sends in production run the route alone: the time spent inside
``Chalice.__call__``, which the authorizer is not part of. moto's CPU is measured inside its
DynamoDB handler, under the embedded store's lock (so no two calls overlap) and taken out: what
is left is our code, the libraries it calls and botocore, which DynamoDB would not replace.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalice.app import Chalice
from moto.dynamodb.responses import DynamoHandler


@dataclass(frozen=True)
class RouteTime:
    wall_ms: float
    """Wall time inside the handler, moto's DynamoDB included."""
    cpu_ms: float
    """CPU of the process during the handler, minus moto's."""


class RouteClock:
    """Times every ``Chalice.__call__`` (any app in this process); ``last`` is the most recent one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._moto_cpu = 0.0
        self.last: RouteTime | None = None

    def _add_moto_cpu(self, seconds: float) -> None:
        with self._lock:
            self._moto_cpu += seconds

    @contextmanager
    def installed(self) -> Iterator["RouteClock"]:
        """Install the clock; enter it before :func:`devserver.embedded_dynamodb.embedded_dynamodb`, so that
        moto's handler is timed inside that module's lock."""
        handle = DynamoHandler.call_action
        serve = Chalice.__call__
        clock = self

        def call_action(handler: DynamoHandler) -> Any:
            started = time.process_time()
            try:
                return handle(handler)
            finally:
                clock._add_moto_cpu(time.process_time() - started)

        def timed_call(app: Chalice, event: Any, context: Any) -> Any:
            wall, cpu, moto = time.perf_counter(), time.process_time(), clock._moto_cpu
            try:
                return serve(app, event, context)
            finally:
                moto_cpu = clock._moto_cpu - moto
                clock.last = RouteTime(
                    wall_ms=(time.perf_counter() - wall) * 1000,
                    cpu_ms=max(0.0, time.process_time() - cpu - moto_cpu) * 1000,
                )

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        Chalice.__call__ = timed_call  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            DynamoHandler.call_action = handle  # type: ignore[method-assign]
            Chalice.__call__ = serve  # type: ignore[method-assign]
