"""The one rule for every reference attribute (profileUrl, photos, manager.$ref, members.$ref, ...).

:rfc:`RFC 7643 §2.3.7` makes a reference a URI, and :rfc:`RFC 3986 §4.1` a URI
reference may be relative: Microsoft's SCIM validator sends a bare random
string as ``profileUrl``, which is one. What an IdP admin or a browser could be
hurt by is a scheme that runs script or reads local files, so those are refused,
and so is what no URI reference holds (control characters, whitespace at an
end), which is also how such a scheme is smuggled past a check.
"""

import re
import unicodedata
from collections.abc import Iterator, Set
from typing import Any, ClassVar

from pydantic import BaseModel
from pydantic_core import PydanticCustomError, core_schema
from scim2_models import Extension
from scim2_models.reference import Reference

REFUSED_SCHEMES = frozenset({"javascript", "vbscript", "data", "file"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def reference_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored in a reference attribute, or None when it can."""
    if value != value.strip() or any(unicodedata.category(character) == "Cc" for character in value):
        return "is not a URI reference: it has a control character or whitespace at an end"
    scheme = _SCHEME.match(value)
    if scheme and scheme.group(1).lower() in REFUSED_SCHEMES:
        return f"uses the {scheme.group(1).lower()}: scheme, which is refused in a reference"
    return None


class UriReference(Reference):  # type: ignore[type-arg]
    """A reference that is any URI reference, relative ones included (``profileUrl``, ``photos.value``).

    scim2-models accepts only absolute URIs (or paths) for external references;
    the rule above is checked by :func:`refused_references` on every reference alike.
    """

    # Reference caches its parameterisations on the class; ours must not share Reference's.
    _cache: ClassVar[dict[tuple[str, ...], type[Reference[Any]]]] = {}  # type: ignore[misc]

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: type[Any], handler: Any) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            if not isinstance(value, str):
                raise PydanticCustomError("reference", "a reference is a string")
            return source_type(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def references(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every reference value a resource holds, as (attribute path, value), the path spelled as in SCIM."""
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        if value is None:
            continue
        name = _attribute_name(model, field_name, prefix)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Reference):
                yield name, str(item)
            elif isinstance(item, BaseModel):
                yield from references(item, name + (":" if isinstance(item, Extension) else "."))


def refused_references(model: BaseModel, already_stored: Set[tuple[str, str]] = frozenset()) -> str | None:
    """The first reference the rule refuses, in words naming its attribute; values ``already_stored`` are let be."""
    for name, value in references(model):
        problem = reference_problem(value)
        if problem and (name, value) not in already_stored:
            return f"{name} {problem}"
    return None


def _attribute_name(model: BaseModel, field_name: str, prefix: str) -> str:
    value = getattr(model, field_name)
    if isinstance(value, Extension):
        return str(type(value).__schema__)
    scim_name: str = type(model)._scim_name(field_name)  # type: ignore[attr-defined]
    return prefix + scim_name
