"""Unqualified extension attribute names, resolved against the resource's extensions (issue #16 item 5).

:rfc:`RFC 7644 §3.10` says clients SHOULD qualify an extension attribute with its schema URN;
Entra ID does not: its manager check is ``filter=id eq "<id>" and manager eq "<manager id>"``
(entra/52_check_manager_by_filter.json). A name the core schema does not define, which exactly
one extension of the resource defines, is qualified with that extension's URN, in filters, PATCH
paths (and the keys of path-less values), ``attributes``, ``excludedAttributes`` and ``sortBy``.
A name several extensions define is a 400 asking for the URN; an unknown one is left for the
library to refuse. A comparison with a single-valued complex attribute compares its ``value``
(``manager eq "<id>"``), as :rfc:`RFC 7643 §2.4` has it for multi-valued ones.

Text is parsed here only after the limits of the request were checked (docs/reference/limits.md).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel
from scim2_models import Extension, InvalidFilterException, InvalidPathException, Path, Resource, SCIMException
from scim2_models.path import AttrPath, Comparison, FilterNode, LogicalExpr, Not, Present, ScimFilter, ValuePath


class ExtensionNames:
    """Which extension defines each attribute name, for one resource model."""

    def __init__(self, model: type[Resource[Any]]) -> None:
        self.core = {name.lower() for name in _attribute_names(model)}
        self.urns: dict[str, list[str]] = {}
        self.models: dict[str, type[BaseModel]] = {}
        for urn, extension in model.get_extension_models().items():
            self.models[str(urn).lower()] = extension
            for name in _attribute_names(extension):
                self.urns.setdefault(name.lower(), []).append(str(urn))

    def qualified(self, attr_path: AttrPath, error: type[SCIMException] = InvalidPathException) -> AttrPath:
        """``attr_path`` with the URN of the one extension defining it; unchanged when qualified, core or unknown."""
        name = attr_path.attr.lower()
        if attr_path.uri is not None or name in self.core or name not in self.urns:
            return attr_path
        urns = self.urns[name]
        if len(urns) > 1:
            raise error(detail=f"'{attr_path.attr}' is defined by {', '.join(urns)}: qualify it with one of them")
        return replace(attr_path, uri=urns[0])

    def compared(self, attr_path: AttrPath) -> AttrPath:
        """The path a comparison reads: the ``value`` of a single-valued complex extension attribute."""
        model = self.models.get((attr_path.uri or "").lower())
        if model is None or attr_path.sub_attr is not None:
            return attr_path
        field = next((f for f in model.model_fields if model._scim_name(f).lower() == attr_path.attr.lower()), None)  # type: ignore[attr-defined]
        root = model.get_field_root_type(field) if field else None  # type: ignore[attr-defined]
        single = field is not None and not model.get_field_multiplicity(field)  # type: ignore[attr-defined]
        if single and isinstance(root, type) and issubclass(root, BaseModel) and "value" in root.model_fields:
            return replace(attr_path, sub_attr="value")
        return attr_path

    def filter(self, text: str) -> str:
        """A filter with its unqualified extension attributes qualified."""
        try:
            tree = ScimFilter(text).ast
        except (InvalidFilterException, ValueError):
            return text
        rewritten = self._node(tree)
        return text if rewritten == tree else str(rewritten)

    def path(self, text: str) -> str:
        """A PATCH path with its attribute qualified."""
        try:
            node = Path(text).ast
        except (InvalidPathException, ValueError):
            return text
        if isinstance(node, AttrPath):
            rewritten: Any = self.qualified(node)
        elif isinstance(node, ValuePath | Comparison | Present):
            rewritten = replace(node, attr_path=self.qualified(node.attr_path))
        else:
            return text
        return text if rewritten == node else str(rewritten)

    def attribute_list(self, text: str) -> str:
        """A comma-separated list of attribute paths (``attributes``, ``excludedAttributes``, ``sortBy``)."""
        paths = [part.strip() for part in text.split(",")]
        rewritten = [self.path(part) for part in paths]
        return text if rewritten == paths else ",".join(rewritten)

    def _node(self, node: FilterNode) -> FilterNode:
        if isinstance(node, LogicalExpr):
            return replace(node, terms=tuple(self._node(term) for term in node.terms))
        if isinstance(node, Not):
            return replace(node, expr=self._node(node.expr))
        if isinstance(node, Comparison):
            return replace(node, attr_path=self.compared(self.qualified(node.attr_path, InvalidFilterException)))
        if isinstance(node, Present | ValuePath):
            # Inside a value selection's brackets the names are sub-attributes: left alone.
            return replace(node, attr_path=self.qualified(node.attr_path, InvalidFilterException))
        return node


def _attribute_names(model: type[BaseModel]) -> list[str]:
    names = []
    for field in model.model_fields:
        root = model.get_field_root_type(field)  # type: ignore[attr-defined]
        if not (isinstance(root, type) and issubclass(root, Extension)):
            names.append(model._scim_name(field))  # type: ignore[attr-defined]
    return names
