"""``python -m admin roles catalogue``: the roles a tenant's users may be granted directly (SCIM /Roles, /Entitlements).

The catalogue is every role the tenant's role mappings name plus the roles declared here, so a
governance product (Okta Identity Governance) can grant a role before any group maps to it.
``application`` roles are Application Access Roles (SCIM roles), ``data`` roles Data Access Roles
(SCIM entitlements).
"""

import argparse
import sys
from typing import Any

from admin.terminal import say
from chalicelib.management.errors import ManagementError
from chalicelib.management.operations import Actor, Management
from chalicelib.resources.catalogue import KIND_TYPES
from chalicelib.store.role_catalogue import KINDS, RoleKind

KIND_HELP = "application (Application Access Role, SCIM roles) or data (Data Access Role, SCIM entitlements)"


def add_parsers(roles: Any) -> None:
    """``roles catalogue add|remove|list`` under the ``roles`` command."""
    catalogue = roles.add_parser("catalogue", help="roles users may be granted directly (SCIM /Roles, /Entitlements)")
    actions = catalogue.add_subparsers(dest="catalogue_action", required=True)
    add = actions.add_parser("add", help="declare a role (or change its description)")
    add.add_argument("tenant")
    add.add_argument("name", help="the role's name, which is also its SCIM id and the value a grant holds")
    add.add_argument("--kind", choices=KINDS, required=True, help=KIND_HELP)
    add.add_argument("--description", default="", help="what the role is for, shown to the governance admin")
    remove = actions.add_parser("remove", help="withdraw a declared role (users keep their grants of it)")
    remove.add_argument("tenant")
    remove.add_argument("name")
    remove.add_argument("--kind", choices=KINDS, required=True, help=KIND_HELP)
    listing = actions.add_parser("list", help="the tenant's catalogue: declared roles and those its mappings name")
    listing.add_argument("tenant")
    listing.add_argument("--kind", choices=KINDS, help="one kind only")


def run(args: argparse.Namespace, management: Management, actor: Actor) -> int:
    """Each change goes through the management operations, which leave a trail entry naming the operator."""
    kind: RoleKind | None = args.kind
    if args.catalogue_action == "add":
        assert kind is not None
        try:
            role = management.declare_role(args.tenant, kind, args.name, args.description, actor)
        except ManagementError as error:
            say(f"error: nothing changed: {error}", file=sys.stderr)
            return 2
        say(f"{args.tenant}: {KIND_TYPES[kind]} {role.name!r} declared; users may be granted it")
        return 0
    catalogue = management.catalogue(args.tenant)
    if args.catalogue_action == "remove":
        assert kind is not None
        try:
            management.withdraw_role(args.tenant, kind, args.name, actor)
        except ManagementError as error:
            say(error, file=sys.stderr)
            return 1
        left = next((role for role in catalogue.roles(kind) if role.name.casefold() == args.name.casefold()), None)
        say(f"{args.tenant}: withdrew {KIND_TYPES[kind]} {args.name!r}; users keep the grants they hold")
        if left is not None:
            say(f"Still in the catalogue: the role mapping of {', '.join(left.mapped_by)} names it")
        return 0
    say("kind", "name", "declared", "mapped_by", "description", sep="\t")
    for each in (kind,) if kind else KINDS:
        for entry in catalogue.roles(each):
            mapped = ";".join(entry.mapped_by) or "-"
            say(each, entry.name, entry.declared or "-", mapped, entry.description, sep="\t")
    return 0
