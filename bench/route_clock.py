"""What a request costs inside the API Lambda's handler: its wall time, and the CPU of our own code.

API Gateway caches the authorizer's answer for a credential (``ttl_seconds`` in ``app.py``), so
most requests an IdP sends in production run the route alone: the time spent inside
``Chalice.__call__``, which the authorizer is not part of. moto's CPU is measured around all of
its work for a call (botocore hands the prepared request to moto's stubber, which parses it,
runs DynamoDB's handler and serialises the answer), in the thread that makes the call
(``thread_time``, so the pool's other threads running our code beside it are not taken out with
it), and taken out: what is left is our code, the libraries it calls and botocore's own work on
both sides of the wire, which DynamoDB would not replace. Before 2026-11-29 only the handler was
timed, so about 1 ms a call of moto's request parsing counted as ours.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalice.app import Chalice
from moto.core.botocore_stubber import BotocoreStubber


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
        """Install the clock (around moto's stubber, so a wait for the embedded store's lock costs no CPU)."""
        handle = BotocoreStubber.__call__
        serve = Chalice.__call__
        clock = self

        def call_action(stubber: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return handle(stubber, *args, **kwargs)
            finally:
                clock._add_moto_cpu(time.thread_time() - started)

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

        BotocoreStubber.__call__ = call_action  # type: ignore[method-assign,assignment]
        Chalice.__call__ = timed_call  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            BotocoreStubber.__call__ = handle  # type: ignore[method-assign]
            Chalice.__call__ = serve  # type: ignore[method-assign]
