"""Which storage serves a tenant: the one place where the provisioning rules meet a concrete storage."""

from scim2_models import ScimProvider

from chalicelib.config import Settings
from chalicelib.provisioning.activity import WriteNotes
from chalicelib.provisioning.handler import ProvisioningHandler
from chalicelib.provisioning.passwords import PasswordPolicy, hash_password
from chalicelib.provisioning.service import ProvisioningService, TenantScope
from chalicelib.resources.password_policies import read_password_policy
from chalicelib.resources.storage import DynamoScimStorage


def tenant_storage(provider: ScimProvider, settings: Settings, tenant: str) -> DynamoScimStorage:
    """One tenant's users and groups on DynamoDB; user passwords are kept as argon2id hashes."""
    return DynamoScimStorage.of_tenant(provider, settings, tenant, hash_password)


def tenant_password_policy(service: ProvisioningService, settings: Settings, tenant: str) -> PasswordPolicy:
    """The tenant's password policy (``python -m admin password-policy``), else the stage's default."""
    return PasswordPolicy.of_tenant(read_password_policy(settings, tenant), service.password_policy)


def handler_for(
    service: ProvisioningService, settings: Settings, tenant: str, notes: WriteNotes | None = None
) -> ProvisioningHandler:
    """The handler of one request: the protocol and the product's rules, over the tenant's storage.

    ``notes`` receives what the request wrote, for the activity trail.
    """
    return ProvisioningHandler(
        service.for_tenant(TenantScope.of(tenant, lambda: tenant_password_policy(service, settings, tenant))),
        tenant_storage(service.provider, settings, tenant),
        notes,
    )
