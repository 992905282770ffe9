"""What the Lambda authorizer decides, without Chalice: credentials in, tenant out.

Imported by app.py on every cold start of the authorizer Lambda, so it must
not import scim2 or pydantic.
"""

from chalicelib.auth.credentials import Principal, parse_authorization, verify
from chalicelib.config import settings
from chalicelib.store.connection import dynamodb
from chalicelib.store.credentials import CredentialStore


def authenticate(authorization: str | None) -> Principal | None:
    """Return the principal of an Authorization header, or None when it must be refused."""
    presented = parse_authorization(authorization)
    if presented is None:
        return None
    config = settings()
    store = CredentialStore(dynamodb(config), config.credentials_table)
    return verify(store, config.credential_hash_key, *presented)
