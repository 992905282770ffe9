"""How much a request may ask us to parse: checked on the raw text, before any parsing that grows with it.

Filters, PATCH paths (and the attribute names of a path-less PATCH value, which may be
paths too), ``attributes``, ``excludedAttributes`` and ``sortBy`` all go through
scim2-models' parser, whose work grows with their length, nesting and number of terms:
a 960 KB PATCH path took 43 s to parse and apply. Every limit here is in docs/reference/limits.md,
and in the detail of the 400 that enforces it. /ServiceProviderConfig cannot carry them: RFC 7643 §5
defines no attribute for them, and strict clients (scim2-models' own ServiceProviderConfig, which the
conformance suite validates with) refuse any attribute or extension it does not define.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
    SCIMException,
    TooManyException,
)

from chalicelib.config import Settings

# A term of a filter (RFC 7644 §3.4.2.2) is one attribute expression: exactly one operator each.
# Operators are keywords only where an attribute name cannot continue (scim2-models' lexer rule).
MAX_SCHEMAS = 32
"""URNs in a body's ``schemas``: a resource names its core schema and its extensions, a handful at most."""
MAX_VALUES = 100
"""Values of a multi-valued attribute (emails, phoneNumbers, roles, ...; a group's members apart), and the values
all the operations of one PATCH carry together: each filtered operation scans the list it applies to, so 400
filtered removes on 2,000 emails took 21 s of CPU."""
MAX_MEMBER_SCANS = 100_000
"""Members one group PATCH may compare with a filter, all its operations together: each operation with a filter on
members (``members[display eq "x"]``) compares every member, so 200 of them on 2,000 members took 12 s of CPU."""
# Lists bounded elsewhere: a SearchRequest's attribute paths (check_attribute_paths), the operations (check_patch).
_UNBOUNDED_LISTS = frozenset({"schemas", "members", "operations", "attributes", "excludedattributes"})

_OPERATOR = re.compile(r"(?<![A-Za-z0-9$_:.-])(?:eq|ne|co|sw|ew|gt|lt|ge|le|pr)(?![A-Za-z0-9$_-])", re.IGNORECASE)


