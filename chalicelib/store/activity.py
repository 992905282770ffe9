"""The activity table: each tenant's provisioning trail, what its IdP changed or was refused, newest first.

Items (``pk`` is the tenant):
- ``sk = <at>#<entry id>``: one entry. ``at`` is the UTC time in ISO 8601 with microseconds, so the
  tenant's partition read backwards is "this tenant, newest first" (one Query, ``--since`` a key bound).
- ``resource_key = <tenant>#<resource type>#<resource id>`` (index ``byResource``, sorted by ``sk``):
  "this user (or group), newest first" is one Query. An entry with no id yet (a refused create) is
  keyed by ``<tenant>#<resource type>#name:<name key>`` instead.
- ``error_key = <tenant>``, on refused requests only (sparse index ``byError``): "this tenant's
  errors, newest first" without reading its successful writes.
- ``ignored_key = <tenant>``, on writes whose body held attributes no schema defines (sparse index
  ``byIgnored``): "this tenant's writes that ignored something, newest first", for an IdP mapping to fix.
- ``expires_at``: epoch seconds; DynamoDB's TTL removes the entry after the stage's retention.

Entries hold attribute paths with old and new values, but never a password, a secret or a hash:
the SCIM side leaves those values out (:attr:`AttributeChange.secret`) before an entry gets here.
This module must not import scim2 or pydantic.
"""

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.store.dynamodb_types import DynamoDBClient, Item
from chalicelib.store.errors import DYNAMODB_ERRORS, Unavailable, unavailable
from chalicelib.store.limits import partition_key_fits
from chalicelib.store.table import items
from chalicelib.store.tables import ACTIVITY_BY_ERROR, ACTIVITY_BY_IGNORED, ACTIVITY_BY_RESOURCE

MAX_CHANGES = 50
"""Attribute paths kept per entry; ``changes_dropped`` counts the rest."""
MAX_VALUE_CHARACTERS = 256
"""Every text an entry keeps is cut to this, with an ellipsis: the path, the resource's id and name, the detail,
each member id, each attribute path, and each old or new value (as JSON)."""
MAX_MEMBER_SAMPLE = 10
"""Member ids listed per entry for each of added and removed; the counts are exact."""
MAX_IGNORED_NAMES = 20
"""Names of ignored attributes kept per entry, each at most :data:`MAX_IGNORED_NAME_CHARACTERS` (never a value)."""
MAX_IGNORED_NAME_CHARACTERS = 128
NAME_PREFIX = "name:"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class AttributeChange:
    """One attribute path a write changed; a secret attribute (password) is named, its values never kept."""

    path: str
    old: Any = None
    new: Any = None
    secret: bool = False


@dataclass(frozen=True)
class ActivityEntry:
    """What one SCIM request did to a tenant, or why it was refused."""

    at: str
    client_id: str
    operation: str
    method: str
    path: str
    status: int
    resource_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_name_key: str | None = None
    scim_type: str | None = None
    detail: str | None = None
    changes: tuple[AttributeChange, ...] = ()
    changes_dropped: int = 0
    members_added: int = 0
    members_removed: int = 0
    members_added_sample: tuple[str, ...] = ()
    members_removed_sample: tuple[str, ...] = ()
    ignored_attributes: tuple[str, ...] = ()
    request_id: str | None = None
    actor: str | None = None
    """A management write's: who asked for it (the One Model admin the platform names, or the operator)."""
    principal: str | None = None
    """A management write's: the IAM principal (or ``cli``) the request came with."""
    entry_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def refused(self) -> bool:
        return self.status >= 400

    @property
    def position(self) -> str:
        """Where the entry sorts in every listing of the trail (its sort key): a page's cursor."""
        return f"{self.at}#{self.entry_id}"

    def bounded(self) -> "ActivityEntry":
        """The entry as it is kept and logged: each text the client controls cut to its bound, with an ellipsis.

        A client can send a 60,000-character givenName; the trail (and an ``activity.lost`` log line) keeps
        the first :data:`MAX_VALUE_CHARACTERS` of it.
        """
        changes, dropped = bounded_changes(self.changes)
        return replace(
            self,
            client_id=_text(self.client_id),
            operation=_text(self.operation),
            method=_text(self.method),
            path=_text(self.path),
            resource_type=_optional_text(self.resource_type),
            resource_id=_optional_text(self.resource_id),
            resource_name=_optional_text(self.resource_name),
            resource_name_key=_optional_text(self.resource_name_key),
            scim_type=_optional_text(self.scim_type),
            detail=_optional_text(self.detail),
            actor=_optional_text(self.actor),
            principal=_optional_text(self.principal),
            changes=changes,
            changes_dropped=self.changes_dropped + dropped,
            members_added_sample=tuple(_text(i) for i in self.members_added_sample[:MAX_MEMBER_SAMPLE]),
            members_removed_sample=tuple(_text(i) for i in self.members_removed_sample[:MAX_MEMBER_SAMPLE]),
            ignored_attributes=tuple(bounded_names(self.ignored_attributes)),
            request_id=_optional_text(self.request_id),
        )


