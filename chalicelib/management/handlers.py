"""What each management operation does with its request: the body or query (validated by :mod:`.api`)
handed to :mod:`.operations`, the result turned into its response model."""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from chalicelib.management import models
from chalicelib.management.activity import entry_json
from chalicelib.management.errors import ManagementError
from chalicelib.management.operations import Actor, Management, roles
from chalicelib.management.sign_in import REASONS, sign_in
from chalicelib.resources.catalogue import KIND_TYPES, MAX_ROLE_NAME_LENGTH, CatalogueRole
from chalicelib.scim.trail import name_key
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_catalogue import KINDS, RoleKind
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, role_key
from chalicelib.store.users import UserTable

MAX_CLIENT_ID = 64
_CURSOR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00#[0-9a-f]{8}")


@dataclass(frozen=True)
class Call:
    """One management request, as the route hands it over."""

    method: str
    resource_path: str
    path_parameters: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    principal: str | None
    """The IAM principal (``userArn``) API Gateway verified; None outside AWS, or with no IAM authorization."""
    in_lambda: bool


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _actor(call: Call, body: Any) -> Actor:
    name = body.actor if body is not None and hasattr(body, "actor") else call.query.get("actor", "")
    name = name.strip()
    if not name or len(name) > models.MAX_ACTOR:
        raise ManagementError(400, "missing_actor", "Name who asks for this write (actor).", "actor")
    return Actor(name, call.principal or "local")


def _tenant(call: Call) -> str:
    return call.path_parameters["tenant"]


def create_tenant(management: Management, call: Call, body: models.CreateTenant) -> tuple[int, BaseModel]:
    account = management.create_tenant(body.tenant, body.name, _actor(call, body))
    return 201, models.Tenant(
        tenant=account.tenant,
        serviceAccountId=account.account_id,
        name=account.name,
        permissions=sorted(account.permissions),
    )


