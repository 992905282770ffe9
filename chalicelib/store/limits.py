"""DynamoDB's size limits, checked before a call, so that a value too big to keep is the client's 400.

DynamoDB answers ValidationException (a 500, were it let through) for a partition key over
2048 bytes, a sort key over 1024 bytes or empty, on reads as well as writes, and for an item
over 400 KB. Our keys are built from what clients send: ids in paths, userName, displayName,
externalId, member ids, filter values. So writes check their items here (:class:`Unstorable`,
which the SCIM layer answers 400 ``invalidValue``), and reads skip a key no item can have.
"""

from collections.abc import Mapping
from typing import Any

from chalicelib.store.errors import Unstorable

MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_ITEM_BYTES = 400 * 1024
# The key attributes of the tables and their indexes (chalicelib.store.tables), by kind.
PARTITION_KEY_ATTRIBUTES = frozenset(
    {"pk", "external_id_key", "member_key", "member_name_key", "resource_key", "error_key", "ignored_key"}
)
SORT_KEY_ATTRIBUTES = frozenset({"sk"})


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _key_limit(attribute: str) -> int | None:
    """The size limit of a key attribute; None for an attribute that is no key."""
    if attribute in PARTITION_KEY_ATTRIBUTES:
        return MAX_PARTITION_KEY_BYTES
    return MAX_SORT_KEY_BYTES if attribute in SORT_KEY_ATTRIBUTES else None


def _fits(text: str, limit: int) -> bool:
    return 0 < _bytes(text) <= limit


def partition_key_fits(value: str) -> bool:
    return _fits(value, MAX_PARTITION_KEY_BYTES)


def sort_key_fits(value: str) -> bool:
    return _fits(value, MAX_SORT_KEY_BYTES)


def key_fits(key: Mapping[str, Any]) -> bool:
    """Whether DynamoDB accepts this key (``{"pk": {"S": ...}, "sk": {"S": ...}}``) in a read."""
    limits = {name: _key_limit(name) for name in key}
    return all(_fits(key[name]["S"], limit) for name, limit in limits.items() if limit is not None)


def _value_bytes(value: Mapping[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it (rounded up where the documentation estimates)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return _bytes(content)
    if kind == "N":
        return len(content) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_bytes(member) for member in content)
    if kind == "L":
        return 3 + sum(_value_bytes(member) + 1 for member in content)
    if kind == "M":
        return 3 + sum(_bytes(name) + _value_bytes(member) + 1 for name, member in content.items())
    return len(str(content))


def item_bytes(item: Mapping[str, Any]) -> int:
    return sum(_bytes(name) + _value_bytes(value) for name, value in item.items())


def check_item(item: Mapping[str, Any], kind: str, attributes: Mapping[str, str]) -> None:
    """Refuse an item DynamoDB would refuse, naming the client's attribute it comes from.

    :param kind: What the item is, for the message: ``user``, ``group``, ``membership``.
    :param attributes: The client attribute (``userName``) each key attribute (``external_id_key``) holds.
    :raises Unstorable: When a key attribute is empty or over its limit, or the item is over 400 KB.
    """
    for name, value in item.items():
        limit = _key_limit(name)
        if limit is None:
            continue
        attribute = attributes.get(name, kind)
        if not value["S"]:
            raise Unstorable(f"{attribute} must not be empty")
        if _bytes(value["S"]) > limit:
            raise Unstorable(f"{attribute} is too long to store: its key may have at most {limit} bytes of UTF-8")
    if item_bytes(item) > MAX_ITEM_BYTES:
        raise Unstorable(f"The {kind} is too large to store: {MAX_ITEM_BYTES} bytes at most")
