"""``python -m admin``: tenants, credentials, limits, role mappings, backups and provisioning activity, for operators.

It talks to ``make run``'s embedded store by default, or to a deployed stage's
tables with ``--stage STAGE`` and the operator's AWS credentials.
"""

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from admin import activity, backup, catalogue, emails, events, limits, names, password_policy
from admin.target import TargetError, use_local_store, use_stage
from admin.terminal import say, say_json
from chalicelib.auth.credentials import TENANT_NAME_RULE, CredentialError, valid_tenant_name
from chalicelib.config import settings
from chalicelib.management.errors import ManagementError
from chalicelib.management.operations import Actor, Management
from chalicelib.store import invariants
from chalicelib.store.connection import dynamodb
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping
from chalicelib.store.users import UserTable


def _roles(values: Sequence[str] | None) -> tuple[str, ...]:
    """Roles given as repeated options and/or comma-separated lists."""
    return tuple(role.strip() for value in values or [] for role in value.split(",") if role.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__)
    parser.add_argument("--stage", help="a stage of .chalice/config.json, on AWS (default: make run's store)")
    parser.add_argument(
        "--actor", help="who asks, named in the tenant's activity trail for each write (default: operator:<login>)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    tenant = commands.add_parser("tenant", help="tenants and their SCIM service account").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create", help="create the tenant's SCIM service account with its three permissions")
    create.add_argument("tenant", help=f"the tenant's name: {TENANT_NAME_RULE}")
    create.add_argument("--name", default="SCIM provisioning")

    credentials = commands.add_parser("credentials", help="generate, list, revoke").add_subparsers(
        dest="action", required=True
    )
    generate = credentials.add_parser("generate", help="generate the tenant's credential (the secret is shown once)")
    generate.add_argument("tenant")
    generate.add_argument("--description", default="SCIM provisioning")
    listing = credentials.add_parser(
        "list", help="the tenant's credentials: state, last use, refused attempts in 24 h (never a secret or hash)"
    )
    listing.add_argument("tenant", nargs="?")
    listing.add_argument("--all", action="store_true", help="every tenant's active credential (to rotate them all)")
    revoke = credentials.add_parser("revoke", help="revoke a credential for good")
    revoke.add_argument("client_id")

    roles = commands.add_parser("roles", help="Customer Supplied Role mappings").add_subparsers(
        dest="action", required=True
    )
    set_role = roles.add_parser("set", help="map a Customer Supplied Role to One Model roles")
    set_role.add_argument("tenant")
    set_role.add_argument("role", help="the Customer Supplied Role (the SCIM group's displayName)")
    set_role.add_argument("--data-access", action="append", help="Data Access Role(s), comma-separated or repeated")
    set_role.add_argument("--application-access", action="append", help="Application Access Role(s)")
    show = roles.add_parser("show", help="show one mapping, or all of the tenant's")
    show.add_argument("tenant")
    show.add_argument("role", nargs="?")
    delete = roles.add_parser("delete", help="delete a mapping")
    delete.add_argument("tenant")
    delete.add_argument("role")
    load = roles.add_parser("import", help="set mappings from a CSV file (customer_supplied_role, ...)")
    load.add_argument("tenant")
    load.add_argument("file", type=Path)
    catalogue.add_parsers(roles)

    backups = commands.add_parser("backup", help="export and restore").add_subparsers(dest="action", required=True)
    export = backups.add_parser("export", help="users with their roles, and the role mappings")
    export.add_argument("tenant")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--output", type=Path, required=True, help="a .json file, or a directory for csv")
    restore = backups.add_parser("restore-roles", help="restore the role mappings from a backup")
    restore.add_argument("tenant")
    restore.add_argument("path", type=Path, help="a JSON backup, a CSV backup directory or role_mappings.csv")
    trail = commands.add_parser("activity", help="what the tenant's IdP changed or was refused, newest first")
    trail.add_argument("tenant")
    target = trail.add_mutually_exclusive_group()
    target.add_argument("--user", help="one user: its userName or id")
    target.add_argument("--group", help="one group: its displayName or id")
    trail.add_argument("--since", help="30m, 24h, 7d, or an ISO 8601 date (default: the whole retention)")
    only = trail.add_mutually_exclusive_group()
    only.add_argument("--errors", action="store_true", help="refused requests only (4xx other than 401)")
    only.add_argument(
        "--ignored",
        action="store_true",
        help="writes whose body held attributes no schema defines (an IdP mapping to fix), with their names",
    )
    trail.add_argument("--limit", type=int, default=50, help="at most this many entries (default 50)")
    trail.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    published = commands.add_parser(
        "events",
        help="the provisioning events published for the tenant: make run's, or the stage's operators' queue",
    )
    published.add_argument("tenant")
    published.add_argument("--since", help="30m, 24h, 7d, or an ISO 8601 date (default: all kept)")
    published.add_argument("--json", action="store_true", help="one JSON object a line, as published")
    published.add_argument("--follow", action="store_true", help="keep showing new events until Ctrl-C")
    state = commands.add_parser("status", help="is provisioning working? credential, last write, errors, roles")
    state.add_argument("tenant")
    state.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    policy = commands.add_parser("password-policy", help="the tenant's password policy").add_subparsers(
        dest="action", required=True
    )
    policy.add_parser("show", help="the policy in force").add_argument("tenant")
    policy.add_parser("reset", help="back to the stage's default").add_argument("tenant")
    set_policy = policy.add_parser("set", help="set any of its rules; the others keep their value")
    set_policy.add_argument("tenant")
    set_policy.add_argument("--min-length", type=int, help="in user-perceived characters")
    set_policy.add_argument("--max-length", type=int)
    set_policy.add_argument("--min-classes", type=int, help="of: lowercase, uppercase, digit, symbol (0-4)")
    source = commands.add_parser(
        "role-source", help="where Customer Supplied Roles come from at sign-in (docs/reference/role-source.md)"
    ).add_subparsers(dest="action", required=True)
    source.add_parser("show", help="scim-groups (default) or saml-attribute").add_argument("tenant")
    set_source = source.add_parser("set", help="choose the role source")
    set_source.add_argument("tenant")
    set_source.add_argument("source", choices=["scim-groups", "saml-attribute"])
    set_source.add_argument("--attribute", help="the SAML attribute whose values are the roles (saml-attribute)")
    names_parser = commands.add_parser("names", help="userName and displayName claims").add_subparsers(
        dest="action", required=True
    )
    rekey_names = names_parser.add_parser(
        "rekey", help="file every userName/displayName claim under its canonical form (idempotent)"
    )
    rekey_names.add_argument("--tenant", help="one tenant (default: every tenant of the stage)")
    rekey_names.add_argument("--dry-run", action="store_true", help="report what would move, write nothing")
    email_index = commands.add_parser("emails", help="the email pointers of lookups by email").add_subparsers(
        dest="action", required=True
    )
    email_index.add_parser(
        "backfill", help="give every user its email pointers, then mark the tenant complete (resumable)"
    ).add_argument("tenant")
    limits.add_parser(commands)
    checking = commands.add_parser("check", help="verify the tenant's data (uniqueness claims, memberships, versions)")
    checking.add_argument("tenant")
    checking.add_argument("--repair", action="store_true", help="delete leftovers, set stale member displays")
    return parser