def list_credentials(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    listed = management.list_credentials(_tenant(call))
    return 200, models.Credentials(
        credentials=[
            models.Credential(
                clientId=c.client_id,
                description=c.description,
                created=c.created,
                state="revoked" if c.revoked else "active",
                revoked=c.revoked,
                lastUsed=c.last_used,
                refusedAttempts24h=c.refused_24h,
            )
            for c in listed
        ]
    )


def generate_credential(management: Management, call: Call, body: models.GenerateCredential) -> tuple[int, BaseModel]:
    issued = management.generate_credential(_tenant(call), body.description, _actor(call, body))
    return 201, models.IssuedCredential(
        clientId=issued.client_id,
        clientSecret=issued.client_secret,
        bearerToken=issued.bearer_token,
        description=body.description,
    )


def revoke_credential(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    client_id = call.path_parameters["clientId"]
    actor = _actor(call, None)
    if len(client_id) > MAX_CLIENT_ID:
        raise ManagementError(404, "credential_not_found", "No such credential.", "clientId")
    management.revoke_credential(_tenant(call), client_id, actor)
    state = next(c for c in management.list_credentials(_tenant(call)) if c.client_id == client_id)
    return 200, models.Credential(
        clientId=state.client_id,
        description=state.description,
        created=state.created,
        state="revoked",
        revoked=state.revoked,
        lastUsed=state.last_used,
        refusedAttempts24h=state.refused_24h,
    )


def status(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    return 200, models.Status.model_validate(management.status(_tenant(call)))


def activity(management: Management, call: Call, query: models.ActivityQuery) -> tuple[int, BaseModel]:
    before = _position(query.cursor) if query.cursor else None
    entries = management.activity(
        _tenant(call),
        user=query.user,
        group=query.group,
        since=query.since,
        errors=query.errors,
        ignored=query.ignored,
        limit=query.limit + 1,
        before=before,
    )
    more = len(entries) > query.limit
    entries = entries[: query.limit]
    cursor = _cursor(entries[-1].position) if more else None
    return 200, models.Activity(entries=[entry_json(entry) for entry in entries], nextCursor=cursor)


def _cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _position(cursor: str) -> str:
    try:
        position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = ""
    if not _CURSOR.fullmatch(position):
        raise ManagementError(400, "invalid_cursor", "The cursor is not one this API gave.", "cursor")
    return position


def _mapping(found: RoleMapping) -> models.RoleMapping:
    return models.RoleMapping(
        customerSuppliedRole=found.customer_supplied_role,
        dataAccessRoles=list(found.data_access_roles),
        applicationAccessRoles=list(found.application_access_roles),
    )


def list_mappings(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    return 200, models.RoleMappings(roleMappings=[_mapping(m) for m in management.mappings(_tenant(call)).all()])


def get_mapping(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    return 200, _mapping(management.get_mapping(_tenant(call), call.path_parameters["customerSuppliedRole"]))


def put_mapping(management: Management, call: Call, body: models.RoleMappingBody) -> tuple[int, BaseModel]:
    wanted = RoleMapping(
        call.path_parameters["customerSuppliedRole"], roles(body.dataAccessRoles), roles(body.applicationAccessRoles)
    )
    return 200, _mapping(management.set_mapping(_tenant(call), wanted, _actor(call, body)))


def delete_mapping(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    role = call.path_parameters["customerSuppliedRole"]
    found = management.get_mapping(_tenant(call), role)
    management.delete_mapping(_tenant(call), role, _actor(call, None))
    return 200, _mapping(found)


def _catalogue_role(role: CatalogueRole) -> models.CatalogueRole:
    return models.CatalogueRole(
        name=role.name,
        kind=role.kind,
        type=KIND_TYPES[role.kind],  # type: ignore[arg-type]
        description=role.description,
        declared=role.declared,
        mappedBy=list(role.mapped_by),
    )


def _kind(call: Call) -> RoleKind:
    kind = call.path_parameters["kind"]
    if kind not in KINDS:
        raise ManagementError(400, "invalid_kind", "The kind is application or data.", "kind")
    return kind


def _catalogued(management: Management, tenant: str, kind: RoleKind, name: str) -> CatalogueRole | None:
    wanted = role_key(name)
    return next((role for role in management.catalogue(tenant).roles(kind) if role_key(role.name) == wanted), None)


def list_catalogue(management: Management, call: Call, query: models.CatalogueQuery) -> tuple[int, BaseModel]:
    catalogue = management.catalogue(_tenant(call))
    kinds: tuple[RoleKind, ...] = (query.kind,) if query.kind else KINDS
    return 200, models.RoleCatalogue(roles=[_catalogue_role(role) for kind in kinds for role in catalogue.roles(kind)])


def get_catalogue_role(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    kind, name = _kind(call), call.path_parameters["name"]
    found = _catalogued(management, _tenant(call), kind, name) if len(name) <= MAX_ROLE_NAME_LENGTH else None
    if found is None:
        raise ManagementError(404, "role_not_found", f"No {KIND_TYPES[kind]} of that name in the catalogue.", "name")
    return 200, _catalogue_role(found)


def declare_role(management: Management, call: Call, body: models.CatalogueRoleBody) -> tuple[int, BaseModel]:
    kind, name = _kind(call), call.path_parameters["name"]
    if len(name) > MAX_ROLE_NAME_LENGTH:  # the operation would refuse it too, after folding it
        raise ManagementError(
            400, "invalid_role_name", f"A role's name is 1 to {MAX_ROLE_NAME_LENGTH} characters long", "name"
        )
    declared = management.declare_role(_tenant(call), kind, name, body.description, _actor(call, body))
    found = _catalogued(management, _tenant(call), kind, declared.name)  # a concurrent withdrawal: as declared
    shown = found or CatalogueRole(declared.name, kind, declared.description, declared.declared, ())
    return 200, _catalogue_role(shown)


def withdraw_role(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    kind, name = _kind(call), call.path_parameters["name"]
    actor = _actor(call, None)
    if len(name) > MAX_ROLE_NAME_LENGTH:  # no declared role has such a name
        raise ManagementError(404, "role_not_declared", f"No declared {KIND_TYPES[kind]} of that name.", "name")
    withdrawn = management.withdraw_role(_tenant(call), kind, name, actor)
    left = _catalogued(management, _tenant(call), kind, withdrawn.name)
    return 200, models.WithdrawnRole(
        name=withdrawn.name,
        kind=kind,
        type=KIND_TYPES[kind],  # type: ignore[arg-type]
        description=withdrawn.description,
        declared=withdrawn.declared,
        mappedBy=list(left.mapped_by) if left else [],
        inCatalogue=left is not None,
    )


def _policy(management: Management, tenant: str) -> models.PasswordPolicy:
    policy, own = management.password_policy(tenant)
    return models.PasswordPolicy(
        minLength=policy.min_length,
        maxLength=policy.max_length,
        minCharacterClasses=policy.min_character_classes,
        tenantSpecific=own,
        description=policy.describe(),
    )


def get_password_policy(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    return 200, _policy(management, _tenant(call))


def put_password_policy(management: Management, call: Call, body: models.PasswordPolicyBody) -> tuple[int, BaseModel]:
    management.set_password_policy(
        _tenant(call), _actor(call, body), body.minLength, body.maxLength, body.minCharacterClasses
    )
    return 200, _policy(management, _tenant(call))


def get_role_source(management: Management, call: Call, _: None) -> tuple[int, BaseModel]:
    found = management.role_source(_tenant(call))
    return 200, models.RoleSource(source=found.source, attribute=found.attribute)  # type: ignore[arg-type]


def put_role_source(management: Management, call: Call, body: models.RoleSourceBody) -> tuple[int, BaseModel]:
    chosen = management.set_role_source(_tenant(call), body.source, body.attribute, _actor(call, body))
    return 200, models.RoleSource(source=chosen.source, attribute=chosen.attribute)  # type: ignore[arg-type]


def decide_sign_in(management: Management, call: Call, body: models.SignInRequest) -> tuple[int, BaseModel]:
    tenant = _tenant(call)
    source = management.role_source(tenant)
    client, config = management.client, management.config
    decision = sign_in(
        UserTable(client, config.users_table, tenant),
        GroupTable(client, config.groups_table, tenant),
        RoleMappingTable(client, config.role_mappings_table, tenant),
        source,
        name_key("User", body.userName),
        body.samlAttributes,
    )
    return 200, models.SignIn(
        allowed=decision.allowed,
        reason=decision.reason,
        reasonMessage=REASONS.get(decision.reason or ""),
        userId=decision.user_id,
        customerSuppliedRoles=decision.customer_supplied_roles,
        dataAccessRoles=decision.data_access_roles,
        applicationAccessRoles=decision.application_access_roles,
        source=decision.source,  # type: ignore[arg-type]
        scimGroups=decision.scim_groups,
    )
