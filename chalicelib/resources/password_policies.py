"""A tenant's password policy as the provisioning rules read it (the store keeps it beside the role mappings)."""

from chalicelib.config import Settings
from chalicelib.resources.errors import translated
from chalicelib.store.connection import dynamodb
from chalicelib.store.password_policies import PasswordPolicyTable, StoredPasswordPolicy


def read_password_policy(settings: Settings, tenant: str) -> StoredPasswordPolicy | None:
    """The tenant's own policy, or None for the stage's default.

    :raises ServiceUnavailableException: When DynamoDB is unavailable (503, the IdP retries).
    """
    with translated():
        return PasswordPolicyTable(dynamodb(settings), settings.role_mappings_table, tenant).get()
