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

from scim2_models import InvalidFilterException, InvalidPathException, SCIMException, TooManyException

from chalicelib.config import Settings

# A term of a filter (RFC 7644 §3.4.2.2) is one attribute expression: exactly one operator each.
# Operators are keywords only where an attribute name cannot continue (scim2-models' lexer rule).
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