@dataclass(frozen=True)
class RequestLimits:
    """The bounds on a request's body and on every filter, path and list of attribute paths it carries
    (docs/reference/limits.md)."""

    max_body_bytes: int
    max_length: int
    max_depth: int
    max_terms: int
    max_attribute_paths: int
    max_patch_operations: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "RequestLimits":
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_length=settings.max_filter_length,
            max_depth=settings.max_filter_depth,
            max_terms=settings.max_filter_terms,
            max_attribute_paths=settings.max_attribute_paths,
            max_patch_operations=settings.max_patch_operations,
        )

    def check_document(self, payload: Any) -> None:
        """A JSON body's members that every kind of body has (:rfc:`RFC 7643 §3`): ``schemas``.

        :raises InvalidValueException: When ``schemas`` lists more than :data:`MAX_SCHEMAS` URNs.
        """
        if not isinstance(payload, dict):
            return
        schemas = next((value for key, value in payload.items() if key.casefold() == "schemas"), None)
        if isinstance(schemas, list) and len(schemas) > MAX_SCHEMAS:
            raise InvalidValueException(detail=f"schemas lists more than {MAX_SCHEMAS} URNs")
        self._check_values(payload)
        operations = next((value for key, value in payload.items() if key.casefold() == "operations"), None)
        if isinstance(operations, list):
            carried = sum(_values_in(operation) for operation in operations if isinstance(operation, dict))
            if carried > MAX_VALUES:
                raise InvalidValueException(
                    detail=f"The operations of a PATCH carry at most {MAX_VALUES} values in all, members apart"
                )

    def check_member_filters(self, patch_op: Any, members: int) -> None:
        """A PATCH off the member fast path, on a group of ``members``: its filters on members within
        :data:`MAX_MEMBER_SCANS` comparisons (a remove by value, ``members[value eq "id"]``, takes the fast path).

        :raises TooManyException: Naming how many such operations fit.
        """
        filtered = sum(
            1
            for operation in patch_op.operations or []
            if operation.path is not None
            and _attribute_name(str(operation.path)) == "members"
            and "[" in str(operation.path)
        )
        if filtered and filtered * members > MAX_MEMBER_SCANS:
            raise TooManyException(
                detail=f"A PATCH of a group of {members} members carries at most {max(1, MAX_MEMBER_SCANS // members)} "
                "operations with a filter on members: send the rest in other requests, or remove members by value "
                '(members[value eq "<id>"])'
            )

    def _check_values(self, resource: dict[str, Any]) -> None:
        """Each multi-valued attribute of a resource, and of its extensions' objects, within :data:`MAX_VALUES`.

        Walked with a stack, never by recursion: Python 3.13's json.loads accepts bodies nested deeper than
        the interpreter's recursion limit, and such a body is a 400 of the service's, never a RecursionError.
        """
        objects = [resource]
        while objects:
            for key, value in objects.pop().items():
                name = key.casefold() if isinstance(key, str) else key
                if isinstance(value, list) and name not in _UNBOUNDED_LISTS and len(value) > MAX_VALUES:
                    raise InvalidValueException(detail=f"{str(key)[:64]} lists more than {MAX_VALUES} values")
                if isinstance(value, dict) and name not in _UNBOUNDED_LISTS:
                    objects.append(value)

    def check_filter(self, text: str) -> None:
        """:raises InvalidFilterException: When a search filter is over a limit."""
        self._check(text, "The filter", InvalidFilterException)

    def check_path(self, text: str, what: str = "The PATCH path") -> None:
        """:raises InvalidPathException: When a path is over a limit."""
        self._check(text, what, InvalidPathException)

    def check_attribute_paths(self, parameter: str, value: Any) -> None:
        """``attributes``, ``excludedAttributes``: a comma-separated string, or a list in a .search body.

        :raises InvalidPathException: When the list or one of its paths is over a limit.
        """
        if isinstance(value, str):
            self.check_path(value, parameter)
            paths: list[Any] = value.split(",")
        elif isinstance(value, list):
            paths = value
        else:
            return  # not a list of paths at all: the library refuses it as it is
        if len(paths) > self.max_attribute_paths:
            raise InvalidPathException(detail=f"{parameter} lists more than {self.max_attribute_paths} attributes")
        for path in paths:
            if isinstance(path, str):
                self.check_path(path, parameter)

    def check_search(self, parameters: Mapping[str, Any]) -> None:
        """The query parameters of a GET search, or the members of a SearchRequest body (:rfc:`RFC 7644 §3.4.3`)."""
        for name, value in parameters.items():
            key = name.casefold() if isinstance(name, str) else name
            if key == "filter" and isinstance(value, str):
                self.check_filter(value)
            elif key == "sortby" and isinstance(value, str):
                self.check_path(value, "sortBy")
            elif key in ("attributes", "excludedattributes"):
                self.check_attribute_paths("attributes" if key == "attributes" else "excludedAttributes", value)

    def check_patch(self, payload: Any) -> None:
        """A PatchOp body (:rfc:`RFC 7644 §3.5.2`): the number of operations, each path, and the attribute
        names of a path-less value (``{"emails[type eq \\"work\\"].value": ...}``, as Entra ID sends them).

        :raises TooManyException: When it carries more than ``max_patch_operations`` operations.
        :raises InvalidPathException: When a path is over a limit.
        """
        if not isinstance(payload, dict):
            return
        operations = next((value for key, value in payload.items() if key.casefold() == "operations"), None)
        if not isinstance(operations, list):
            return
        if len(operations) > self.max_patch_operations:
            raise TooManyException(
                detail=f"A PATCH request carries at most {self.max_patch_operations} operations; "
                f"this one has {len(operations)}: send the rest in another request"
            )
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            for key, value in operation.items():
                if key.casefold() == "path" and isinstance(value, str):
                    self.check_path(value)
                elif key.casefold() == "value" and isinstance(value, dict):
                    self._check_value_names(value.keys())
                    for inner in value.values():
                        if isinstance(inner, dict):  # an extension's attributes, keyed by name
                            self._check_value_names(inner.keys())

    def _check_value_names(self, names: Iterable[Any]) -> None:
        for name in names:
            if isinstance(name, str):
                self.check_path(name, "An attribute name in a PATCH value")

    def _check(self, text: str, what: str, error: type[SCIMException]) -> None:
        if len(text) > self.max_length:
            raise error(detail=f"{what} exceeds {self.max_length} characters")
        depth = deepest = 0
        quoted = escaped = False
        unquoted: list[str] = []
        for character in text:
            if quoted:
                escaped, quoted = (False, True) if escaped else (character == "\\", character != '"')
                continue
            if character == '"':
                quoted = True
                unquoted.append(" ")
                continue
            unquoted.append(character)
            if character in "([":
                depth += 1
                deepest = max(deepest, depth)
            elif character in ")]":
                depth -= 1
        if deepest > self.max_depth:
            raise error(detail=f"{what} nests deeper than {self.max_depth} levels")
        terms = len(_OPERATOR.findall("".join(unquoted)))
        if terms > self.max_terms:
            raise error(detail=f"{what} has more than {self.max_terms} terms")


def _values_in(operation: dict[str, Any]) -> int:
    """The values a PATCH operation carries: its value's entries, or those of a path-less value's lists; members
    (which the group fast path applies in sets) apart."""
    members = {key.casefold(): item for key, item in operation.items() if isinstance(key, str)}
    path, value = members.get("path"), members.get("value")
    if isinstance(path, str) and _attribute_name(path) == "members":
        return 0
    if isinstance(value, list):
        return len(value)
    return _listed(value) if isinstance(value, dict) else 0


def _listed(value: dict[str, Any]) -> int:
    """The entries of the lists in a path-less value, at any depth (with a stack: the depth is the client's)."""
    count, objects = 0, [value]
    while objects:
        for key, item in objects.pop().items():
            if str(key).casefold() in _UNBOUNDED_LISTS:
                continue
            if isinstance(item, dict):
                objects.append(item)
            elif isinstance(item, list):
                count += len(item)
    return count


def _attribute_name(path: str) -> str:
    """The attribute a PATCH path starts with, without its schema URN, filter or sub-attribute, case folded."""
    return path.split("[", 1)[0].rsplit(":", 1)[-1].split(".", 1)[0].casefold()
