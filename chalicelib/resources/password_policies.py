"""A tenant's password policy as the provisioning rules read it (the store keeps it beside the role mappings)."""

import botocore.exceptions

from chalicelib.config import Settings
from chalicelib.resources.errors import ServiceUnavailableException
from chalicelib.store.connection import dynamodb
from chalicelib.store.password_policies import PasswordPolicyTable, StoredPasswordPolicy


def read_password_policy(settings: Settings, tenant: str) -> StoredPasswordPolicy | None:
    """The tenant's own policy, or None for the stage's default.

    :raises ServiceUnavailableException: When DynamoDB cannot be read (503, the IdP retries).
    """
    try:
        return PasswordPolicyTable(dynamodb(settings), settings.role_mappings_table, tenant).get()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise ServiceUnavailableException() from error
