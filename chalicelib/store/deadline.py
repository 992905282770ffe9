"""A time budget for the DynamoDB work of one request, so that it ends, with a 503, well before the Lambda timeout.

botocore retries each call on its own (throttling, 5xx, connection errors: ``connection.py``), and a
request makes several calls, some inside our own retry loops. Without a bound across them a request
ran 65.9 s against ``make run`` (issue #16, docs/design/reliability.md): moto's TransactWriteItems answered
500 under concurrent writes and every retry waited longer. The budget is checked before every HTTP
attempt, so a request spends at most its budget (``REQUEST_BUDGET_SECONDS``, 15 s on AWS) plus one
attempt's timeouts (2 s to connect, 5 s to read): it ends by 22 s, inside the 29 s Lambda timeout.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from botocore.exceptions import BotoCoreError

WRITE_RESERVE = 1 / 3
"""The share of a request's budget that must be left when a write starts, for the write to finish inside it."""

_BUDGET: ContextVar[tuple[float, float] | None] = ContextVar("dynamodb_request_budget", default=None)


class BudgetSpent(BotoCoreError):  # type: ignore[misc]
    """The request's DynamoDB time budget is spent: not retried, translated to 503 at the store edge."""

    fmt = "The request spent its DynamoDB time budget of {seconds} s"


@contextmanager
def request_budget(seconds: float) -> Iterator[None]:
    """Bound the DynamoDB work done inside the block (one request) to ``seconds``."""
    token = _BUDGET.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def refuse_when_spent(**_: Any) -> None:
    """botocore's ``before-send`` hook: raising here ends the call without a retry (botocore re-raises it)."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise BudgetSpent(seconds=budget[1])


def refuse_write_when_short() -> None:
    """Before a write starts: the time spent so far (CPU as much as DynamoDB) must leave :data:`WRITE_RESERVE` of
    the budget, so that a write is refused whole (503, nothing written) rather than cut off after it committed."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget[0] - budget[1] * WRITE_RESERVE:
        raise BudgetSpent(seconds=budget[1])
