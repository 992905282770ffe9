"""``python -m admin names rekey``: file a stage's userName and displayName claims under their canonical form.

Run it once per stage after deploying the release that introduced the canonical form (docs/design/reliability.md,
"One canonical userName"), first with ``--dry-run``. It is idempotent: a second run moves nothing.
"""

from admin.terminal import say
from chalicelib.canonical import display_name_key, user_name_key
from chalicelib.config import Settings
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.rekey import DISPLAY_NAMES, USER_NAMES, rekey


def rekey_stage(client: DynamoDBClient, config: Settings, tenant: str | None, dry_run: bool) -> int:
    """Print what moved (or would move), what keeps its old key and why; 1 when a conflict is left."""
    conflicts = 0
    for table, kind, new_key in (
        (config.users_table, USER_NAMES, user_name_key),
        (config.groups_table, DISPLAY_NAMES, display_name_key),
    ):
        report = rekey(client, table, kind, new_key, tenant=tenant, dry_run=dry_run)
        verb = "would move" if dry_run else "moved"
        say(
            f"{kind.attribute}: {report.checked} checked, {len(report.moved)} {verb}, "
            f"{len(report.refused)} kept (refused), {len(report.conflicts)} conflicts"
        )
        for line in report.moved:
            say(f"  {verb}: {line}")
        for line in report.refused:
            say(f"  kept: {line}")
        for line in report.conflicts:
            say(f"  CONFLICT: {line}")
        conflicts += len(report.conflicts)
    return 1 if conflicts else 0
