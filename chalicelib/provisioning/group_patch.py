"""Recognise the group PATCHes that only move members (and rename), so they cost O(changed members).

The generic PATCH path reads the whole group, applies the operations and
writes the whole new state: O(group size) for a 50,000-member group. Every
shape real IdPs send for membership changes is translated here into a
:class:`GroupChange` the store applies directly; anything else returns None
and takes the generic path. Shapes (:rfc:`RFC 7644 §3.5.2`, docs/design/idp-dialects.md):

- ``{"op": "add", "path": "members", "value": [{"value": id}, ...]}`` (Entra, Okta)
- ``{"op": "remove", "path": "members[value eq \\"id\\"]"}`` (Okta, Entra with aadOptscim062020)
- ``{"op": "Remove", "path": "members", "value": [{"value": id}]}`` (Entra's default dialect)
- ``{"op": "remove", "path": "members"}`` (remove every member)
- ``{"op": "replace", "path": "members", "value": [...]}`` (Okta)
- ``{"op": "replace", "value": {"id": ..., "displayName": ...}}`` (Okta's rename, sent with every push)
- ``{"op": "add", "value": {"members": [...]}}`` and ``replace``/``add`` of displayName or externalId.
"""

from __future__ import annotations

import re
from typing import Any

from scim2_models import InvalidValueException, PatchOp

from chalicelib.references import reference_problem
from chalicelib.resources.groups import GroupChange
from chalicelib.schemas import CORE_GROUP_SCHEMA

GROUP_SCHEMA = CORE_GROUP_SCHEMA.lower() + ":"
_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]$', re.IGNORECASE)
# Read-only attributes IdPs echo in a path-less value; ignored as on POST.
_IGNORED_KEYS = {"id", "schemas", "meta"}


class _NotMembership(Exception):
    """The PATCH needs the generic path."""


def _attribute(path: str) -> str:
    return path.lower().removeprefix(GROUP_SCHEMA)


def _member_ids(value: Any) -> list[str]:
    entries = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for entry in entries:
        # RFC 7643 §2.1: attribute names are case-insensitive, "Value" included.
        member = {key.lower(): item for key, item in entry.items()} if isinstance(entry, dict) else {}
        user_id, kind, ref = member.get("value"), member.get("type"), member.get("$ref")
        if not isinstance(user_id, str) or not user_id:
            raise InvalidValueException(detail="members: each member must be an object with a string value")
        if kind not in (None, "User"):
            raise InvalidValueException(detail=f"members: {user_id!r} is a {kind}; only Users can be members")
        if isinstance(ref, str) and (problem := reference_problem(ref)):
            raise InvalidValueException(detail=f"members.$ref {problem}")
        ids.append(user_id)
    return ids


class _Builder:
    def __init__(self) -> None:
        self.change = GroupChange()
        self.adds: dict[str, None] = {}
        self.removes: dict[str, None] = {}

    def add(self, ids: list[str]) -> None:
        for user_id in ids:
            self.adds[user_id] = None
            self.removes.pop(user_id, None)

    def remove(self, ids: list[str]) -> None:
        for user_id in ids:
            self.removes[user_id] = None
            self.adds.pop(user_id, None)

    def replace(self, ids: list[str]) -> None:
        self.change.reset = True
        self.adds = dict.fromkeys(ids)
        self.removes = {}

    def attribute(self, op: str, name: str, value: Any) -> None:
        if name == "members":
            if op == "add":
                self.add(_member_ids(value))
            elif op == "replace":
                self.replace(_member_ids(value))
            elif value is None:
                self.replace([])
            else:
                self.remove(_member_ids(value))
        elif name == "displayname" and op in ("add", "replace"):
            if not isinstance(value, str) or not value.strip():
                raise InvalidValueException(detail="displayName must be a non-empty string")
            self.change.display_name = value
        elif name == "externalid":
            if op == "remove":
                self.change.external_id = None
            elif isinstance(value, str):
                self.change.external_id = value
            else:
                raise _NotMembership
        elif name not in _IGNORED_KEYS:
            raise _NotMembership

    def build(self) -> GroupChange:
        self.change.add = list(self.adds)
        self.change.remove = [] if self.change.reset else list(self.removes)
        return self.change


def group_change(patch_op: PatchOp[Any]) -> GroupChange | None:
    """The net change of a group PATCH, or None when it needs the generic path.

    :raises InvalidValueException: For a malformed member entry.
    """
    builder = _Builder()
    try:
        for operation in patch_op.operations or []:
            op = str(operation.op.value).lower()
            if operation.path is None:
                if not isinstance(operation.value, dict) or op == "remove":
                    return None
                for key, value in operation.value.items():
                    builder.attribute(op, _attribute(key), value)
                continue
            raw = str(operation.path)
            path = _attribute(raw)
            member = _MEMBER_FILTER.match(raw[len(GROUP_SCHEMA) :] if raw.lower().startswith(GROUP_SCHEMA) else raw)
            if member and op == "remove":
                builder.remove([member.group(1).replace('\\"', '"')])
            elif member:
                return None
            else:
                builder.attribute(op, path, operation.value)
    except _NotMembership:
        return None
    return builder.build()
