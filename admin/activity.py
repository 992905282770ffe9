"""``activity`` and ``status`` in a terminal: the rules live in :mod:`chalicelib.management.activity`."""

from datetime import UTC, datetime
from typing import Any

from admin.terminal import say
from chalicelib.management.activity import (
    IGNORED_READ,
    Target,
    activity,
    describe,
    describe_change,
    entry_json,
    parse_since,
    resolve_group,
    resolve_user,
    status,
)
from chalicelib.store.activity import ActivityEntry

__all__ = [
    "Target",
    "activity",
    "describe",
    "describe_change",
    "entry_json",
    "line",
    "parse_since",
    "print_status",
    "resolve_group",
    "resolve_user",
    "status",
]


def line(entry: ActivityEntry) -> str:
    """One entry, readable in a terminal: when, what, on which resource, the outcome, the changes, who."""
    when = entry.at[:19].replace("T", " ") + "Z"
    target = entry.resource_type or entry.path
    if entry.resource_name:
        target += f" {entry.resource_name}"
    if entry.resource_id:
        target += f" [{entry.resource_id}]"
    outcome = str(entry.status) + (f" {entry.scim_type}" if entry.scim_type else "")
    who = f"{entry.actor} via {entry.principal}" if entry.actor else entry.client_id
    return f"{when}  {entry.operation:<10} {target}  {outcome}  {describe(entry)}  ({who})".rstrip()


def _ago(at: str | None, now: datetime) -> str:
    if not at:
        return "never"
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 120:
        ago = f"{seconds} s ago"
    elif seconds < 7200:
        ago = f"{seconds // 60} min ago"
    elif seconds < 2 * 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} days ago"
    return f"{at[:19].replace('T', ' ')}Z ({ago})"


def print_status(report: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    say(f"Tenant {report['tenant']}")
    credential = report["credential"]
    if credential:
        say(
            f"  Credential        {credential['client_id']}, active since {credential['created']}; "
            f"last used {_ago(credential['last_used'], now)}; refused attempts in 24 h: {credential['refused_24h']}"
        )
    else:
        say("  Credential        none active")
    revoked = report["last_revoked_credential"]
    if revoked:
        say(
            f"  Last revoked      {revoked['client_id']}, revoked {revoked['revoked']}; "
            f"refused attempts in 24 h: {revoked['refused_24h']}"
        )
    write = report["last_successful_write"]
    if write:
        say(
            f"  Last write        {_ago(write['at'], now)}: {write['operation']} {write['resource_type']} "
            f"{write['resource_name'] or write['resource_id']}"
        )
    else:
        say("  Last write        none kept (the trail keeps entries for the stage's retention)")
    top = ", ".join(f"{scim_type} {count}" for scim_type, count in report["top_scim_types_24h"])
    say(f"  Errors in 24 h    {report['errors_24h']}" + (f" ({top})" if top else ""))
    if report["writes_ignoring_attributes_24h"]:
        writes = report["writes_ignoring_attributes_24h"]
        names = ", ".join(f"{name} {count}" for name, count in report["ignored_attributes_24h"])
        last = _ago(report["last_ignoring_write"]["at"], now)
        say(f"  Ignored in 24 h   {writes}{'+' if writes >= IGNORED_READ else ''} writes, the last {last}: {names}")
        say(
            "                    attributes no schema defines, ignored: fix the IdP's mapping "
            f"(`activity {report['tenant']} --ignored` lists the writes)"
        )
    say(f"  Users             {report['users']} ({report['active_users']} active); groups {report['groups']}")
    if report["mappings_without_group"]:
        say(f"  Role mappings with no group: {', '.join(report['mappings_without_group'])}")
    if report["groups_without_mapping"]:
        say(f"  Groups with no role mapping: {', '.join(report['groups_without_mapping'])}")
    for problem in report["problems"]:
        say(f"! {problem}")
    if not report["problems"]:
        say("OK: provisioning is working.")
