"""What a successful write changed, noted by the handler for the provisioning activity trail.

The handler knows the resource before and after its write; it hands both to :class:`WriteNotes`,
which keeps the changed attribute paths with their old and new values, and the names of the
attributes it ignored because no schema defines them. A secret attribute
(password, anything named like a secret or a hash) is named, its values never kept. The
adapter turns the notes into a trail entry after the answer is decided, so that nothing here
can change a SCIM answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scim2_models import Resource

from chalicelib.resources.activity import AttributeChange
from chalicelib.schemas import ONEMODEL_USER_SCHEMA

# Read-only or derived: not something an IdP changes (members are counted apart).
_NOT_CHANGES = frozenset({"id", "meta", "schemas", "groups", "members", ONEMODEL_USER_SCHEMA})
_SECRET = re.compile(r"password|secret|hash|token", re.IGNORECASE)


def is_secret(path: str) -> bool:
    """Whether an attribute path's values must never be kept: a password, a secret, a hash."""
    return bool(_SECRET.search(path))


def document_of(resource: Resource[Any] | None) -> dict[str, Any]:
    if resource is None:
        return {}
    document: dict[str, Any] = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
    return document


def _flatten(document: Mapping[str, Any], prefix: str = "", separator: str = ".") -> Iterable[tuple[str, Any]]:
    for key, value in document.items():
        if (not prefix and key in _NOT_CHANGES) or key == "schemas":
            continue
        path = f"{prefix}{separator}{key}" if prefix else key
        if isinstance(value, dict):
            # An extension's attributes follow its URN after a colon (RFC 7644 §3.10), sub-attributes a dot.
            yield from _flatten(value, path, ":" if not prefix and key.startswith("urn:") else ".")
        else:
            yield path, value


def attribute_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[AttributeChange]:
    """The attribute paths whose values differ, in path order; a multi-valued attribute is one path."""
    old, new = dict(_flatten(before)), dict(_flatten(after))
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) == new.get(path):
            continue
        if is_secret(path):
            changes.append(AttributeChange(path, secret=True))
        else:
            changes.append(AttributeChange(path, old.get(path), new.get(path)))
    return changes


def member_ids(document: Mapping[str, Any]) -> list[str]:
    return [m["value"] for m in document.get("members") or [] if isinstance(m, dict) and "value" in m]


@dataclass
class WriteNotes:
    """The write one request made: which resource, which attributes, which members. Empty until a write."""

    operation: str | None = None
    """The operation's name when the request's method and path do not tell it (a create that ``revived`` a user)."""
    resource_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    changes: list[AttributeChange] = field(default_factory=list)
    members_added: list[str] = field(default_factory=list)
    members_removed: list[str] = field(default_factory=list)
    ignored_attributes: list[str] = field(default_factory=list)
    """What the request's body held that no schema defines (names only, :mod:`chalicelib.provisioning.ignored`)."""

    def wrote(
        self,
        resource_type: str | None,
        before: Resource[Any] | None,
        after: Resource[Any] | None,
        sent: Resource[Any] | None = None,
    ) -> None:
        """A create (no ``before``), replacement or patch; a retried write's last attempt replaces the earlier.

        ``sent`` is the resource as the client sent it, whose write-only secrets ``after`` no longer shows.
        """
        self.wrote_documents(resource_type, document_of(before), document_of(after), document_of(sent))

    def wrote_documents(
        self,
        resource_type: str | None,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        sent: Mapping[str, Any] | None = None,
    ) -> None:
        """As :meth:`wrote`, with the resources as their SCIM documents."""
        secrets = {key: value for key, value in (sent or {}).items() if is_secret(key) and key not in after}
        after = {**after, **secrets}
        current = after or before
        self.resource_type = resource_type
        self.resource_id = current.get("id")
        self.resource_name = current.get("userName") or current.get("displayName")
        self.changes = attribute_changes(before, after)
        if "members" in before or "members" in after:
            old, new = member_ids(before), member_ids(after)
            # Each side's set built once: rebuilt per member, 20,000 members took 94 s after the write committed.
            kept_before, kept_after = set(old), set(new)
            self.moved_members([i for i in new if i not in kept_before], [i for i in old if i not in kept_after])

    def moved_members(self, added: Sequence[str], removed: Sequence[str]) -> None:
        self.members_added = list(added)
        self.members_removed = list(removed)

    def patched_group(
        self,
        resource_type: str | None,
        group: Resource[Any],
        changes: Mapping[str, Any],
        added: Sequence[str],
        removed: Sequence[str],
    ) -> None:
        """The member fast path: the group was not read whole, so only what the PATCH set is known, not before."""
        self.resource_type, self.resource_id = resource_type, group.id
        self.resource_name = getattr(group, "display_name", None)
        self.changes = [AttributeChange(path, None, value) for path, value in sorted(changes.items())]
        self.moved_members(added, removed)

    def deleted(self, resource_type: str | None, resource_id: str, name: str | None = None) -> None:
        self.resource_type, self.resource_id, self.resource_name = resource_type, resource_id, name
