"""Records of the tables' DynamoDB streams (NEW_AND_OLD_IMAGES), read back as the store's own records.

A stream record names the table it came from (``eventSourceARN``), what happened to one item
(``INSERT``, ``MODIFY``, ``REMOVE``) and that item's images before and after, in DynamoDB's JSON.
:func:`decode` turns one into an :class:`ItemChange` whose ``before`` and ``after`` are what the
store modules read from the same items (a :class:`~chalicelib.store.users.UserRecord`, a
membership, a role mapping, the tenant's role source, a credential), or ``None`` for items that are
no resource (the uniqueness claims, counters, the other settings). A record that cannot be read
raises :class:`MalformedRecord`: the stream's consumer sets it aside instead of retrying it forever.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import Settings
from chalicelib.store.credentials import CREDENTIAL_PREFIX, StoredCredential, credential_of
from chalicelib.store.groups import GROUP_PREFIX, MEMBER_PREFIX, GroupRecord, GroupTable, Membership
from chalicelib.store.role_mappings import PREFIX as ROLE_MAPPING_PREFIX
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.role_sources import SORT_KEY as ROLE_SOURCE_KEY
from chalicelib.store.role_sources import RoleSource, RoleSourceTable
from chalicelib.store.users import USER_PREFIX, UserRecord, UserTable

StoredItem = UserRecord | GroupRecord | Membership | RoleMapping | RoleSource | StoredCredential
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
# The logical tables whose streams carry resources (chalicelib.store.tables names them).
STREAMED_TABLES = ("users", "groups", "role_mappings", "credentials")


class MalformedRecord(ValueError):
    """A stream record this store cannot read: not from one of its tables, or not an item it wrote."""


@dataclass(frozen=True)
class StreamPosition:
    """Where a record sits in its stream: enough to find it again, never the item's content."""

    table: str
    event_id: str
    sequence_number: str


@dataclass(frozen=True)
class ItemChange:
    """What one stream record says happened to one resource item."""

    position: StreamPosition
    event_name: str
    tenant: str
    changed_at: datetime
    before: StoredItem | None
    after: StoredItem | None


def table_names(settings: Settings) -> dict[str, str]:
    """The physical name of each streamed table, to its logical name."""
    return {
        settings.users_table: "users",
        settings.groups_table: "groups",
        settings.role_mappings_table: "role_mappings",
        settings.credentials_table: "credentials",
    }


def table_of(event_source_arn: str, names: Mapping[str, str]) -> str:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`` -> the logical table name."""
    resource = event_source_arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) < 2 or parts[0] != "table" or parts[1] not in names:
        raise MalformedRecord(f"not a stream of this stage's tables: {event_source_arn[:200]!r}")
    return names[parts[1]]


def position_of(raw: Mapping[str, Any], names: Mapping[str, str]) -> StreamPosition:
    """Where a record is, read without trusting the rest of it (a malformed record still has a place)."""
    dynamodb = raw.get("dynamodb") if isinstance(raw, Mapping) else None
    sequence = dynamodb.get("SequenceNumber") if isinstance(dynamodb, Mapping) else None
    try:
        table = table_of(str(raw.get("eventSourceARN", "")), names)
    except MalformedRecord:
        table = "unknown"
    return StreamPosition(table, str(raw.get("eventID", ""))[:128], str(sequence or "")[:64])


def decode(raw: Mapping[str, Any], names: Mapping[str, str]) -> ItemChange | None:
    """One Lambda stream record as a change of a resource item; None for an item that is no resource.

    :raises MalformedRecord: When the record is not one this store's tables produce.
    """
    try:
        position = position_of(raw, names)
        table = table_of(str(raw["eventSourceARN"]), names)
        event_name = raw["eventName"]
        if event_name not in EVENT_NAMES or not position.event_id or not position.sequence_number:
            raise MalformedRecord("a stream record names its event, id and sequence number")
        dynamodb = raw["dynamodb"]
        old, new = dynamodb.get("OldImage"), dynamodb.get("NewImage")
        if (old is None) != (event_name == "INSERT") or (new is None) != (event_name == "REMOVE"):
            raise MalformedRecord(f"{event_name} without the images of NEW_AND_OLD_IMAGES")
        keys = dynamodb["Keys"]
        before, after = (_item(table, image) if image is not None else None for image in (old, new))
        if before is None and after is None:
            return None
        return ItemChange(position, event_name, _tenant(table, keys, before or after), _time(dynamodb), before, after)
    except MalformedRecord:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedRecord(f"unreadable stream record: {type(error).__name__}") from None


def _item(table: str, image: Mapping[str, Any]) -> StoredItem | None:
    item = dict(image)
    if table == "credentials":
        return credential_of(item) if item["pk"]["S"].startswith(CREDENTIAL_PREFIX) else None
    sk = item["sk"]["S"]
    if table == "users":
        return UserTable.record_of(item) if sk.startswith(USER_PREFIX) else None
    if table == "groups":
        if sk.startswith(GROUP_PREFIX):
            return GroupTable.record_of(item)
        return GroupTable.membership_of(item) if sk.startswith(MEMBER_PREFIX) else None
    if sk == ROLE_SOURCE_KEY:
        return RoleSourceTable.role_source_of(item)
    return RoleMappingTable.mapping_of(item) if sk.startswith(ROLE_MAPPING_PREFIX) else None


def _tenant(table: str, keys: Mapping[str, Any], item: StoredItem | None) -> str:
    if isinstance(item, StoredCredential):
        return item.tenant
    tenant = keys["pk"]["S"]
    if not isinstance(tenant, str) or not tenant:
        raise MalformedRecord(f"an item of {table} without its tenant")
    return tenant


def _time(dynamodb: Mapping[str, Any]) -> datetime:
    """``ApproximateCreationDateTime``: epoch seconds in a Lambda event, a timestamp from the streams API."""
    value = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)
