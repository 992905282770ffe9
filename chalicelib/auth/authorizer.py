"""What the Lambda authorizer decides, without Chalice: credentials in, tenant out.

Imported by app.py on every cold start of the authorizer Lambda, so it must
not import scim2 or pydantic.
"""

import botocore.exceptions

from chalicelib.auth.credentials import Principal, parse_authorization, verify
from chalicelib.config import settings
from chalicelib.store.connection import dynamodb
from chalicelib.store.credentials import CredentialStore


class CredentialsUnavailable(Exception):
    """The credentials table could not be read (after the client's retries): neither allow nor refuse."""


def authenticate(authorization: str | None) -> Principal | None:
    """Return the principal of an Authorization header, or None when it must be refused.

    :raises CredentialsUnavailable: When DynamoDB fails, so that a valid credential is not
        answered 401 (an IdP would take it for revoked) but 503 with Retry-After.
    """
    presented = parse_authorization(authorization)
    if presented is None:
        return None
    config = settings()
    store = CredentialStore(dynamodb(config), config.credentials_table)
    try:
        return verify(store, config.credential_hash_key, *presented)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise CredentialsUnavailable(str(error)) from error
