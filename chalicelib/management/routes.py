"""``/admin/v1``'s table of operations: each a path, a request model, a handler (:mod:`.handlers`), a response model.

:mod:`.api` serves the table, :mod:`.openapi` describes it, so the document and the routes cannot disagree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from chalicelib.management import models
from chalicelib.management.handlers import (
    Call,
    activity,
    create_tenant,
    decide_sign_in,
    declare_role,
    delete_mapping,
    generate_credential,
    get_catalogue_role,
    get_mapping,
    get_password_policy,
    get_role_source,
    list_catalogue,
    list_credentials,
    list_mappings,
    put_mapping,
    put_password_policy,
    put_role_source,
    revoke_credential,
    status,
    withdraw_role,
)
from chalicelib.management.operations import Management

ROOT = "/admin/v1"
OPENAPI_PATH = ROOT + "/openapi.json"


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
        "GET",
        TENANT + "/role-catalogue",
        "The roles users may be granted directly: declared, and named by a mapping (SCIM /Roles, /Entitlements)",
        list_catalogue,
        models.RoleCatalogue,
        query=models.CatalogueQuery,
    ),
    Operation(
        "GET",
        TENANT + "/role-catalogue/{kind}/{name}",
        "One role of the catalogue",
        get_catalogue_role,
        models.CatalogueRole,
    ),
    Operation(
        "PUT",
        TENANT + "/role-catalogue/{kind}/{name}",
        "Declare a role (or redescribe it) so users may be granted it before any group maps to it",
        declare_role,
        models.CatalogueRole,
        request=models.CatalogueRoleBody,
    ),
    Operation(
        "DELETE",
        TENANT + "/role-catalogue/{kind}/{name}",
        "Withdraw a declared role (actor in the query); users keep their grants of it",
        withdraw_role,
        models.WithdrawnRole,
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
