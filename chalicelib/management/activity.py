"""Activity and status: what a tenant's IdP changed, and whether provisioning is working.

The rules ``python -m admin activity|status`` and the management API's ``/activity`` and ``/status`` share.

Both read the activity table (chalicelib.store.activity) and the credentials the authorizer notes
(chalicelib.auth.usage); neither ever shows a secret, a password or a hash, because none is stored.
"""

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.auth.usage import refused_in_last_day
from chalicelib.config import Settings
from chalicelib.store.activity import ActivityEntry, ActivityTable, AttributeChange
from chalicelib.store.credentials import CredentialStore, StoredCredential
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMappingTable, role_key
from chalicelib.store.users import UserTable

DURATION = re.compile(r"^(\d{1,5})\s*([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
QUIET_AFTER = timedelta(hours=24)
TOP_SCIM_TYPES = 5
TOP_IGNORED = 10
IGNORED_READ = 1000
"""``status`` counts ignored attribute names over at most this many of the day's writes that ignored some."""


def parse_since(value: str) -> str:
    """``30m``, ``24h``, ``7d`` ago, or an ISO 8601 date or time (UTC when no offset is given)."""
    match = DURATION.match(value.strip())
    if match:
        moment = datetime.now(UTC) - timedelta(**{UNITS[match[2]]: int(match[1])})
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"--since {value[:64]!r}: give a duration (30m, 24h, 7d) or an ISO 8601 date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def describe_change(change: AttributeChange) -> str:
    if change.secret:
        return f"{change.path} (changed, value never kept)"
    if change.old is None:
        return f"{change.path} = {_value(change.new)}"
    if change.new is None:
        return f"{change.path} removed (was {_value(change.old)})"
    return f"{change.path}: {_value(change.old)} -> {_value(change.new)}"


def _members(count: int, sample: Sequence[str], sign: str) -> str:
    listed = ", ".join(sample)
    more = f", ... {count - len(sample)} more" if count > len(sample) else ""
    return f"members {sign}{count} ({listed}{more})"


def describe(entry: ActivityEntry) -> str:
    """What the request did, or why it was refused, on one line."""
    parts = [describe_change(change) for change in entry.changes]
    if entry.changes_dropped:
        parts.append(f"... {entry.changes_dropped} more attributes")
    if entry.members_added:
        parts.append(_members(entry.members_added, entry.members_added_sample, "+"))
    if entry.members_removed:
        parts.append(_members(entry.members_removed, entry.members_removed_sample, "-"))
    if entry.refused and entry.detail:
        parts.append(entry.detail)
    if entry.ignored_attributes:
        # Attributes no schema defines, by name: the IdP's mapping sends them, they changed nothing.
        parts = parts or ["no change"]
        parts.append("ignored: " + ", ".join(entry.ignored_attributes))
    if parts or entry.refused:
        return "; ".join(parts)
    return "deleted" if entry.operation == "delete" else "no change"


def entry_json(entry: ActivityEntry) -> dict[str, Any]:
    document = asdict(entry)
    document.pop("resource_name_key", None)
    document["changes"] = [
        {"path": c.path, "secret": True} if c.secret else {"path": c.path, "old": c.old, "new": c.new}
        for c in entry.changes
    ]
    return document


@dataclass(frozen=True)
class Target:
    """The resource ``--user`` or ``--group`` names: its id if it exists, and the name key a refused create used."""

    resource_type: str
    resource_id: str | None
    name_key: str | None


def resolve_user(users: UserTable, value: str, name_key: str) -> Target:
    found = users.get(value) or users.find_by_user_name(name_key)
    return Target("User", found.id if found else value, name_key)


def resolve_group(groups: GroupTable, value: str, name_key: str) -> Target:
    found = groups.get(value) or groups.find_by_display_name(name_key)
    return Target("Group", found.id if found else value, name_key)


def activity(
    trail: ActivityTable,
    target: Target | None,
    since: str | None,
    errors_only: bool,
    limit: int,
    ignored_only: bool = False,
    before: str | None = None,
) -> list[ActivityEntry]:
    """The entries asked for, newest first; ``ignored_only``: the writes that ignored attributes no schema defines;
    ``before``: those after the entry of that position (:attr:`ActivityEntry.position`), the next page."""
    if target is None:
        return trail.newest(since=since, limit=limit, errors_only=errors_only, ignored_only=ignored_only, before=before)
    entries = (
        trail.of_resource(target.resource_type, target.resource_id, since, limit, before) if target.resource_id else []
    )
    if target.name_key:
        entries += trail.of_name(target.resource_type, target.name_key, since, limit, before)
    if errors_only:
        entries = [entry for entry in entries if entry.refused]
    if ignored_only:
        entries = [entry for entry in entries if entry.ignored_attributes]
    unique = {(entry.at, entry.entry_id): entry for entry in entries}
    return sorted(unique.values(), key=lambda entry: entry.position, reverse=True)[:limit]


def status(
    tenant: str,
    config: Settings,
    credentials: CredentialStore,
    trail: ActivityTable,
    users: UserTable,
    groups: GroupTable,
    mappings: RoleMappingTable,
) -> dict[str, Any]:
    """Everything ``admin status`` shows, as data: "is provisioning working for this tenant?"."""
    now = datetime.now(UTC)
    issued = credentials.credentials_of(tenant)
    active: StoredCredential | None = next((c for c in issued if c.revoked is None), None)
    last_revoked = max((c for c in issued if c.revoked), key=lambda c: c.revoked or "", default=None)
    errors = list(trail.errors_since((now - timedelta(hours=24)).isoformat(timespec="microseconds")))
    by_type = Counter(entry.scim_type or str(entry.status) for entry in errors)
    ignoring = trail.ignored_since((now - timedelta(hours=24)).isoformat(timespec="microseconds"), IGNORED_READ)
    ignored = Counter(name for entry in ignoring for name in entry.ignored_attributes)
    last_write = trail.last_write()
    group_names = {role_key(group.display_name): group.display_name for group in groups.all()}
    mapped = {role_key(mapping.customer_supplied_role): mapping.customer_supplied_role for mapping in mappings.all()}
    report: dict[str, Any] = {
        "tenant": tenant,
        "credential": None,
        "last_revoked_credential": None,
        "last_successful_write": entry_json(last_write) if last_write else None,
        "errors_24h": len(errors),
        "top_scim_types_24h": by_type.most_common(TOP_SCIM_TYPES),
        "last_error": entry_json(errors[0]) if errors else None,
        # At least this many writes (IGNORED_READ at most are read) carried attributes no schema defines.
        "writes_ignoring_attributes_24h": len(ignoring),
        "ignored_attributes_24h": ignored.most_common(TOP_IGNORED),
        "last_ignoring_write": entry_json(ignoring[0]) if ignoring else None,
        "users": users.count(),
        "active_users": users.count(active_only=True),
        "groups": len(group_names),
        "mappings_without_group": sorted(name for key, name in mapped.items() if key not in group_names),
        "groups_without_mapping": sorted(name for key, name in group_names.items() if key not in mapped),
        "problems": [],
    }
    problems: list[str] = report["problems"]
    if active:
        report["credential"] = {
            "client_id": active.client_id,
            "created": active.created,
            "last_used": active.last_used,
            "refused_24h": refused_in_last_day(credentials, active.client_id, now.timestamp()),
        }
        if active.last_used is None:
            problems.append("The active credential has never been used: is it pasted into the IdP?")
        elif now - datetime.fromisoformat(active.last_used) > QUIET_AFTER:
            problems.append("The IdP has not reached us for over 24 hours: is provisioning still enabled in the IdP?")
    else:
        problems.append(
            "No active credential: every request of the IdP is refused (401). Generate one with "
            f"`credentials generate {tenant}` and paste it into the IdP."
        )
    if last_revoked:
        report["last_revoked_credential"] = {
            "client_id": last_revoked.client_id,
            "revoked": last_revoked.revoked,
            "refused_24h": refused_in_last_day(credentials, last_revoked.client_id, now.timestamp()),
        }
        if report["last_revoked_credential"]["refused_24h"]:
            problems.append(
                f"The IdP still sends the revoked credential {last_revoked.client_id}: paste the new one into the IdP."
            )
    if errors:
        problems.append(f"{len(errors)} requests refused in 24 hours: `activity {tenant} --errors` lists them.")
    return report