def now() -> str:
    """The time an entry is stamped with: sortable, to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def since(delta: timedelta) -> str:
    """The ``at`` of the entries ``delta`` ago, for ``newest(since=...)``."""
    return (datetime.now(UTC) - delta).isoformat(timespec="microseconds")


def bounded_changes(changes: Sequence[AttributeChange]) -> tuple[tuple[AttributeChange, ...], int]:
    """At most :data:`MAX_CHANGES` changes with their values cut to size; and how many were left out."""
    kept = tuple(AttributeChange(_text(c.path), *_cut_values(c), secret=c.secret) for c in changes[:MAX_CHANGES])
    return kept, max(0, len(changes) - MAX_CHANGES)


def _cut_values(change: AttributeChange) -> tuple[Any, Any]:
    if change.secret:
        return None, None
    return _cut(change.old), _cut(change.new)


def _cut(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _text(value)
    text = json.dumps(value, separators=(",", ":"), default=str)  # its lone surrogates escaped as \ud800
    return value if len(text) <= MAX_VALUE_CHARACTERS else _text(text)


def bounded_names(names: Sequence[str]) -> list[str]:
    """At most :data:`MAX_IGNORED_NAMES` names, each cut to :data:`MAX_IGNORED_NAME_CHARACTERS` with an ellipsis."""
    return [_text(name, MAX_IGNORED_NAME_CHARACTERS) for name in names[:MAX_IGNORED_NAMES]]


def _optional_text(text: str | None) -> str | None:
    return _text(text) if text else None


def _text(text: str, characters: int = MAX_VALUE_CHARACTERS) -> str:
    """Client text as an entry keeps it: cut to ``characters``, a lone surrogate (which JSON can carry and UTF-8
    cannot, so DynamoDB's write would fail and the entry be lost) replaced by U+FFFD."""
    text = str(text)
    cut = text if len(text) <= characters else text[: characters - 1] + "…"
    return _LONE_SURROGATE.sub("\ufffd", cut)


class ActivityTable:
    """The trail of one tenant. Every key it builds starts with that tenant."""

    def __init__(self, client: DynamoDBClient, table_name: str, tenant: str, retention_days: int = 90) -> None:
        self.client = client
        self.table = table_name
        self.tenant = tenant
        self.retention = timedelta(days=retention_days)

    def record(self, entry: ActivityEntry) -> None:
        """Keep one entry: one PutItem.

        :raises Unavailable: When DynamoDB is unavailable (the caller decides what that costs); any other
            failure as botocore raised it.
        """
        try:
            self.client.put_item(TableName=self.table, Item=self._item(entry))
        except DYNAMODB_ERRORS as error:
            if unavailable(error):
                raise Unavailable(f"activity entry not written: {error}") from error
            raise

    def newest(
        self,
        since: str | None = None,
        limit: int = 50,
        errors_only: bool = False,
        ignored_only: bool = False,
        before: str | None = None,
    ) -> list[ActivityEntry]:
        """The tenant's entries, newest first, at most ``limit``, none older than ``since``: one Query per page.

        ``errors_only``: refused requests only; ``ignored_only``: writes that ignored attributes only;
        ``before``: only entries older than the entry of that :attr:`ActivityEntry.position` (the next page).
        """
        if errors_only:
            return self._newest(ACTIVITY_BY_ERROR, "error_key", self.tenant, since, limit, before)
        if ignored_only:
            return self._newest(ACTIVITY_BY_IGNORED, "ignored_key", self.tenant, since, limit, before)
        return self._newest(None, "pk", self.tenant, since, limit, before)

    def of_resource(
        self,
        resource_type: str,
        resource_id: str,
        since: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[ActivityEntry]:
        """One resource's entries, newest first: one Query of ``byResource`` per page."""
        key = self._resource_key(resource_type, resource_id)
        if not partition_key_fits(key):
            return []
        return self._newest(ACTIVITY_BY_RESOURCE, "resource_key", key, since, limit, before)

    def of_name(
        self, resource_type: str, name_key: str, since: str | None = None, limit: int = 50, before: str | None = None
    ) -> list[ActivityEntry]:
        """Entries that named a resource that had no id (a refused create), newest first."""
        return self.of_resource(resource_type, NAME_PREFIX + name_key, since, limit, before)

    def last_write(self) -> ActivityEntry | None:
        """The newest successful write of the IdP: the tenant's partition newest first, refused requests and
        management writes skipped."""
        return next(self._pages(None, "pk", self.tenant, None, None, only_writes=True), None)

    def errors_since(self, since: str) -> Iterator[ActivityEntry]:
        """Every refused request since ``since``, newest first, page by page."""
        yield from self._pages(ACTIVITY_BY_ERROR, "error_key", self.tenant, since, None)

    def ignored_since(self, since: str, limit: int) -> list[ActivityEntry]:
        """The newest writes since ``since`` that ignored attributes, at most ``limit``."""
        return self._newest(ACTIVITY_BY_IGNORED, "ignored_key", self.tenant, since, limit)

    def _newest(
        self, index: str | None, key_name: str, key: str, since: str | None, limit: int, before: str | None = None
    ) -> list[ActivityEntry]:
        return list(self._pages(index, key_name, key, since, limit, before=before))

    def _pages(
        self,
        index: str | None,
        key_name: str,
        key: str,
        since: str | None,
        limit: int | None,
        only_writes: bool = False,
        before: str | None = None,
    ) -> Iterator[ActivityEntry]:
        condition = f"{key_name} = :k"
        values: dict[str, Any] = {":k": {"S": key}}
        if since and before:
            condition += " AND sk BETWEEN :since AND :before"
            values[":since"], values[":before"] = {"S": since}, {"S": before}
        elif since:
            condition += " AND sk >= :since"
            values[":since"] = {"S": since}
        elif before:
            condition += " AND sk < :before"
            values[":before"] = {"S": before}
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if index:
            arguments["IndexName"] = index
        if only_writes:
            arguments["FilterExpression"] = "attribute_not_exists(error_key) AND attribute_not_exists(actor)"
        if limit is not None:
            arguments["Limit"] = limit
        # The store's one query loop; stopping here stops the reads: no page is read beyond the limit.
        returned = 0
        for item in items(self.client, **arguments):
            if before and item["sk"]["S"] >= before:
                continue  # BETWEEN includes its upper bound: the entry the cursor names was on the last page
            yield self._entry(item)
            returned += 1
            if limit is not None and returned >= limit:
                return

    def _resource_key(self, resource_type: str, resource_id: str) -> str:
        return f"{self.tenant}#{resource_type}#{resource_id}"

    def _item(self, entry: ActivityEntry) -> Item:
        entry = entry.bounded()
        expires = datetime.fromisoformat(entry.at) + self.retention
        item: Item = {
            "pk": {"S": self.tenant},
            "sk": {"S": f"{entry.at}#{entry.entry_id}"},
            "expires_at": {"N": str(int(expires.timestamp()))},
            "client_id": {"S": entry.client_id},
            "operation": {"S": entry.operation},
            "method": {"S": entry.method},
            "path": {"S": entry.path},
            "status": {"N": str(entry.status)},
        }
        strings = {
            "resource_type": entry.resource_type,
            "resource_id": entry.resource_id,
            "resource_name": entry.resource_name,
            "scim_type": entry.scim_type,
            "detail": entry.detail,
            "request_id": entry.request_id,
            "actor": entry.actor,
            "principal": entry.principal,
        }
        item.update({name: {"S": value} for name, value in strings.items() if value})
        if entry.resource_type and (entry.resource_id or entry.resource_name_key):
            target = entry.resource_id or NAME_PREFIX + (entry.resource_name_key or "")
            key = self._resource_key(entry.resource_type, target)
            if partition_key_fits(key):
                item["resource_key"] = {"S": key}
        if entry.refused:
            item["error_key"] = {"S": self.tenant}
        if entry.changes:
            changes = [_change_json(c) for c in entry.changes]
            item["changes"] = {"S": json.dumps(changes, separators=(",", ":"), default=str)}
        if entry.changes_dropped:
            item["changes_dropped"] = {"N": str(entry.changes_dropped)}
        for side in ("added", "removed"):
            count = getattr(entry, f"members_{side}")
            if count:
                item[f"members_{side}"] = {"N": str(count)}
                sample = getattr(entry, f"members_{side}_sample")
                item[f"members_{side}_sample"] = {"S": json.dumps(list(sample))}
        if entry.ignored_attributes:
            item["ignored_attributes"] = {"S": json.dumps(list(entry.ignored_attributes), ensure_ascii=False)}
            item["ignored_key"] = {"S": self.tenant}
        return item

    @staticmethod
    def _entry(item: Item) -> ActivityEntry:
        def text(name: str) -> str | None:
            return item[name]["S"] if name in item else None

        def number(name: str) -> int:
            return int(item[name]["N"]) if name in item else 0

        at, _, entry_id = item["sk"]["S"].rpartition("#")
        changes = tuple(
            AttributeChange(c["path"], c.get("old"), c.get("new"), secret=c.get("secret", False))
            for c in json.loads(text("changes") or "[]")
        )
        return ActivityEntry(
            at=at,
            entry_id=entry_id,
            client_id=item["client_id"]["S"],
            operation=item["operation"]["S"],
            method=item["method"]["S"],
            path=item["path"]["S"],
            status=number("status"),
            resource_type=text("resource_type"),
            resource_id=text("resource_id"),
            resource_name=text("resource_name"),
            scim_type=text("scim_type"),
            detail=text("detail"),
            changes=changes,
            changes_dropped=number("changes_dropped"),
            members_added=number("members_added"),
            members_removed=number("members_removed"),
            members_added_sample=tuple(json.loads(text("members_added_sample") or "[]")),
            members_removed_sample=tuple(json.loads(text("members_removed_sample") or "[]")),
            ignored_attributes=tuple(json.loads(text("ignored_attributes") or "[]")),
            request_id=text("request_id"),
            actor=text("actor"),
            principal=text("principal"),
        )


def _change_json(change: AttributeChange) -> dict[str, Any]:
    if change.secret:
        return {"path": change.path, "secret": True}
    return {"path": change.path, "old": change.old, "new": change.new}