def _print_mapping(mapping: RoleMapping) -> None:
    say(
        f"{mapping.customer_supplied_role}: data access = {', '.join(mapping.data_access_roles) or '-'}; "
        f"application access = {', '.join(mapping.application_access_roles) or '-'}"
    )


def run(args: argparse.Namespace) -> int:
    tenant = getattr(args, "tenant", None)
    if tenant is not None and not valid_tenant_name(tenant):
        raise CredentialError(f"{tenant[:64]!r} is not a tenant name: {TENANT_NAME_RULE}.")
    config = settings()
    if args.command == "events":
        return events.events_command(config, args.tenant, args.since, args.json, args.follow, args.stage is not None)
    client = dynamodb(config)
    management = Management(client, config, known_tenants_only=False)
    actor = Actor(args.actor or f"operator:{getpass.getuser()}", "cli")
    if args.command == "tenant":
        account = management.create_tenant(args.tenant, args.name, actor)
        say(
            f"Service account {account.account_id} for tenant {args.tenant!r}: {', '.join(sorted(account.permissions))}"
        )
        limits.give_key(config, args.tenant)
        return 0
    if args.command == "credentials":
        if args.action == "generate":
            issued = management.generate_credential(args.tenant, args.description, actor)
            say(f"SCIM_CLIENT_ID={issued.client_id}")
            say(f"SCIM_CLIENT_SECRET={issued.client_secret}")
            say(f"SCIM_BEARER_TOKEN={issued.bearer_token}")
            say(
                "WARNING: the secret is shown once and cannot be shown again; paste it into the IdP now.",
                file=sys.stderr,
            )
        elif args.action == "list" and (args.tenant is None) != args.all:
            raise CredentialError("Give a tenant, or --all for every tenant's active credential.")
        elif args.action == "list" and args.all:
            say("tenant", "client_id", "created", "last_used", "description", sep="\t")
            for active in CredentialStore(client, config.credentials_table).active_credentials():
                say(
                    active.tenant,
                    active.client_id,
                    active.created,
                    active.last_used or "never",
                    active.description,
                    sep="\t",
                )
        elif args.action == "list":
            say("client_id", "created", "state", "last_used", "refused_24h", "description", sep="\t")
            for credential in management.list_credentials(args.tenant):
                state = f"revoked {credential.revoked}" if credential.revoked else "active"
                say(
                    credential.client_id,
                    credential.created,
                    state,
                    credential.last_used or "never",
                    credential.refused_24h,
                    credential.description,
                    sep="\t",
                )
        else:
            management.revoke_credential(None, args.client_id, actor)
            say(f"Revoked {args.client_id}; requests presenting it are refused (on AWS within the authorizer TTL).")
        return 0
    if args.command in ("activity", "status"):
        return _activity(args, management)
    if args.command == "limits":
        return limits.run(args, config)
    if args.command == "password-policy":
        return password_policy.run(args, management, actor)
    if args.command == "role-source":
        if args.action == "set":
            management.set_role_source(args.tenant, args.source, args.attribute, actor)
        chosen = management.role_source(args.tenant)
        say(f"{args.tenant}: {chosen.source}" + (f" (SAML attribute {chosen.attribute!r})" if chosen.attribute else ""))
        return 0
    if args.command == "emails":
        return emails.backfill(client, config, args.tenant)
    if args.command == "names":
        return names.rekey_stage(client, config, args.tenant, args.dry_run)
    if args.command == "check":
        report = invariants.check(client, config.users_table, config.groups_table, args.tenant)
        say(f"{report.users} users, {report.groups} groups, {report.memberships} memberships checked")
        for violation in report.violations:
            say(f"VIOLATION: {violation}")
        if report.garbage:
            say(f"{len(report.garbage)} memberships of deleted groups (invisible to SCIM clients)")
        if report.stale:
            say(
                f"{len(report.stale)} memberships whose members.display is not the user's current userName, "
                "or not filed under its userName key"
            )
        if args.repair and (report.garbage or report.stale):
            written = invariants.repair(client, config.groups_table, report)
            say(f"Repaired {written} memberships ({len(report.garbage)} deleted, {len(report.stale)} renamed)")
        return 0 if report.ok else 1
    mappings = management.mappings(args.tenant)
    if args.command == "roles":
        if args.action == "catalogue":
            return catalogue.run(args, management, actor)
        if args.action == "set":
            _print_mapping(
                management.set_mapping(
                    args.tenant,
                    RoleMapping(args.role, _roles(args.data_access), _roles(args.application_access)),
                    actor,
                )
            )
        elif args.action == "show":
            shown = [mappings.get(args.role)] if args.role else list(mappings.all())
            if shown == [None]:
                say(f"No mapping for {args.role!r}", file=sys.stderr)
                return 1
            for found in shown:
                assert found is not None
                _print_mapping(found)
        elif args.action == "delete":
            try:
                management.delete_mapping(args.tenant, args.role, actor)
            except ManagementError:
                say(f"No mapping for {args.role!r}", file=sys.stderr)
                return 1
            say(f"Deleted the mapping of {args.role!r}")
        else:
            loaded = backup.read_mappings(args.file)
            for mapping in loaded:
                management.set_mapping(args.tenant, mapping, actor)
            say(f"Set {len(loaded)} role mappings from {args.file}")
        return 0
    if args.action == "export":
        users = UserTable(client, config.users_table, args.tenant)
        groups = GroupTable(client, config.groups_table, args.tenant)
        count = backup.export(args.tenant, users, groups, mappings, args.output, args.format)
        say(f"Exported {count} users and the role mappings of {args.tenant!r} to {args.output}")
        return 0
    restored = backup.read_mappings(args.path)
    for mapping in restored:
        management.set_mapping(args.tenant, mapping, actor)
    say(f"Restored {len(restored)} role mappings of {args.tenant!r} from {args.path}")
    return 0


def _activity(args: argparse.Namespace, management: Management) -> int:
    if args.command == "status":
        report = management.status(args.tenant)
        if args.json:
            say_json(report)
        else:
            activity.print_status(report)
        return 1 if report["problems"] else 0
    entries = management.activity(
        args.tenant,
        user=args.user,
        group=args.group,
        since=args.since,
        errors=args.errors,
        ignored=args.ignored,
        limit=args.limit,
    )
    if args.json:
        say_json([activity.entry_json(entry) for entry in entries])
    else:
        for entry in entries:
            say(activity.line(entry))
        if not entries:
            say("No activity kept for this selection.", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        where = use_stage(args.stage) if args.stage else use_local_store()
        say(f"# {where}", file=sys.stderr)
        return run(args)
    except (TargetError, CredentialError, ManagementError, ValueError, OSError) as error:
        say(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
