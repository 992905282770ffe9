"""What a search asks of the store: the one comparison an index can answer, and the order it wants."""

from typing import Any

from scim2_models import ScimFilter, SearchRequest
from scim2_models.path import CompareOperator, Comparison

from chalicelib.schemas import CORE_GROUP_SCHEMA, CORE_USER_SCHEMA


def equality(scim_filter: ScimFilter[Any] | None) -> tuple[str, str] | None:
    """The (attribute, value) of a filter that is one ``eq`` on a string; attribute lower-cased, core URN dropped."""
    node = scim_filter.ast if scim_filter is not None else None
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and isinstance(node.value, str):
        attribute = str(node.attr_path).lower()
        for core in (CORE_USER_SCHEMA, CORE_GROUP_SCHEMA):
            attribute = attribute.removeprefix(core.lower() + ":")
        return attribute, node.value
    return None


def starts_with(scim_filter: ScimFilter[Any] | None) -> tuple[str, str] | None:
    """The (attribute, prefix) of a filter that is one ``sw`` on a string."""
    node = scim_filter.ast if scim_filter is not None else None
    if isinstance(node, Comparison) and node.op == CompareOperator.sw and isinstance(node.value, str):
        return str(node.attr_path).lower().rsplit(":", 1)[-1], node.value
    return None


def sort_attribute(request: SearchRequest[Any]) -> str | None:
    return str(request.sort_by).lower().rsplit(":", 1)[-1] if request.sort_by is not None else None


def ordered_by(request: SearchRequest[Any], attribute: str) -> tuple[bool, str | None]:
    """Whether an index in ``attribute`` order answers the search (no filter, or ``attribute sw``, sorted by
    it or not at all), and the prefix it starts with."""
    if sort_attribute(request) not in (None, attribute):
        return False, None
    if request.filter is None:
        return True, None
    prefix = starts_with(request.filter)
    if prefix is not None and prefix[0] == attribute:
        return True, prefix[1]
    return False, None
