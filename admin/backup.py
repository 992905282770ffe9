"""Backups: users with their Customer Supplied Roles and effective roles, and the role mappings.

A backup is a JSON file, or a directory of two CSV files (users.csv,
role_mappings.csv). Role mappings restore from either; users are the IdP's to
re-provision, so they are exported for audit and recovery, not restored.
"""

import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from admin.terminal import say
from chalicelib.resources.roles import held, user_roles
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.users import UserTable

PROGRESS_EVERY = 500
LIST_SEPARATOR = ";"
# OWASP's CSV injection rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PRIVATE = 0o600
"""A backup holds every userName and externalId of a tenant: readable by its owner only."""


@dataclass(frozen=True)
class ExportedUser:
    id: str
    user_name: str
    external_id: str | None
    active: bool
    customer_supplied_roles: list[str]
    data_access_roles: list[str]
    application_access_roles: list[str]


def exported_users(users: UserTable, groups: GroupTable, mappings: list[RoleMapping]) -> Iterator[ExportedUser]:
    """Every user of the tenant with its roles; prints progress to stderr on long runs."""
    names: dict[str, str | None] = {}
    for count, user in enumerate(users.all(), start=1):
        group_ids = groups.group_ids_of(user.id)
        unknown = [gid for gid in group_ids if gid not in names]
        if unknown:
            live = groups.get_many(unknown)
            names.update({gid: live[gid].display_name if gid in live else None for gid in unknown})
        roles = user_roles(
            (name for gid in group_ids if (name := names[gid]) is not None),
            mappings,
            held(user.document, "roles"),
            held(user.document, "entitlements"),
        )
        if count % PROGRESS_EVERY == 0:
            say(f"... {count} users exported", file=sys.stderr)
        yield ExportedUser(
            user.id,
            user.user_name,
            user.external_id,
            user.active,
            roles.customer_supplied_roles,
            roles.data_access_roles,
            roles.application_access_roles,
        )


def mapping_row(mapping: RoleMapping) -> dict[str, str]:
    return {
        "customer_supplied_role": mapping.customer_supplied_role,
        "data_access_roles": LIST_SEPARATOR.join(mapping.data_access_roles),
        "application_access_roles": LIST_SEPARATOR.join(mapping.application_access_roles),
    }


def mapping_of_row(row: dict[str, str]) -> RoleMapping:
    def roles(column: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in (row.get(column) or "").split(LIST_SEPARATOR) if part.strip())

    name = (row.get("customer_supplied_role") or "").strip()
    if not name:
        raise ValueError(f"a row has no customer_supplied_role: {row}")
    return RoleMapping(name, roles("data_access_roles"), roles("application_access_roles"))


def export(
    tenant: str, users: UserTable, groups: GroupTable, mappings: RoleMappingTable, output: Path, fmt: str
) -> int:
    """Write the backup; returns the number of users exported."""
    all_mappings = list(mappings.all())
    exported = list(exported_users(users, groups, all_mappings))
    if fmt == "json":
        document: dict[str, Any] = {
            "tenant": tenant,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "users": [user.__dict__ for user in exported],
            "role_mappings": [mapping_row(m) for m in all_mappings],
        }
        with private_file(output) as file:
            file.write(json.dumps(document, indent=2))
        return len(exported)
    output.mkdir(mode=0o700, parents=True, exist_ok=True)
    with private_file(output / "users.csv") as file:
        writer = csv.DictWriter(file, fieldnames=list(ExportedUser.__dataclass_fields__))
        writer.writeheader()
        for user in exported:
            row = dict(user.__dict__)
            for column in ("customer_supplied_roles", "data_access_roles", "application_access_roles"):
                row[column] = LIST_SEPARATOR.join(row[column])
            writer.writerow(spreadsheet_safe(row))
    write_mappings_csv(all_mappings, output / "role_mappings.csv")
    return len(exported)


def write_mappings_csv(mappings: list[RoleMapping], path: Path) -> None:
    with private_file(path) as file:
        writer = csv.DictWriter(
            file, fieldnames=["customer_supplied_role", "data_access_roles", "application_access_roles"]
        )
        writer.writeheader()
        writer.writerows(spreadsheet_safe(mapping_row(m)) for m in mappings)


def spreadsheet_safe(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each text cell a spreadsheet would run as a formula prefixed by a single quote (OWASP)."""
    return {
        column: f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
        for column, value in row.items()
    }


def private_file(path: Path) -> TextIO:
    """``path`` opened for writing text, created (or made) readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    os.fchmod(descriptor, PRIVATE)  # an existing file keeps its mode through O_CREAT
    return os.fdopen(descriptor, "w", newline="", encoding="utf-8")


def read_mappings(path: Path) -> list[RoleMapping]:
    """Role mappings from a JSON backup, a backup directory, or a CSV file."""
    if path.is_dir():
        path = path / "role_mappings.csv"
    if path.suffix.lower() == ".json":
        return [mapping_of_row(row) for row in json.loads(path.read_text())["role_mappings"]]
    with path.open(newline="") as file:
        return [mapping_of_row(_unquoted(row)) for row in csv.DictReader(file)]


def _unquoted(row: dict[str, str]) -> dict[str, str]:
    """A CSV row as it was before :func:`spreadsheet_safe`, so that a restore gives back the same names."""
    return {
        column: value[1:]
        if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_STARTS)
        else value
        for column, value in row.items()
    }
