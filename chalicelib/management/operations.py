"""What a tenant's administrator may do, once: the operations ``python -m admin`` and ``/admin/v1`` both call.

Each write leaves an entry in the tenant's activity trail naming who asked (:class:`Actor`): the
platform's admin id and its IAM principal for the API, the operator and ``cli`` for the CLI. An
operation refuses with :class:`ManagementError` (a stable code, the field at fault, an HTTP status);
no secret ever reaches the trail, a log or an error.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.credentials import (
    TENANT_NAME_RULE,
    CredentialError,
    IssuedCredential,
    create_service_account,
    generate_credential,
    revoke_credential,
    valid_tenant_name,
)
from chalicelib.auth.usage import refused_in_last_day
from chalicelib.config import Settings
from chalicelib.management import activity as trail_rules
from chalicelib.management.errors import ManagementError
from chalicelib.provisioning.passwords import PasswordPolicy
from chalicelib.resources import meta
from chalicelib.resources.catalogue import (
    KIND_TYPES,
    RESOURCE_KINDS,
    Catalogue,
    CatalogueError,
    declare_role,
    withdraw_role,
)
from chalicelib.store.activity import ActivityEntry, ActivityTable, AttributeChange, now
from chalicelib.store.credentials import CredentialStore, ServiceAccount
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.groups import GroupTable
from chalicelib.store.password_policies import PasswordPolicyTable, StoredPasswordPolicy
from chalicelib.store.role_catalogue import DeclaredRole, RoleCatalogueTable, RoleKind
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, storable
from chalicelib.store.role_sources import SAML_ATTRIBUTE, SCIM_GROUPS, RoleSource, RoleSourceTable
from chalicelib.store.users import UserTable

MANAGEMENT_CLIENT = "management"
"""The ``client_id`` of a management write's trail entry: no SCIM credential made it."""
MAX_ROLES = 100
"""Data Access or Application Access Roles in one mapping."""
MAX_ROLE_NAME = 256
MAX_ATTRIBUTE_NAME = 256
_CATALOGUE_TYPES = {kind: resource_type for resource_type, kind in RESOURCE_KINDS.items()}
"""A catalogue change's resource type in the trail: the SCIM resource type that lists the role."""
_CREDENTIAL_STATUS = {
    "invalid_tenant_name": 400,
    "tenant_exists": 409,
    "tenant_not_found": 404,
    "missing_permissions": 409,
    "active_credential_exists": 409,
    "credential_not_found": 404,
    "credential_revoked": 409,
}


@dataclass(frozen=True)
class Actor:
    """Who asks for a management write: the person (as the caller names them) and the caller's principal."""

    name: str
    principal: str


@dataclass(frozen=True)
class CredentialSummary:
    """A credential as an administrator sees it: never its secret or hash."""

    client_id: str
    description: str
    created: str
    revoked: str | None
    last_used: str | None
    refused_24h: int


def credential_failure(error: CredentialError, field: str | None = None) -> ManagementError:
    return ManagementError(_CREDENTIAL_STATUS.get(error.code, 409), error.code, str(error), field)


