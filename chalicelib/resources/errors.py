"""The store's domain errors as the SCIM exceptions scim2-server expects: translated here, once."""

from collections.abc import Iterator
from contextlib import contextmanager

from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    SCIMException,
    UniquenessException,
)

from chalicelib.store.errors import DYNAMODB_ERRORS, Conflict, NotFound, Taken, Unavailable, Unstorable, unavailable


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
    except (Unavailable, *DYNAMODB_ERRORS) as error:
        if unavailable(error):
            raise ServiceUnavailableException() from error
        raise
