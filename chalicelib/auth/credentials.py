"""Credentials of a tenant's SCIM service account: generate, verify, revoke.

A client ID names the credential; the 256-bit client secret is shown once and
stored only as a keyed SHA-256 (HMAC). A slow KDF would add nothing for a
random 256-bit secret and would slow every request. Shared by the authorizer
and the admin CLI, so it must not import scim2 or pydantic.
"""

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.auth.usage import CredentialUsage
from chalicelib.store.credentials import (
    ActiveCredentialExists,
    CredentialStore,
    ServiceAccount,
    ServiceAccountExists,
    StoredCredential,
)

CAN_CONFIGURE_COMPANY = "CanConfigureCompany"
CAN_PROVISION_USERS_AS_SCIM = "CanProvisionUsersAsSCIM"
CAN_CREATE_APP_PASSWORDS = "CanCreateAppPasswords"
REQUIRED_TO_GENERATE = frozenset({CAN_CONFIGURE_COMPANY, CAN_PROVISION_USERS_AS_SCIM, CAN_CREATE_APP_PASSWORDS})
REQUIRED_TO_USE = frozenset({CAN_PROVISION_USERS_AS_SCIM})

MAX_AUTHORIZATION_HEADER = 1024
"""Longer Authorization headers are refused before any work is done."""

BEARER_SEPARATOR = "."
"""Client IDs are hex and secrets URL-safe base64: neither contains a dot."""
_DUMMY_HASH = "0" * 64

TENANT_NAME_RULE = "1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit"
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class CredentialError(Exception):
    """A credential cannot be generated or revoked; the message says why, for the operator.

    ``code`` is stable (the management API answers it): ``invalid_tenant_name``, ``tenant_exists``,
    ``tenant_not_found``, ``missing_permissions``, ``active_credential_exists``, ``credential_not_found``,
    ``credential_revoked``.
    """

    def __init__(self, message: str, code: str = "credential_error") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IssuedCredential:
    """A freshly generated credential: the only time the secret exists outside the client."""

    client_id: str
    client_secret: str
    tenant: str

    @property
    def bearer_token(self) -> str:
        """The same credential as one string, for IdPs that only take a bearer token (Entra ID, JumpCloud)."""
        return f"{self.client_id}{BEARER_SEPARATOR}{self.client_secret}"


@dataclass(frozen=True)
class Principal:
    """Who a verified request comes from."""

    client_id: str
    tenant: str
    account_id: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def hash_secret(key: bytes, secret: str) -> str:
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def valid_tenant_name(tenant: str) -> bool:
    """Whether a tenant name follows :data:`TENANT_NAME_RULE` (it starts every key of the tenant's items)."""
    return _TENANT_NAME.fullmatch(tenant) is not None


def create_service_account(
    store: CredentialStore,
    tenant: str,
    name: str = "SCIM provisioning",
    permissions: frozenset[str] = REQUIRED_TO_GENERATE,
) -> ServiceAccount:
    """Create the tenant's dedicated SCIM service account.

    :raises CredentialError: When the tenant name is not valid, or the tenant has a service account
        already (replacing it would silently invalidate the tenant's active credential).
    """
    if not valid_tenant_name(tenant):
        raise CredentialError(f"{tenant[:64]!r} is not a tenant name: {TENANT_NAME_RULE}.", "invalid_tenant_name")
    account = ServiceAccount(tenant=tenant, account_id=str(uuid.uuid4()), name=name, permissions=permissions)
    try:
        store.insert_service_account(account)
    except ServiceAccountExists:
        existing = store.get_service_account(tenant)
        raise CredentialError(
            f"Tenant {tenant!r} already has a SCIM service account"
            f"{f' ({existing.account_id})' if existing else ''}; nothing was changed.",
            "tenant_exists",
        ) from None
    return account


