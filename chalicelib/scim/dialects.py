"""IdP dialects: what real identity providers send that the strict reading refuses, rewritten for scim2-server.

The one place for every IdP quirk (DESIGN.md, "IdP dialect"). Where an IdP and
:rfc:`RFC 7643`/:rfc:`RFC 7644` disagree we accept the IdP's form and answer in the
RFC's: each rewrite below turns one documented IdP shape into its RFC equivalent,
names the IdP, and names the replay fixture under ``tests/fixtures/idp/`` that proves it.
A rewrite only drops what carries no data (a JSON null, a schema URN with no
attributes, a read-only ``id``) or spells the same data the RFC's way; it never
invents a value. A body that is not a JSON object is left alone, for the library
to refuse as it would.

Shapes the library already accepts (Entra's ``Replace``/``"False"``, path-less dotted
keys, ``members`` removal with a ``value``, Okta's ``{"active": false}``) are not here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from scim2_server.requests import ScimRequest

from chalicelib.schemas import CORE_GROUP_SCHEMA as CORE_GROUP
from chalicelib.schemas import CORE_USER_SCHEMA as CORE_USER
from chalicelib.schemas import ENTERPRISE_USER_SCHEMA as ENTERPRISE_USER

MANAGER_PATH = f"{ENTERPRISE_USER}:manager"

# OneLogin's "SCIM Provisioner (Core Schema)" templates name the SCIM 1.1 core schema;
# the attributes are 2.0's (onelogin/03_create_user_core_template.json, 06_update_user.json).
LEGACY_CORE = "urn:scim:schemas:core:1.0"
# Entra ID lists its own group schema in group creation, with no attribute under it
# (entra/28_create_group.json).
ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
# Entra ID's documented user creation lists the enterprise schema without its last colon
# (entra/06_create_user_with_nulls.json).
ENTRA_MISSPELLED_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"

_RESOURCE_PATH = re.compile(r"^/(Users|Groups)(?:/(?!\.search$)[^/]+)?/?$")


def normalise(request: ScimRequest) -> ScimRequest:
    """Rewrite an IdP's request into the form of :rfc:`RFC 7644`, in place; the request, for chaining."""
    match = _RESOURCE_PATH.match(request.path)
    method = request.method.upper()
    if match is None or method not in ("POST", "PUT", "PATCH"):
        return request
    body = _json_object(request.body)
    if body is None:
        return request
    base = request.base_url.rstrip("/")
    try:
        if method == "PATCH":
            rewritten = _patch(body, base)
        else:
            rewritten = _resource(body, CORE_USER if match.group(1) == "Users" else CORE_GROUP, base)
    except RecursionError:  # absurdly nested: the library refuses it as it is
        return request
    if rewritten != body:
        request.body = json.dumps(rewritten, separators=(",", ":")).encode()
    return request


def _resource(body: dict[str, Any], core_schema: str, base: str) -> dict[str, Any]:
    """A POST or PUT body."""
    # Entra ID sends unmapped attributes as JSON nulls, some of them outside any schema
    # ("department": null, "manager": null at the top level); RFC 7643 §2.5 makes null
    # the same as absent (entra/06_create_user_with_nulls.json).
    resource: dict[str, Any] = _without_nulls(body)
    schemas = resource.get("schemas")
    if isinstance(schemas, list):
        resource["schemas"] = _schemas(schemas, core_schema)
    enterprise = resource.get(ENTERPRISE_USER)
    if isinstance(enterprise, dict) and "manager" in enterprise:
        enterprise["manager"] = _manager(enterprise["manager"], base)
    return resource


def _schemas(schemas: list[Any], core_schema: str) -> list[Any]:
    rewritten: list[Any] = []
    for schema in schemas:
        if schema == LEGACY_CORE:
            schema = core_schema
        elif schema == ENTRA_MISSPELLED_ENTERPRISE:
            schema = ENTERPRISE_USER
        elif schema == ENTRA_GROUP_SCHEMA:
            continue
        if schema not in rewritten:
            rewritten.append(schema)
    return rewritten


def _manager(manager: Any, base: str) -> Any:
    """:rfc:`RFC 7643 §4.3`'s manager, from the forms IdPs send.

    Entra ID sends the manager's id as a bare string (entra/23_create_user_without_email.json,
    entra/17_replace_manager_by_id.json, entra/18_replace_manager_flagged.json) or as a one-element
    list (entra/13_add_manager.json), and OneLogin's enterprise template an object with ``value``
    and no ``$ref`` (onelogin/04_create_user_enterprise_template.json); scim2-models
    requires both ``value`` and ``$ref``. The ``$ref`` of a user id is that user's URI here.
    """
    if isinstance(manager, list) and len(manager) == 1:
        manager = manager[0]  # Entra's PATCH sends the single-valued manager as a one-element list
    if isinstance(manager, str) and manager:
        manager = {"value": manager}
    if isinstance(manager, dict) and isinstance(manager.get("value"), str) and manager["value"]:
        manager = {**manager}
        manager.setdefault("$ref", f"{base}/Users/{manager['value']}")
    return manager


def _patch(body: dict[str, Any], base: str) -> dict[str, Any]:
    """A PatchOp body."""
    # Entra ID puts the resource's id in the PatchOp message, which RFC 7644 §3.5.2 does
    # not define; like a read-only attribute echoed on PUT, it is ignored (entra/20_enable_user_with_id_and_name.json).
    patch = {key: value for key, value in body.items() if key != "id"}
    operations = patch.get("Operations")
    if isinstance(operations, list):
        patch["Operations"] = [_operation(operation, base) for operation in operations]
    return patch


def _operation(operation: Any, base: str) -> Any:
    if not isinstance(operation, dict):
        return operation
    # Entra ID names its operations ("name": "..."), a member RFC 7644 §3.5.2 does not
    # define (entra/20_enable_user_with_id_and_name.json).
    operation = {key: value for key, value in operation.items() if key != "name"}
    path = operation.get("path")
    if isinstance(path, str) and path.lower() in ("manager", MANAGER_PATH.lower()) and "value" in operation:
        # Entra ID's manager update: path "manager" (the enterprise attribute, unqualified)
        # with a one-element list, or the qualified path with the id as a string (entra/13_add_manager.json,
        # entra/17_replace_manager_by_id.json).
        operation["path"] = MANAGER_PATH
        operation["value"] = _manager(operation["value"], base)
    value = operation.get("value")
    if path is None and isinstance(value, dict):
        operation["value"] = {
            key: _manager(item, base) if key.lower() == MANAGER_PATH.lower() else item for key, item in value.items()
        }
    return operation


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return value


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None
