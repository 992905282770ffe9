"""Paging of search results: by index (:rfc:`RFC 7644 §3.4.2.4`) and by cursor (:rfc:`RFC 9865`).

A cursor position is the sort key of the resource a page starts after (``next``)
or ends before (``previous``): keyset paging, so a page stays stable when
resources are created or deleted meanwhile, and each page costs what it returns
when it comes from an ordered index. scim2-server seals positions into opaque,
signed cursors bound to the query; this module only reads positions it wrote.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from scim2_models import InvalidCursorException, Resource, SearchRequest
from scim2_server.storage import SearchPage

from chalicelib.store.claims import ClaimIndex

SortKey = tuple[bool, Any, str]
NEXT, PREVIOUS = "next", "previous"


def by_cursor(request: SearchRequest[Any]) -> bool:
    return request.cursor is not None


def descending(request: SearchRequest[Any]) -> bool:
    return request.sort_by is not None and request.sort_order == SearchRequest.SortOrder.descending


def sort_key(request: SearchRequest[Any], resource: Resource[Any], default: Callable[[Resource[Any]], Any]) -> SortKey:
    """The order of a resource: its sort value (missing last when ascending), then its id.

    Without ``sortBy`` resources come in their default order (userName, displayName), so
    pages are stable across requests, as Okta requires.
    """
    value = request.sort_value(resource) if request.sort_by is not None else default(resource)
    return value is None, "" if value is None else value, cast(str, resource.id)


def page_in_memory(
    request: SearchRequest[Any],
    position: Any,
    resources: Sequence[Resource[Any]],
    default: Callable[[Resource[Any]], Any],
) -> SearchPage:
    """Sort every matching resource and return the page the request asks for, by index or by cursor."""
    reverse = descending(request)
    pairs = sorted(((sort_key(request, r, default), r) for r in resources), key=lambda pair: pair[0], reverse=reverse)
    ordered = [resource for _, resource in pairs]
    if not by_cursor(request):
        start = request.start_index_0 or 0
        stop = None if request.count is None else start + request.count
        return SearchPage(total=len(ordered), resources=ordered[start:stop])
    if request.count == 0:
        return SearchPage(total=len(ordered), resources=[])
    keys = [key for key, _ in pairs]
    start, stop = _bounds(keys, position, request.count, reverse)
    page = SearchPage(total=len(ordered), resources=ordered[start:stop])
    if page.resources and stop < len(ordered):
        page.next = _encode_position(NEXT, keys[stop - 1])
    if page.resources and start > 0:
        page.previous = _encode_position(PREVIOUS, keys[start])
    return page


def _bounds(keys: list[SortKey], position: Any, count: int | None, reverse: bool) -> tuple[int, int]:
    if position is None:
        return 0, len(keys) if count is None else min(count, len(keys))
    direction, anchor = _decode_position(position)

    def before(key: SortKey) -> bool:
        return key > anchor if reverse else key < anchor

    if direction == NEXT:
        start = sum(1 for key in keys if before(key) or key == anchor)
        return start, len(keys) if count is None else min(start + count, len(keys))
    stop = sum(1 for key in keys if before(key))
    return (0 if count is None else max(stop - count, 0)), stop


def _encode_position(direction: str, key: SortKey) -> dict[str, Any]:
    missing, value, identifier = key
    if isinstance(value, datetime):
        value = {"datetime": value.isoformat()}
    return {"d": direction, "k": None if missing else value, "i": identifier}


def _decode_position(position: Any) -> tuple[str, SortKey]:
    try:
        direction, value, identifier = position["d"], position["k"], position["i"]
        if direction not in (NEXT, PREVIOUS) or not isinstance(identifier, str):
            raise InvalidCursorException
        if value is None:
            return direction, (True, "", identifier)
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["datetime"])
        return direction, (False, value, identifier)
    except (TypeError, KeyError, ValueError):
        raise InvalidCursorException from None


def index_position(direction: str, claim: str) -> dict[str, str]:
    """The position of a page of an ordered index (the claims of userName or displayName)."""
    return {"d": direction, "c": claim}


def read_index_position(position: Any) -> tuple[str, str] | None:
    """The (direction, claim) of a position ``index_position`` wrote; None on the first page."""
    if position is None:
        return None
    if (
        not isinstance(position, dict)
        or position.get("d") not in (NEXT, PREVIOUS)
        or not isinstance(position.get("c"), str)
    ):
        raise InvalidCursorException
    return position["d"], position["c"]


def page_of_index(
    index: ClaimIndex,
    key_prefix: str,
    request: SearchRequest[Any],
    position: Any,
    default_page_size: int,
    load: Callable[[list[str]], list[Resource[Any]]],
) -> SearchPage:
    """One page read from an ordered index: O(page) with a cursor, O(startIndex + page) by index.

    :param load: The resources of some ids, in that order.
    """
    forward = not descending(request)
    if not by_cursor(request):
        total = index.count(key_prefix)
        count = total if request.count is None else request.count
        offset = request.start_index_0 or 0
        pairs = index.skip(key_prefix, offset=offset, limit=count, forward=forward) if count else []
        return SearchPage(total=total, resources=load([i for _, i in pairs]))
    if request.count == 0:
        return SearchPage(total=None, resources=[])
    limit = request.count or default_page_size
    at = read_index_position(position)
    page = SearchPage(total=None, resources=[])
    if at is None or at[0] == NEXT:
        pairs, more = index.page(key_prefix, after=at[1] if at else None, limit=limit, forward=forward)
        if pairs and more:
            page.next = index_position(NEXT, pairs[-1][0])
        if pairs and at is not None:
            page.previous = index_position(PREVIOUS, pairs[0][0])
    else:
        backwards, more = index.page(key_prefix, after=at[1], limit=limit, forward=not forward)
        pairs = backwards[::-1]
        if pairs and more:
            page.previous = index_position(PREVIOUS, pairs[0][0])
        if pairs:
            page.next = index_position(NEXT, pairs[-1][0])
    page.resources = load([i for _, i in pairs])
    return page
