"""``/admin/v1``: one table of operations, each a request model, a call of :mod:`.operations`, a response model.

The table is also what :mod:`.openapi` describes, so the document and the routes cannot disagree.
On AWS the routes are behind API Gateway's IAM authorization (SigV4); as defence in depth a request
served by Lambda whose context carries no IAM principal is refused here too (403), so a route
deployed without the authorizer by mistake exposes nothing. SCIM credentials mean nothing here.
"""

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.config import Settings, settings
from chalicelib.management import models
from chalicelib.management.activity import entry_json
from chalicelib.management.errors import ManagementError
from chalicelib.management.operations import Actor, Management, roles
from chalicelib.management.sign_in import REASONS, sign_in
from chalicelib.scim.trail import name_key
from chalicelib.stage_secrets import SecretUnavailable
from chalicelib.store.connection import dynamodb
from chalicelib.store.errors import Unavailable
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.users import UserTable

ROOT = "/admin/v1"
OPENAPI_PATH = ROOT + "/openapi.json"
MAX_BODY_BYTES = 65_536
MAX_CLIENT_ID = 64
_CURSOR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00#[0-9a-f]{8}")
log = logging.getLogger("management")


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


Handler = Callable[[Management, Call, Any], tuple[int, BaseModel]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    handler: Handler
    response: type[BaseModel]
    status: int = 200
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 403, 404)


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


TENANT = ROOT + "/tenants/{tenant}"
OPERATIONS = (
    Operation(
        "POST",
        ROOT + "/tenants",
        "Create a tenant and its SCIM service account",
        create_tenant,
        models.Tenant,
        201,
        models.CreateTenant,
        errors=(400, 403, 409),
    ),
    Operation(
        "GET",
        TENANT + "/credentials",
        "The tenant's credentials (never a secret)",
        list_credentials,
        models.Credentials,
    ),
    Operation(
        "POST",
        TENANT + "/credentials",
        "Generate the tenant's credential; its secret is shown once",
        generate_credential,
        models.IssuedCredential,
        201,
        models.GenerateCredential,
        errors=(400, 403, 404, 409),
    ),
    Operation(
        "DELETE",
        TENANT + "/credentials/{clientId}",
        "Revoke a credential for good (actor in the query)",
        revoke_credential,
        models.Credential,
        errors=(400, 403, 404, 409),
    ),
    Operation("GET", TENANT + "/status", "Is provisioning working? As `admin status --json`", status, models.Status),
    Operation(
        "GET",
        TENANT + "/activity",
        "The tenant's activity trail, newest first, paged with a cursor",
        activity,
        models.Activity,
        query=models.ActivityQuery,
    ),
    Operation("GET", TENANT + "/role-mappings", "Every role mapping", list_mappings, models.RoleMappings),
    Operation(
        "GET", TENANT + "/role-mappings/{customerSuppliedRole}", "One role mapping", get_mapping, models.RoleMapping
    ),
    Operation(
        "PUT",
        TENANT + "/role-mappings/{customerSuppliedRole}",
        "Map a Customer Supplied Role",
        put_mapping,
        models.RoleMapping,
        request=models.RoleMappingBody,
    ),
    Operation(
        "DELETE",
        TENANT + "/role-mappings/{customerSuppliedRole}",
        "Delete a role mapping (actor in the query)",
        delete_mapping,
        models.RoleMapping,
    ),
    Operation(
        "GET", TENANT + "/password-policy", "The password policy in force", get_password_policy, models.PasswordPolicy
    ),
    Operation(
        "PUT",
        TENANT + "/password-policy",
        "Set any of the password policy's rules",
        put_password_policy,
        models.PasswordPolicy,
        request=models.PasswordPolicyBody,
    ),
    Operation(
        "GET", TENANT + "/role-source", "Where Customer Supplied Roles come from", get_role_source, models.RoleSource
    ),
    Operation(
        "PUT",
        TENANT + "/role-source",
        "Choose scim-groups or saml-attribute",
        put_role_source,
        models.RoleSource,
        request=models.RoleSourceBody,
    ),
    Operation(
        "POST",
        TENANT + "/sign-in",
        "May this user sign in with SSO, and with which roles?",
        decide_sign_in,
        models.SignIn,
        request=models.SignInRequest,
    ),
)
_BY_ROUTE = {(operation.method, operation.path): operation for operation in OPERATIONS}


def serve(call: Call, config: Settings | None = None) -> Answer:
    """Answer one management request; every refusal is a JSON :class:`models.Error`, never a traceback."""
    try:
        if call.in_lambda and not call.principal:
            raise ManagementError(403, "iam_principal_required", "The management API answers IAM-signed requests only.")
        if (call.method, call.resource_path) == ("GET", OPENAPI_PATH):
            from chalicelib.management.openapi import document

            return Answer(200, document())
        operation = _BY_ROUTE.get((call.method, call.resource_path))
        if operation is None:
            raise ManagementError(404, "not_found", "No such management operation.")
        argument = _argument(operation, call)
        config = config or settings()
        status_code, model = operation.handler(Management(dynamodb(config), config), call, argument)
        answer = Answer(status_code, model.model_dump(mode="json"))
    except ManagementError as error:
        answer = Answer(error.status, error.body())
    except (Unavailable, SecretUnavailable) as error:
        log.error("management answering 503: %s", type(error).__name__)
        answer = Answer(503, {"code": "unavailable", "message": "The service is unavailable; retry shortly."})
    except Exception:  # a bug: the caller gets the code and no detail, the log the traceback (never a body)
        log.exception("management internal error on %s %s", call.method, call.resource_path)
        answer = Answer(500, {"code": "internal_error", "message": "Internal error; it is logged."})
    log.info(
        json.dumps(
            {
                "log": "management",
                "method": call.method,
                "route": call.resource_path,
                "tenant": call.path_parameters.get("tenant"),
                "principal": call.principal,
                "status": answer.status,
                "code": answer.body.get("code") if answer.status >= 400 else None,
            }
        )
    )
    return answer


def _argument(operation: Operation, call: Call) -> Any:
    if operation.query is not None:
        return _validated(operation.query, dict(call.query), "query")
    if operation.request is None:
        return None
    if len(call.body) > MAX_BODY_BYTES:
        raise ManagementError(400, "body_too_large", f"The body is at most {MAX_BODY_BYTES} bytes.")
    try:
        document = json.loads(call.body) if call.body else None
    except (ValueError, RecursionError):
        raise ManagementError(400, "invalid_json", "The body is not JSON.") from None
    if not isinstance(document, dict):
        raise ManagementError(400, "invalid_body", "The body is a JSON object.")
    return _validated(operation.request, document, "body")


def _validated(model: type[BaseModel], document: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or where
        raise ManagementError(400, "invalid_input", f"{field}: {first['msg']}", field) from None
