"""What the Lambda authorizer decides, without Chalice: credentials in, tenant out.

Imported by app.py on every cold start of the authorizer Lambda, so it must
not import scim2 or pydantic.
"""

import botocore.exceptions

from chalicelib.auth.credentials import Principal, parse_authorization, verify
from chalicelib.auth.usage import CredentialUsage
from chalicelib.config import settings
from chalicelib.store.connection import dynamodb
from chalicelib.store.credentials import CredentialStore

# The container's notes of last uses and refusals (chalicelib.auth.usage).
_usage = CredentialUsage()


class CredentialsUnavailable(Exception):
    """The credentials table could not be read (after the client's retries): neither allow nor refuse."""


def authenticate(authorization: str | None) -> Principal | None:
    """Return the principal of an Authorization header, or None when it must be refused.

    :raises CredentialsUnavailable: When DynamoDB fails, so that a valid credential is not
        answered 401 (an IdP would take it for revoked) but 503 with Retry-After.
    """
    config = settings()
    presented = parse_authorization(authorization)
    if presented is None:
        _count(config.stage, "AuthorizerRefusals")
        return None
    store = CredentialStore(dynamodb(config), config.credentials_table)
    try:
        principal = verify(store, config.credential_hash_key, *presented, usage=_usage)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        _count(config.stage, "AuthorizerErrors")
        raise CredentialsUnavailable(str(error)) from error
    if principal is None:
        _count(config.stage, "AuthorizerRefusals")
    return principal


def _count(stage: str, metric: str) -> None:
    # Powertools loads on the first refusal or error of the container, never for an allowed request.
    from chalicelib.metrics import count

    count(stage, metric)
