"""One long-lived DynamoDB client per Lambda container, from the container's session (chalicelib.aws_session).

The client is built lazily, and rebuilt only when the endpoint or region it points at changes
(tests and ``make run`` point it at moto).
"""

from functools import cache

from botocore.config import Config

from chalicelib import aws_session
from chalicelib.config import Settings
from chalicelib.store.deadline import refuse_when_spent
from chalicelib.store.dynamodb_types import DynamoDBClient
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
def _client(endpoint_url: str | None, region: str) -> DynamoDBClient:
    session = aws_session.session()
    client: DynamoDBClient = session.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG
    )
    client.meta.events.register("before-send.dynamodb", refuse_when_spent)
    return client


def dynamodb(settings: Settings) -> DynamoDBClient:
    """Return the low-level DynamoDB client for these settings."""
    return _client(settings.dynamodb_endpoint_url, settings.region)


def reset() -> None:
    """Forget the cached session and clients (tests call it when a new moto mock starts)."""
    _client.cache_clear()
    aws_session.reset()