class Management:
    """The management operations on a stage's tables.

    :param known_tenants_only: Refuse (404) a tenant with no service account; the CLI lets an operator
        prepare a tenant's settings (role mappings, password policy) before creating it.
    """

    def __init__(self, client: DynamoDBClient, config: Settings, known_tenants_only: bool = True) -> None:
        self.client = client
        self.config = config
        self.credentials = CredentialStore(client, config.credentials_table)
        self.known_tenants_only = known_tenants_only

    def tenant(self, tenant: str) -> None:
        """Check the tenant exists: it has a SCIM service account.

        :raises ManagementError: 400 for a name that cannot be a tenant's, 404 for an unknown tenant.
        """
        if not valid_tenant_name(tenant):
            raise ManagementError(400, "invalid_tenant_name", f"A tenant name is {TENANT_NAME_RULE}.", "tenant")
        if self.known_tenants_only and self.credentials.get_service_account(tenant) is None:
            raise ManagementError(404, "tenant_not_found", f"No tenant {tenant!r}.", "tenant")

    def record(self, tenant: str, actor: Actor, operation: str, what: str, **details: Any) -> None:
        """One trail entry for a management write (``what`` is the resource type shown, e.g. Credential)."""
        changes = tuple(AttributeChange(path, None, value) for path, value in details.items() if value is not None)
        entry = ActivityEntry(
            at=now(),
            client_id=MANAGEMENT_CLIENT,
            operation=operation,
            method="ADMIN",
            path=f"/admin/v1/tenants/{tenant}",
            status=200,
            resource_type=what,
            resource_name=details.get("name"),
            changes=changes,
            actor=actor.name,
            principal=actor.principal,
        )
        ActivityTable(self.client, self.config.activity_table, tenant, self.config.activity_retention_days).record(
            entry
        )

    # -- tenants and credentials ------------------------------------------------------------------

    def create_tenant(self, tenant: str, name: str, actor: Actor) -> ServiceAccount:
        try:
            account = create_service_account(self.credentials, tenant, name=name)
        except CredentialError as error:
            raise credential_failure(error, "tenant") from None
        # Every user of a new tenant is written with its email pointers: lookups by email may trust them at once.
        UserTable(self.client, self.config.users_table, tenant).emails.mark_complete()
        self.record(tenant, actor, "create", "Tenant", name=name, serviceAccount=account.account_id)
        return account

    def generate_credential(self, tenant: str, description: str, actor: Actor) -> IssuedCredential:
        """The tenant's credential; its secret exists only in what this returns (shown once)."""
        self.tenant(tenant)
        try:
            issued = generate_credential(self.credentials, self.config.credential_hash_key, tenant, description)
        except CredentialError as error:
            raise credential_failure(error) from None
        self.record(tenant, actor, "create", "Credential", name=issued.client_id, description=description)
        return issued

    def list_credentials(self, tenant: str) -> list[CredentialSummary]:
        self.tenant(tenant)
        return [
            CredentialSummary(
                client_id=c.client_id,
                description=c.description,
                created=c.created,
                revoked=c.revoked,
                last_used=c.last_used,
                refused_24h=refused_in_last_day(self.credentials, c.client_id),
            )
            for c in self.credentials.credentials_of(tenant)
        ]

    def revoke_credential(self, tenant: str | None, client_id: str, actor: Actor) -> str:
        """Revoke for good; the tenant it belonged to. ``tenant`` None: whichever tenant holds it (the CLI)."""
        if tenant is not None:
            self.tenant(tenant)
        try:
            revoked = revoke_credential(self.credentials, client_id, tenant)
        except CredentialError as error:
            raise credential_failure(error, "clientId") from None
        self.record(revoked.tenant, actor, "revoke", "Credential", name=client_id)
        return revoked.tenant

    # -- role mappings ----------------------------------------------------------------------------

    def mappings(self, tenant: str) -> RoleMappingTable:
        self.tenant(tenant)
        return RoleMappingTable(self.client, self.config.role_mappings_table, tenant)

    def set_mapping(self, tenant: str, mapping: RoleMapping, actor: Actor) -> RoleMapping:
        check_role_name(mapping.customer_supplied_role, "customerSuppliedRole")
        for field, roles in (
            ("dataAccessRoles", mapping.data_access_roles),
            ("applicationAccessRoles", mapping.application_access_roles),
        ):
            if len(roles) > MAX_ROLES:
                raise ManagementError(400, "too_many_roles", f"At most {MAX_ROLES} roles.", field)
            for role in roles:
                check_role_name(role, field)
        self.mappings(tenant).put(mapping)
        self.record(
            tenant,
            actor,
            "set",
            "RoleMapping",
            name=mapping.customer_supplied_role,
            dataAccessRoles=list(mapping.data_access_roles),
            applicationAccessRoles=list(mapping.application_access_roles),
        )
        return mapping

    def get_mapping(self, tenant: str, role: str) -> RoleMapping:
        check_role_name(role, "customerSuppliedRole")
        found = self.mappings(tenant).get(role)
        if found is None:
            raise ManagementError(404, "mapping_not_found", f"No mapping for {role!r}.", "customerSuppliedRole")
        return found

    def delete_mapping(self, tenant: str, role: str, actor: Actor) -> None:
        check_role_name(role, "customerSuppliedRole")
        if not self.mappings(tenant).delete(role):
            raise ManagementError(404, "mapping_not_found", f"No mapping for {role!r}.", "customerSuppliedRole")
        self.record(tenant, actor, "delete", "RoleMapping", name=role)

    # -- role catalogue (SCIM /Roles and /Entitlements) -------------------------------------------

    def catalogue(self, tenant: str) -> Catalogue:
        """The roles the tenant's users may be granted directly: those its mappings name, and those declared."""
        return Catalogue(
            self.mappings(tenant), RoleCatalogueTable(self.client, self.config.role_mappings_table, tenant)
        )

    def declare_role(self, tenant: str, kind: RoleKind, name: str, description: str, actor: Actor) -> DeclaredRole:
        """Declare a role (or redescribe one), so that users may be granted it before any group maps to it.

        Declaring it again as it is (same spelling and description) changes nothing: no write, no trail entry.
        """
        try:
            role, changed = declare_role(self.catalogue(tenant).declared, kind, name, description, meta.now)
        except CatalogueError as error:
            raise ManagementError(400, error.code, str(error), error.field) from None
        if changed:
            self.record(
                tenant, actor, "set", _CATALOGUE_TYPES[kind], name=role.name, description=role.description or None
            )
        return role

    def withdraw_role(self, tenant: str, kind: RoleKind, name: str, actor: Actor) -> DeclaredRole:
        """Withdraw a declared role: new grants of it are refused (unless a mapping names it); users keep theirs.

        :returns: The role as it was declared.
        """
        withdrawn = withdraw_role(self.catalogue(tenant).declared, kind, name)
        if withdrawn is None:
            raise ManagementError(404, "role_not_declared", f"No declared {KIND_TYPES[kind]} {name!r}.", "name")
        self.record(tenant, actor, "delete", _CATALOGUE_TYPES[kind], name=withdrawn.name)
        return withdrawn

    # -- password policy --------------------------------------------------------------------------

    def password_policy(self, tenant: str) -> tuple[PasswordPolicy, bool]:
        """The policy in force, and whether it is the tenant's own (else the stage's default)."""
        self.tenant(tenant)
        stored = PasswordPolicyTable(self.client, self.config.role_mappings_table, tenant).get()
        return PasswordPolicy.of_tenant(stored, PasswordPolicy.from_settings(self.config)), stored is not None

    def set_password_policy(
        self,
        tenant: str,
        actor: Actor,
        min_length: int | None = None,
        max_length: int | None = None,
        min_character_classes: int | None = None,
    ) -> PasswordPolicy:
        """Set any of the rules; the others keep their value. Passwords already set are not re-checked."""
        current, _ = self.password_policy(tenant)
        wanted = PasswordPolicy(
            min_length=current.min_length if min_length is None else min_length,
            max_length=current.max_length if max_length is None else max_length,
            min_character_classes=(
                current.min_character_classes if min_character_classes is None else min_character_classes
            ),
        )
        problems = wanted.problems_by_rule()
        if problems:
            message = "; ".join(problem for _, problem in problems)
            raise ManagementError(400, "invalid_password_policy", f"nothing changed: {message}", problems[0][0])
        table = PasswordPolicyTable(self.client, self.config.role_mappings_table, tenant)
        table.put(StoredPasswordPolicy(wanted.min_length, wanted.max_length, wanted.min_character_classes))
        self.record(
            tenant,
            actor,
            "set",
            "PasswordPolicy",
            minLength=wanted.min_length,
            maxLength=wanted.max_length,
            minCharacterClasses=wanted.min_character_classes,
        )
        return wanted

    def reset_password_policy(self, tenant: str, actor: Actor) -> PasswordPolicy:
        self.tenant(tenant)
        PasswordPolicyTable(self.client, self.config.role_mappings_table, tenant).delete()
        self.record(tenant, actor, "reset", "PasswordPolicy")
        return PasswordPolicy.from_settings(self.config)

    # -- role source ------------------------------------------------------------------------------

    def role_source(self, tenant: str) -> RoleSource:
        self.tenant(tenant)
        return RoleSourceTable(self.client, self.config.role_mappings_table, tenant).get()

    def set_role_source(self, tenant: str, source: str, attribute: str | None, actor: Actor) -> RoleSource:
        """``scim-groups`` (no attribute) or ``saml-attribute`` with the SAML attribute's name."""
        if source == SCIM_GROUPS:
            if attribute is not None:
                raise ManagementError(400, "unexpected_attribute", "scim-groups takes no SAML attribute.", "attribute")
        elif source == SAML_ATTRIBUTE:
            if not attribute or not attribute.strip() or len(attribute) > MAX_ATTRIBUTE_NAME:
                raise ManagementError(
                    400,
                    "invalid_attribute",
                    f"saml-attribute needs the SAML attribute's name (1 to {MAX_ATTRIBUTE_NAME} characters).",
                    "attribute",
                )
        else:
            raise ManagementError(400, "invalid_source", f"The source is {SCIM_GROUPS} or {SAML_ATTRIBUTE}.", "source")
        self.tenant(tenant)
        chosen = RoleSource(source, attribute)
        RoleSourceTable(self.client, self.config.role_mappings_table, tenant).put(chosen)
        self.record(tenant, actor, "set", "RoleSource", source=source, attribute=attribute)
        return chosen

    # -- activity and status ----------------------------------------------------------------------

    def trail(self, tenant: str) -> ActivityTable:
        return ActivityTable(self.client, self.config.activity_table, tenant, self.config.activity_retention_days)

    def status(self, tenant: str) -> dict[str, Any]:
        self.tenant(tenant)
        return trail_rules.status(
            tenant,
            self.config,
            self.credentials,
            self.trail(tenant),
            UserTable(self.client, self.config.users_table, tenant),
            GroupTable(self.client, self.config.groups_table, tenant),
            RoleMappingTable(self.client, self.config.role_mappings_table, tenant),
        )

    def activity(
        self,
        tenant: str,
        *,
        user: str | None = None,
        group: str | None = None,
        since: str | None = None,
        errors: bool = False,
        ignored: bool = False,
        limit: int = 50,
        before: str | None = None,
    ) -> list[ActivityEntry]:
        """The trail's entries asked for, newest first (the CLI's ``activity``; the API pages with ``before``)."""
        from chalicelib.scim.trail import name_key

        self.tenant(tenant)
        if user is not None and group is not None:
            raise ManagementError(400, "conflicting_filters", "Give user or group, not both.", "group")
        if errors and ignored:
            raise ManagementError(400, "conflicting_filters", "Give errors or ignored, not both.", "ignored")
        try:
            moment = trail_rules.parse_since(since) if since else None
        except (ValueError, OverflowError) as error:
            raise ManagementError(400, "invalid_since", str(error), "since") from None
        target = None
        users = UserTable(self.client, self.config.users_table, tenant)
        groups = GroupTable(self.client, self.config.groups_table, tenant)
        if user is not None:
            target = trail_rules.resolve_user(users, user, name_key("User", user))
        elif group is not None:
            target = trail_rules.resolve_group(groups, group, name_key("Group", group))
        return trail_rules.activity(
            self.trail(tenant), target, moment, errors, limit, ignored_only=ignored, before=before
        )


def check_role_name(name: str, field: str) -> None:
    if not name or not name.strip() or len(name) > MAX_ROLE_NAME or not storable(name):
        raise ManagementError(
            400, "invalid_role_name", f"A role name is 1 to {MAX_ROLE_NAME} characters, not blank.", field
        )


def roles(values: Sequence[str] | None) -> tuple[str, ...]:
    """Role names without blanks or repeats, in the order given."""
    return tuple(dict.fromkeys(role.strip() for role in values or [] if role.strip()))
