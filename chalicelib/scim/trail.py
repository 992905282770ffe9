"""The provisioning activity trail, seen from the SCIM side: one entry per write or refused request.

Decided here: the entry is one PutItem written after the SCIM write, not an extra item in its
transaction. A trail item in the transaction would let a trail failure cancel the write (and the
member fast path writes in several calls near DynamoDB's 100-item transaction limit); after it,
the write's answer is already decided. When the PutItem fails, the answer is sent unchanged, the
entry goes to the log as an ``activity.lost`` line (it holds no secret), and
``ActivityWriteFailures`` is counted, which ``infra/`` alarms on.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any

from scim2_models import Group, Path, User
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse

from chalicelib.canonical import legacy_key
from chalicelib.config import Settings
from chalicelib.metrics import count
from chalicelib.provisioning.activity import WriteNotes, is_secret
from chalicelib.resources.activity import MAX_VALUE_CHARACTERS, ActivityEntry, ActivityTable, now
from chalicelib.scim.provider import POLICY

_NAME_ATTRIBUTES = {
    "User": Path[User[Any]]("userName").resolve(),
    "Group": Path[Group]("displayName").resolve(),
}
_NAMES = {"User": "userName", "Group": "displayName"}
_RESOURCE_TYPES = {"Users": "User", "Groups": "Group"}
_WRITES = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
UNAUTHORIZED = 401
MAX_NAME_CHARACTERS = MAX_VALUE_CHARACTERS
REDACTED = "***"
log = logging.getLogger("scim.activity")


def name_key(resource_type: str, name: str) -> str:
    """The key a userName or displayName is unique by, as the storage compares them."""
    try:
        return POLICY.comparison_key(_NAME_ATTRIBUTES[resource_type], name)
    except ValueError:  # a name the canonical form refuses, kept under its old key (chalicelib.canonical)
        return legacy_key(name)


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def operation_of(method: str, path: str) -> str:
    segments = _segments(path)
    if method == "GET" or (segments and segments[-1] == ".search"):
        return "search" if len(segments) != 2 or segments[-1] == ".search" else "read"
    if method == "DELETE" and segments[:1] == ["Users"]:
        return "deactivate"
    return _WRITES.get(method, method.lower())


def is_recorded(request: ScimRequest, status: int) -> bool:
    """A successful write, or a refusal other than 401 (which has no tenant)."""
    if 400 <= status < 500:
        return status != UNAUTHORIZED
    segments = _segments(request.path)
    return (
        200 <= status < 300 and request.method in _WRITES and segments[-1:] != [".search"] and segments[:1] != ["Bulk"]
    )


def _body(request: ScimRequest) -> Any:
    # A body the service refused as too deeply nested (400) is too deep for json.loads as well.
    try:
        return json.loads(request.body) if request.body else None
    except (ValueError, RecursionError):
        return None


def _secrets_in(body: Any) -> Iterator[str]:
    """Every string a body holds under a secret attribute (password), for scrubbing a detail that echoes it.

    Walked with a stack, never by recursion: json.loads accepts bodies nested deeper than Python's
    recursion limit (5,000 levels on 3.13), and the service may refuse such a body as a 400 that still
    has its trail entry to write.
    """
    pending: list[tuple[Any, bool]] = [(body, False)]
    while pending:
        value, secret = pending.pop()
        if isinstance(value, dict):
            path = str(value.get("path") or "")
            pending += [
                (item, secret or is_secret(str(key)) or (key == "value" and is_secret(path)))
                for key, item in value.items()
            ]
        elif isinstance(value, list):
            pending += [(item, secret) for item in value]
        elif secret and isinstance(value, str) and value:
            yield value


def _scrubbed(detail: str | None, body: Any) -> str | None:
    if not detail:
        return detail
    for secret in sorted(set(_secrets_in(body)), key=len, reverse=True):
        detail = detail.replace(secret, REDACTED)
    return detail


def entry_for(
    request: ScimRequest,
    response: ScimResponse,
    client_id: str,
    notes: WriteNotes,
    request_id: str | None,
) -> ActivityEntry | None:
    """The trail entry of a request, or None when it leaves none (a read, a 5xx, a 401); client text bounded."""
    status = int(response.status)
    if not is_recorded(request, status):
        return None
    if status >= 400:
        notes = WriteNotes()  # a refused request changed nothing, whatever a step noted before it failed
    segments = _segments(request.path)
    resource_type = notes.resource_type or _RESOURCE_TYPES.get(segments[0] if segments else "")
    resource_id = notes.resource_id or (segments[1] if len(segments) == 2 and segments[1] != ".search" else None)
    resource_name = notes.resource_name
    body = _body(request)
    if resource_name is None and resource_type in _NAMES and isinstance(body, dict):
        sent = body.get(_NAMES[resource_type])
        resource_name = sent[:MAX_NAME_CHARACTERS] if isinstance(sent, str) and sent else None
    error = response.body if status >= 400 and isinstance(response.body, dict) else {}
    return ActivityEntry(
        at=now(),
        client_id=client_id,
        operation=notes.operation or operation_of(request.method, request.path),
        method=request.method,
        path=request.path,
        status=status,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        resource_name_key=_name_key(resource_type, resource_name) if resource_id is None else None,
        scim_type=error.get("scimType"),
        detail=_scrubbed(error.get("detail"), body),
        changes=tuple(notes.changes),
        members_added=len(notes.members_added),
        members_removed=len(notes.members_removed),
        members_added_sample=tuple(notes.members_added[:10]),
        members_removed_sample=tuple(notes.members_removed[:10]),
        ignored_attributes=tuple(notes.ignored_attributes),
        request_id=request_id,
    ).bounded()


def _name_key(resource_type: str | None, name: str | None) -> str | None:
    if resource_type not in _NAME_ATTRIBUTES or not name:
        return None
    try:
        return name_key(resource_type, name)
    except Exception:  # a name the comparison refuses is no key to find it by
        return None


def record(trail: ActivityTable, entry: ActivityEntry, settings: Settings) -> None:
    """Write the entry; a failure is logged and counted, never raised: the SCIM answer is already decided."""
    try:
        trail.record(entry)
    except Exception as error:
        lost = {"log": "activity.lost", "tenant": trail.tenant, "error": type(error).__name__, **_loggable(entry)}
        log.warning(json.dumps(lost, separators=(",", ":"), default=str))
        count(settings.stage, "ActivityWriteFailures", tenant=trail.tenant)


def _loggable(entry: ActivityEntry) -> dict[str, Any]:
    fields = {key: value for key, value in vars(entry).items() if value not in (None, (), 0, "")}
    fields["changes"] = [
        {"path": c.path, "secret": True} if c.secret else {"path": c.path, "old": c.old, "new": c.new}
        for c in entry.changes
    ]
    return fields
