"""A time budget for the DynamoDB work of one request, so that it ends, with a 503, well before the Lambda timeout.

botocore retries each call on its own (throttling, 5xx, connection errors: ``connection.py``), and a
request makes several calls, some inside our own retry loops. Without a bound across them a request
ran 65.9 s against ``make run`` (issue #16, README "Reliability"): moto's TransactWriteItems answered
500 under concurrent writes and every retry waited longer. The budget is checked before every HTTP
attempt, so a request spends at most ``REQUEST_BUDGET_SECONDS`` plus one attempt's timeouts.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from botocore.exceptions import BotoCoreError

REQUEST_BUDGET_SECONDS = 15.0
"""With connect (2 s) and read (5 s) timeouts per attempt, a request ends by 22 s: the Lambda timeout is 29 s."""

_ENDS_AT: ContextVar[float | None] = ContextVar("dynamodb_request_ends_at", default=None)


class BudgetSpent(BotoCoreError):  # type: ignore[misc]
    """The request's DynamoDB time budget is spent: not retried, translated to 503 at the store edge."""

    fmt = "The request spent its DynamoDB time budget of {seconds} s"


@contextmanager
def request_budget(seconds: float | None = None) -> Iterator[None]:
    """Bound the DynamoDB work done inside the block (one request), by default to ``REQUEST_BUDGET_SECONDS``."""
    token = _ENDS_AT.set(time.monotonic() + (REQUEST_BUDGET_SECONDS if seconds is None else seconds))
    try:
        yield
    finally:
        _ENDS_AT.reset(token)


def refuse_when_spent(**_: Any) -> None:
    """botocore's ``before-send`` hook: raising here ends the call without a retry (botocore re-raises it)."""
    ends_at = _ENDS_AT.get()
    if ends_at is not None and time.monotonic() > ends_at:
        raise BudgetSpent(seconds=REQUEST_BUDGET_SECONDS)
