"""Attributes no schema defines are ignored, and named where an operator sees them (issue #16 item 7).

A typo in an IdP's attribute mapping, or a custom attribute the admin added in the IdP, would
otherwise make every user of the tenant fail to provision until someone finds the mapping;
Microsoft's reference implementation ignores such attributes, and so do we (scim2-models'
``ScimPolicy.Unknown.ignore``). What is invalid for a *known* attribute is still refused.
The names (never the values) go on the request's access log line; echoed client text is bounded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from scim2_models import Extension, InvalidPathException, PatchOp, Path, Resource

MAX_NAMES = 20
MAX_NAME_LENGTH = 128


def set_aside(resource: Resource[Any]) -> list[str]:
    """The attributes of a POST or PUT body that no schema defines, and the schema URNs no model has.

    The URNs are taken out of ``schemas``, so the resource never claims an extension it does not hold.
    """
    known = {str(schema).lower() for schema in _schemas_of(type(resource))}
    unknown_schemas = [schema for schema in resource.schemas or [] if schema.lower() not in known]
    if unknown_schemas:
        resource.schemas = [schema for schema in resource.schemas if schema.lower() in known]
    return bounded([*_unknown_names(resource, ""), *unknown_schemas])


def patch_ignored(model: type[Resource[Any]], patch_op: PatchOp[Any]) -> list[str]:
    """The paths, and keys of path-less values, of a PATCH that name no attribute: the PATCH changes nothing there."""
    names: list[str] = []
    for operation in patch_op.operations or []:
        if operation.path is not None:
            names += [str(operation.path)] if _undeclared(model, str(operation.path)) else []
        elif isinstance(operation.value, dict):
            names += [str(key) for key in operation.value if key.lower() != "schemas" and _undeclared(model, str(key))]
    return bounded(names)


def bounded(names: list[str]) -> list[str]:
    """Each name once, at most MAX_NAMES of at most MAX_NAME_LENGTH characters: they come from the client."""
    unique = list(dict.fromkeys(names))[:MAX_NAMES]
    return [name if len(name) <= MAX_NAME_LENGTH else name[: MAX_NAME_LENGTH - 1] + "…" for name in unique]


def _undeclared(model: type[Resource[Any]], text: str) -> bool:
    try:
        path = Path[model](text)  # type: ignore[valid-type]
    except (InvalidPathException, ValueError):
        return True
    return path.model is None and path.resolve() is None


def _unknown_names(model: BaseModel, prefix: str) -> Any:
    for name in model.unknown_attributes if hasattr(model, "unknown_attributes") else ():
        yield prefix + name
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Extension):
                yield from _unknown_names(item, f"{item.__schema__}:")
            elif isinstance(item, BaseModel):
                yield from _unknown_names(item, f"{prefix}{type(model)._scim_name(field_name)}.")  # type: ignore[attr-defined]


def _schemas_of(model: type[Resource[Any]]) -> list[Any]:
    return [model.__schema__, *(extension.__schema__ for extension in model.get_extension_models().values())]
