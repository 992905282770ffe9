"""Backups: users with their Customer Supplied Roles and effective roles, and the role mappings.

A backup is a JSON file, or a directory of two CSV files (users.csv,
role_mappings.csv). Role mappings restore from either; users are the IdP's to
re-provision, so they are exported for audit and recovery, not restored.
"""

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.resources.grants import held
from chalicelib.resources.roles import user_roles
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.users import UserTable

PROGRESS_EVERY = 500
LIST_SEPARATOR = ";"


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
            print(f"... {count} users exported", file=sys.stderr, flush=True)
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
        output.write_text(json.dumps(document, indent=2))
        return len(exported)
    output.mkdir(parents=True, exist_ok=True)
    with (output / "users.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(ExportedUser.__dataclass_fields__))
        writer.writeheader()
        for user in exported:
            row = dict(user.__dict__)
            for column in ("customer_supplied_roles", "data_access_roles", "application_access_roles"):
                row[column] = LIST_SEPARATOR.join(row[column])
            writer.writerow(row)
    write_mappings_csv(all_mappings, output / "role_mappings.csv")
    return len(exported)


def write_mappings_csv(mappings: list[RoleMapping], path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(
            file, fieldnames=["customer_supplied_role", "data_access_roles", "application_access_roles"]
        )
        writer.writeheader()
        writer.writerows(mapping_row(m) for m in mappings)


def read_mappings(path: Path) -> list[RoleMapping]:
    """Role mappings from a JSON backup, a backup directory, or a CSV file."""
    if path.is_dir():
        path = path / "role_mappings.csv"
    if path.suffix.lower() == ".json":
        return [mapping_of_row(row) for row in json.loads(path.read_text())["role_mappings"]]
    with path.open(newline="") as file:
        return [mapping_of_row(row) for row in csv.DictReader(file)]
