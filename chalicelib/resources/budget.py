"""The time budget of one request's storage work, for the layers above (chalicelib/store/deadline.py).

A spent budget ends the DynamoDB call in progress with a BotoCoreError, which :func:`errors.translated`
turns into a 503 like any other DynamoDB failure that outlasts its retries.
"""

from chalicelib.store.deadline import refuse_write_when_short, request_budget

__all__ = ["refuse_write_when_short", "request_budget"]
