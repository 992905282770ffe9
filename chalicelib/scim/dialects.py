"""IdP dialects: what real identity providers send that the strict reading refuses, rewritten for scim2-server.

The one place for every IdP quirk (docs/design/idp-dialects.md). Where an IdP and
:rfc:`RFC 7643`/:rfc:`RFC 7644` disagree we accept the IdP's form and answer in the
RFC's: each rewrite below turns one documented IdP shape into its RFC equivalent,
names the IdP, and names the replay fixture under ``tests/fixtures/idp/`` that proves it.
A rewrite only drops what carries no data (a JSON null, a schema URN with no
attributes, a read-only ``id``) or spells the same data the RFC's way; it never
invents a value. A body that is not a JSON object is left alone, for the library
to refuse as it would.

Shapes the library already accepts (Entra's ``Replace``/``"False"``, path-less dotted
keys, ``members`` removal with a ``value``, Okta's ``{"active": false}``) are not here.
Member names are read case-insensitively (:rfc:`RFC 7643 §2.1`), as the library does.
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
# A path to the value of the entries a filter selects, such as emails[type eq "work"].value.
_SELECTED_VALUE = re.compile(r"^(.+\])\.value$", re.IGNORECASE)
_CLEARED = (None, "")


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
    # Entra ID clears an attribute with "" (entra/50_replace_user_with_capitalised_manager.json):
    # on a create or a replacement that is the same as leaving it out.
    resource: dict[str, Any] = _without_cleared(body)
    schemas = _key(resource, "schemas")
    if schemas is not None and isinstance(resource[schemas], list):
        resource[schemas] = _schemas(resource[schemas], core_schema)
    enterprise = _key(resource, ENTERPRISE_USER)
    if enterprise is not None and isinstance(resource[enterprise], dict):
        manager = _key(resource[enterprise], "manager")
        if manager is not None:
            resource[enterprise][manager] = _manager(resource[enterprise][manager], base)
    return resource


def _schemas(schemas: list[Any], core_schema: str) -> list[Any]:
    """The URNs rewritten, each once, in their first order: one pass with a set (a list lookup made it quadratic)."""
    rewritten: list[Any] = []
    seen: set[str] = set()
    for schema in schemas:
        if schema == LEGACY_CORE:
            schema = core_schema
        elif schema == ENTRA_MISSPELLED_ENTERPRISE:
            schema = ENTERPRISE_USER
        elif schema == ENTRA_GROUP_SCHEMA:
            continue
        if isinstance(schema, str):
            if schema in seen:
                continue
            seen.add(schema)
        rewritten.append(schema)  # not a string: left for the library to refuse
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
    if isinstance(manager, dict):
        # "Manager": {"Value": ...} is the same attribute (entra/49_manager_with_capitalised_names.json,
        # entra/50_replace_user_with_capitalised_manager.json).
        manager = {key.lower() if key.lower() in ("value", "$ref") else key: item for key, item in manager.items()}
        if isinstance(manager.get("value"), str) and manager["value"]:
            manager.setdefault("$ref", f"{base}/Users/{manager['value']}")
    return manager


def _patch(body: dict[str, Any], base: str) -> dict[str, Any]:
    """A PatchOp body."""
    # Entra ID puts the resource's id in the PatchOp message, which RFC 7644 §3.5.2 does
    # not define; like a read-only attribute echoed on PUT, it is ignored (entra/20_enable_user_with_id_and_name.json).
    patch = {key: value for key, value in body.items() if key.lower() != "id"}
    operations = _key(patch, "Operations")
    if operations is not None and isinstance(patch[operations], list):
        patch[operations] = [rewritten for operation in patch[operations] for rewritten in _operation(operation, base)]
    return patch


def _operation(operation: Any, base: str) -> list[Any]:
    """One operation, as the operations of the RFC that do the same."""
    if not isinstance(operation, dict):
        return [operation]
    # Entra ID names its operations ("name": "..."), a member RFC 7644 §3.5.2 does not
    # define (entra/20_enable_user_with_id_and_name.json). Member names are case-insensitive.
    operation = {key.lower(): value for key, value in operation.items() if key.lower() != "name"}
    op, path, value = operation.get("op"), operation.get("path"), operation.get("value")
    replace = isinstance(op, str) and op.lower() == "replace"
    if replace and isinstance(path, str) and value in _CLEARED:
        return [_clear(op, path)]
    if isinstance(path, str) and path.lower() in ("manager", MANAGER_PATH.lower()) and "value" in operation:
        # Entra ID's manager update: path "manager" (the enterprise attribute, unqualified)
        # with a one-element list, or the qualified path with the id as a string (entra/13_add_manager.json,
        # entra/17_replace_manager_by_id.json).
        operation["path"] = MANAGER_PATH
        operation["value"] = _manager(value, base)
    if path is None and isinstance(value, dict):
        if replace:
            cleared = list(_cleared_paths(value, ""))
            if cleared:
                kept = _without_cleared(value)
                return [*([{**operation, "value": kept}] if kept else []), *(_clear(op, key) for key in cleared)]
        operation["value"] = {key: _pathless_member(key, item, base) for key, item in value.items()}
    return [operation]


def _pathless_member(key: str, item: Any, base: str) -> Any:
    """A member of a path-less value: the manager, by its path or inside the enterprise object."""
    if key.lower() == MANAGER_PATH.lower():
        return _manager(item, base)
    manager = _key(item, "manager") if key.lower() == ENTERPRISE_USER.lower() and isinstance(item, dict) else None
    return {**item, manager: _manager(item[manager], base)} if manager is not None else item


def _clear(op: str, path: str) -> dict[str, Any]:
    """Entra ID's ``replace`` with ``""`` or null: the RFC's remove (entra/44_clear_attributes_with_empty_strings.json,
    entra/45_clear_attributes_with_nulls.json, entra/48_remove_manager_with_empty_string.json).

    Clearing the value of selected entries (``emails[type eq "work"].value``) removes those entries:
    an email without its address is no email (entra/44_clear_attributes_with_empty_strings.json).
    """
    selected = _SELECTED_VALUE.match(path)
    remove = "Remove" if op[:1].isupper() else "remove"
    return {"op": remove, "path": selected.group(1) if selected else path}


def _cleared_paths(value: dict[str, Any], prefix: str) -> Any:
    """The attribute paths a path-less replace clears, its keys valued ``""`` or null, at any depth.

    Entra ID with aadOptscim062020 sends ``{"name.givenName": "", "urn:...:User:department": ""}``
    (entra/46_clear_attributes_flagged.json);
    a key inside a schema URN's object is joined with ":", inside a complex attribute with ".".
    """
    for key, item in value.items():
        path = prefix + key
        if item in _CLEARED or (
            path.lower() == MANAGER_PATH.lower() and isinstance(item, dict) and _value_of(item) in _CLEARED
        ):
            yield path
        elif isinstance(item, dict) and key.lower() != "schemas":
            yield from _cleared_paths(item, path + (":" if key.lower().startswith("urn:") else "."))


def _value_of(manager: dict[str, Any]) -> Any:
    key = _key(manager, "value")
    return manager[key] if key is not None else None


def _key(members: dict[str, Any], name: str) -> str | None:
    """The key of ``members`` that names ``name``, whatever its case (RFC 7643 §2.1), or None."""
    if name in members:
        return name
    folded = name.lower()
    return next((key for key in members if isinstance(key, str) and key.lower() == folded), None)


def _without_cleared(value: Any) -> Any:
    """``value`` without its JSON nulls and ``""``; a list entry whose ``value`` is cleared goes too."""
    if isinstance(value, dict):
        # A member is a reference to a user, never a value to clear: one without a value stays, to be refused.
        kept = {
            key: item if isinstance(key, str) and key.lower() == "members" else _without_cleared(item)
            for key, item in value.items()
            if item not in _CLEARED
        }
        # An object left empty by its cleared members ({"name": {"givenName": ""}}) says nothing more.
        return {key: item for key, item in kept.items() if item != {} or value[key] == {}}
    if isinstance(value, list):
        return [
            _without_cleared(item)
            for item in value
            if item not in _CLEARED
            and not (isinstance(item, dict) and _key(item, "value") and _value_of(item) in _CLEARED)
        ]
    return value


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None
