"""Domain errors of the store, raised instead of botocore's ClientError.

The store translates DynamoDB's answers at its boundary; the SCIM layer maps
these to RFC 7644 errors in exactly one place. Whether a failure means "DynamoDB
is unavailable" (a 503 with Retry-After, never a 500) is decided here, by
:func:`unavailable`, for every caller.
"""

import botocore.exceptions

DYNAMODB_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
"""What a DynamoDB call raises when it fails: DynamoDB's refusal, or botocore's own failure."""

_TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


class StoreError(Exception):
    """Base class of the store's domain errors."""


class NotFound(StoreError):
    """The item does not exist in this tenant."""


class Conflict(StoreError):
    """The item changed since it was read (its version is not the expected one)."""


class Taken(StoreError):
    """A unique value is already held by another item of this tenant."""

    def __init__(self, attribute: str, value: str) -> None:
        super().__init__(f"{attribute} {value!r} is already taken")
        self.attribute = attribute
        self.value = value


class Unavailable(StoreError):
    """DynamoDB kept failing after the client's retries (throttling, 5xx, connection)."""


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says DynamoDB is unavailable: a later retry of the same request may succeed.

    So are: :class:`Unavailable` (work left unprocessed); botocore's own failures (connection,
    timeout, the request's time budget spent: :mod:`.deadline`); throttling and 5xx still failing
    after botocore's retries (moto answers a bare 500); a transaction that collided with another
    one on the same items. Anything else DynamoDB refuses is a bug or a misconfiguration.
    """
    if isinstance(error, Unavailable | botocore.exceptions.BotoCoreError):
        return True
    if not isinstance(error, botocore.exceptions.ClientError):
        return False
    code = error.response.get("Error", {}).get("Code")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _TRANSIENT_CODES or status >= 500 or "TransactionConflict" in cancellation_codes(error)


class Unstorable(StoreError):
    """A value DynamoDB cannot keep: empty where it becomes a key, or over a key's or an item's size limit."""


def cancellation_codes(error: Exception) -> list[str]:
    """Return the per-item cancellation codes of a TransactionCanceledException."""
    response = getattr(error, "response", {})
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]
