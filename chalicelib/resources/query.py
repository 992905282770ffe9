"""What a search asks of the store, read on scim2-models' typed paths: the one comparison an index can
answer, the order a search wants, and the attributes a filter or a response touches.

Attributes are compared by the URN the library resolves them to (``userName``, ``USERNAME`` and
``urn:ietf:params:scim:schemas:core:2.0:User:userName`` are one attribute; an extension's
``userName`` is another), never by the text a client wrote.
"""

from collections.abc import Iterator
from typing import Any, cast

from scim2_models import InvalidFilterException, Path, ResponseParameters, ScimFilter, SearchRequest
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

Model = type[Any]


def bound(scim_filter: ScimFilter[Any], model: Model) -> ScimFilter[Any] | None:
    """The filter bound to one resource type's model (a root search binds it to several); None when it
    cannot be read as a filter of that model."""
    if scim_filter.model is model:
        return scim_filter
    try:
        return cast(ScimFilter[Any], cast(Any, ScimFilter)[model](str(scim_filter)))
    except (InvalidFilterException, TypeError, ValueError):
        return None


def comparison(scim_filter: ScimFilter[Any] | None, model: Model, operator: CompareOperator) -> tuple[str, str] | None:
    """The (attribute URN, string) of a filter that is a single ``operator`` comparison of a string attribute.

    The library's comparison resolution applies the ``value`` convention: ``members eq "x"`` compares
    ``members.value``.
    """
    typed = bound(scim_filter, model) if scim_filter is not None else None
    node = typed.ast if typed is not None else None
    if typed is None or not isinstance(node, Comparison) or node.op != operator or not isinstance(node.value, str):
        return None
    binding = typed.resolve_comparison(node.attr_path, strict=False)
    if binding is None or binding.target_type is not str:
        return None
    return binding.urn, node.value


def indexed_comparison(
    scim_filter: ScimFilter[Any] | None, model: Model, operator: CompareOperator
) -> tuple[str, str] | None:
    """As :func:`comparison`, and also a value path one of whose ``and`` terms is that comparison on a
    sub-attribute: ``emails[type eq "work"].value eq "x"`` (parsed as ``emails[type eq "work" and value eq
    "x"]``) gives ``emails.value``. What it designates may hold more than matches: the filter decides after.
    """
    found = comparison(scim_filter, model, operator)
    typed = bound(scim_filter, model) if found is None and scim_filter is not None else None
    node = typed.ast if typed is not None else None
    if typed is None or not isinstance(node, ValuePath) or node.sub_attr is not None:
        return found
    inner = node.val_filter
    terms = inner.terms if isinstance(inner, LogicalExpr) and inner.op == LogicalOperator.and_ else (inner,)
    for term in terms:
        if (
            isinstance(term, Comparison)
            and term.op == operator
            and isinstance(term.value, str)
            and term.attr_path.sub_attr is None
            and term.attr_path.uri is None
        ):
            path = AttrPath(attr=node.attr_path.attr, sub_attr=term.attr_path.attr, uri=node.attr_path.uri)
            binding = typed.resolve_comparison(path, strict=False)
            if binding is not None and binding.target_type is str:
                return binding.urn, term.value
    return None


def attribute_urn(path: str, model: Model) -> str | None:
    """The URN of the attribute (or, for a bare schema URN, the schema) a path designates; None if none."""
    typed = Path[model](path)  # type: ignore[valid-type]
    if typed.model is not None:
        return str(cast(Any, typed.model).__schema__)
    binding = typed.resolve()
    return binding.urn if binding is not None else None


def sort_urn(request: SearchRequest[Any], model: Model) -> str | None:
    return attribute_urn(str(request.sort_by), model) if request.sort_by is not None else None


def ordered_by(request: SearchRequest[Any], model: Model, attribute: str) -> tuple[bool, str | None]:
    """Whether an index in ``attribute`` order answers the search (no filter, or ``attribute sw``, sorted
    by it or not at all), and the prefix it starts with."""
    if request.sort_by is not None and sort_urn(request, model) != attribute:
        return False, None
    if request.filter is None:
        return True, None
    prefix = comparison(request.filter, model, CompareOperator.sw)
    if prefix is not None and prefix[0] == attribute:
        return True, prefix[1]
    return False, None


def _within(urn: str, target: str) -> bool:
    """Whether ``urn`` is ``target``, one of its sub-attributes, or an attribute of the schema ``target`` names."""
    return urn == target or urn.startswith((target + ".", target + ":"))


def response_needs(parameters: ResponseParameters[Any] | None, model: Model, target: str) -> bool:
    """Whether a response with these ``attributes``/``excludedAttributes`` returns ``target`` (an attribute's
    or an extension's URN), so that the store reads what it is built from only then.

    :rfc:`RFC 7644 §3.9`: ``attributes`` replaces the default set, ``excludedAttributes`` removes from it;
    excluding a sub-attribute (``members.display``) still returns the attribute.
    """
    if parameters is None:
        return True
    if parameters.attributes:
        requested = [attribute_urn(str(path), model) for path in parameters.attributes]
        return any(_within(urn, target) or _within(target, urn) for urn in requested if urn is not None)
    excluded = [attribute_urn(str(path), model) for path in parameters.excluded_attributes or []]
    return not any(urn == target or (urn is not None and target.startswith(urn + ":")) for urn in excluded)


def filter_needs(scim_filter: ScimFilter[Any] | None, model: Model, target: str) -> bool:
    """Whether a filter compares ``target`` (an attribute's or an extension's URN), or anything within it."""
    if scim_filter is None:
        return False
    typed = bound(scim_filter, model)
    if typed is None:
        return True  # unreadable as this model's filter: read everything, the evaluation decides
    for attr_path in _attribute_paths(typed.ast):
        binding = typed.resolve(attr_path, strict=False)
        if binding is not None and _within(binding.urn, target):
            return True
    return False


def _attribute_paths(node: FilterNode) -> Iterator[AttrPath]:
    """The attribute paths a filter names; inside ``emails[...]``, only ``emails`` (the others are relative)."""
    if isinstance(node, Comparison | Present | ValuePath):
        yield node.attr_path
    elif isinstance(node, Not):
        yield from _attribute_paths(node.expr)
    elif isinstance(node, LogicalExpr):
        for term in node.terms:
            yield from _attribute_paths(term)
