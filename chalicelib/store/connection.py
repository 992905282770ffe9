"""One long-lived boto3 session and DynamoDB client per Lambda container.

moto replaces boto3's default session whenever a mock starts, so the client is
built lazily from a session of our own, and rebuilt only when the endpoint or
region it points at changes (tests and ``make run`` point it at moto).
"""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import Settings
from chalicelib.store.deadline import refuse_when_spent
from chalicelib.store.waves import MAX_CONCURRENT_CALLS

# Standard retry mode backs off on throttling and transient 5xx errors; deadline.py bounds a request's
# attempts all together. DynamoDB answers in milliseconds: 5 s of silence is a lost attempt. Kept-alive
# connections for the request's own thread and every thread of the pool (waves.py) at once, and a few
# requests beside (make run serves several at a time); botocore's default keeps 10.
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=2 * MAX_CONCURRENT_CALLS,
)


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def _client(endpoint_url: str | None, region: str) -> Any:
    client = _session().client("dynamodb", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG)
    client.meta.events.register("before-send.dynamodb", refuse_when_spent)
    return client


def dynamodb(settings: Settings) -> Any:
    """Return the low-level DynamoDB client for these settings."""
    return _client(settings.dynamodb_endpoint_url, settings.region)


def reset() -> None:
    """Forget the cached session and clients (tests call it when a new moto mock starts)."""
    _client.cache_clear()
    _session.cache_clear()
