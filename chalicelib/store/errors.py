"""Domain errors of the store, raised instead of botocore's ClientError.

The store translates DynamoDB's answers at its boundary; the SCIM layer maps
these to RFC 7644 errors in exactly one place.
"""


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


class Unstorable(StoreError):
    """A value DynamoDB cannot keep: empty where it becomes a key, or over a key's or an item's size limit."""


def cancellation_codes(error: Exception) -> list[str]:
    """Return the per-item cancellation codes of a TransactionCanceledException."""
    response = getattr(error, "response", {})
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]
