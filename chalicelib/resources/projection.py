"""Which stored attributes a response or a filter needs, so the store reads nothing more."""

from typing import Any

from scim2_models import ResponseParameters, ScimFilter


def _names(paths: Any) -> list[str]:
    return [str(path).lower() for path in paths or []]


def _mentions(name: str, attribute: str) -> bool:
    """Whether an attribute path (maybe URN-qualified, maybe a sub-attribute) designates ``attribute``.

    ``attribute`` is a core attribute name (``members``) or an extension schema URN.
    """
    if attribute.startswith("urn:"):
        return name == attribute or name.startswith(attribute + ":")
    short = name.rsplit(":", 1)[-1] if name.startswith("urn:") else name
    return short == attribute or short.startswith((attribute + ".", attribute + "["))


def response_needs(parameters: ResponseParameters[Any] | None, attribute: str) -> bool:
    """Whether a response with these ``attributes``/``excludedAttributes`` returns ``attribute``.

    :rfc:`RFC 7644 §3.9`: ``attributes`` replaces the default set, ``excludedAttributes`` removes from it.
    """
    if parameters is None:
        return True
    attribute = attribute.lower()
    requested = _names(parameters.attributes)
    if requested:
        return any(_mentions(name, attribute) for name in requested)
    # Excluding a sub-attribute (members.display) still returns the attribute.
    excluded = {
        name.rsplit(":", 1)[-1] if not attribute.startswith("urn:") else name
        for name in _names(parameters.excluded_attributes)
    }
    return attribute not in excluded


def filter_needs(scim_filter: ScimFilter[Any] | None, attribute: str) -> bool:
    """Whether a filter may compare ``attribute`` (read conservatively from its text)."""
    return scim_filter is not None and attribute.lower() in str(scim_filter).lower()
