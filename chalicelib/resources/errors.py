"""The store's domain errors as the SCIM exceptions scim2-server expects: translated here, once."""

from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    SCIMException,
    UniquenessException,
)

from chalicelib.store.errors import Conflict, NotFound, Taken, Unavailable, Unstorable, cancellation_codes

_RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


class ServiceUnavailableException(SCIMException):
    """DynamoDB kept failing; the client should retry later (RFC 7644 §3.12 allows 503)."""

    status = 503
    _default_detail = "The service is temporarily unavailable; retry later"


@contextmanager
def translated() -> Iterator[None]:
    """Turn the store's domain errors, and DynamoDB's failures after retries, into SCIM exceptions."""
    try:
        yield
    except Taken as error:
        raise UniquenessException(detail=str(error)) from None
    except Conflict:
        raise PreconditionFailedException(detail="The resource changed since it was read") from None
    except NotFound:
        raise NotFoundException(detail="The resource does not exist") from None
    except Unstorable as error:
        raise InvalidValueException(detail=str(error)) from None
    except Unavailable as error:
        raise ServiceUnavailableException() from error
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        # A transaction that collided with another one on the same items, or a 5xx still failing after
        # botocore's retries (moto answers a bare 500): the client retries later.
        if code in _RETRYABLE_CODES or status >= 500 or "TransactionConflict" in cancellation_codes(error):
            raise ServiceUnavailableException() from error
        raise
    except botocore.exceptions.BotoCoreError as error:
        raise ServiceUnavailableException() from error