def generate_credential(store: CredentialStore, key: bytes, tenant: str, description: str) -> IssuedCredential:
    """Generate the tenant's credential.

    :raises CredentialError: When the tenant has no service account, the account
        lacks a required permission, or an active credential exists already.
    """
    account = store.get_service_account(tenant)
    if account is None:
        raise CredentialError(f"Tenant {tenant!r} has no SCIM service account; create one first.", "tenant_not_found")
    missing = REQUIRED_TO_GENERATE - account.permissions
    if missing:
        raise CredentialError(
            f"The SCIM service account of tenant {tenant!r} lacks {', '.join(sorted(missing))}; "
            "it needs all of " + ", ".join(sorted(REQUIRED_TO_GENERATE)) + ".",
            "missing_permissions",
        )
    client_id = f"scim-{secrets.token_hex(12)}"
    secret = secrets.token_urlsafe(32)
    credential = StoredCredential(
        client_id=client_id,
        tenant=tenant,
        account_id=account.account_id,
        description=description,
        secret_hash=hash_secret(key, secret),
        created=_now(),
        revoked=None,
    )
    try:
        store.insert_active_credential(credential)
    except ActiveCredentialExists:
        active = store.active_client_id(tenant)
        raise CredentialError(
            f"Tenant {tenant!r} already has an active credential ({active}); revoke it before generating a new one.",
            "active_credential_exists",
        ) from None
    return IssuedCredential(client_id=client_id, client_secret=secret, tenant=tenant)


def revoke_credential(store: CredentialStore, client_id: str, tenant: str | None = None) -> StoredCredential:
    """Revoke a credential for good; requests presenting it are refused from then on.

    :param tenant: When given, a credential of another tenant is "no credential" (the management API's case).
    """
    credential = store.get_credential(client_id)
    if credential is None or (tenant is not None and credential.tenant != tenant):
        raise CredentialError(f"No credential {client_id[:64]!r}.", "credential_not_found")
    if credential.revoked is not None:
        raise CredentialError(
            f"Credential {client_id!r} was already revoked at {credential.revoked}.", "credential_revoked"
        )
    store.mark_revoked(credential, _now())
    return credential


def verify(
    store: CredentialStore, key: bytes, client_id: str, secret: str, usage: CredentialUsage | None = None
) -> Principal | None:
    """Return the principal of a client ID and secret, or None when they must be refused.

    A wrong secret costs the same whether the client ID exists or not, so response time does not
    tell which client IDs exist: the same read (the credential's item, present or not), the same
    keyed hash, the same constant-time comparison. Only a matching secret reads the service
    account: two reads in sequence for an allowed request.
    A credential of a tenant whose name is not valid is refused (it could only come from a bad write).
    ``usage`` notes the last use or the refusal of a credential that exists.
    """
    stored = store.get_credential(client_id)
    matches = hmac.compare_digest(hash_secret(key, secret), stored.secret_hash if stored else _DUMMY_HASH)
    if stored is None:
        return None
    credential = stored if matches else None
    principal = _principal(store, credential) if credential is not None else None
    if usage is not None:
        if credential is None or principal is None:
            usage.refused(store, client_id)
        else:
            usage.used(store, credential)
    return principal


def _principal(store: CredentialStore, credential: StoredCredential) -> Principal | None:
    if credential.revoked is not None or not valid_tenant_name(credential.tenant):
        return None
    account = store.get_service_account(credential.tenant)
    if account is None or account.account_id != credential.account_id:
        return None
    if not account.permissions >= REQUIRED_TO_USE:
        return None
    return Principal(client_id=credential.client_id, tenant=credential.tenant, account_id=account.account_id)


def parse_authorization(header: str | None) -> tuple[str, str] | None:
    """Return the client ID and secret an Authorization header presents, or None when it is malformed.

    One credential, two presentations: ``Basic base64(client_id:secret)`` (:rfc:`RFC 7617`) and
    ``Bearer <client_id>.<secret>`` (:rfc:`RFC 6750`), verified alike.
    """
    if not header or len(header) > MAX_AUTHORIZATION_HEADER:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        client_id, separator, secret = value.partition(BEARER_SEPARATOR)
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and a header that is not ASCII
            return None
        client_id, separator, secret = decoded.partition(":")
    else:
        return None
    if not separator or not client_id or not secret:
        return None
    return client_id, secret
