"""``python -m admin emails backfill <tenant>``: give a tenant's users their email pointers, then let lookups by
email trust them (docs/operations/admin-cli.md). Resumable: a run stopped half-way goes on where it stopped."""

from admin.terminal import say
from chalicelib.config import Settings
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.users import UserTable


def backfill(client: DynamoDBClient, config: Settings, tenant: str) -> int:
    users = UserTable(client, config.users_table, tenant)
    if users.emails.complete():
        say(f"{tenant}: email pointers complete; nothing to do")
        return 0

    def progress(done: int, total: int) -> None:
        say(f"{tenant}: {done:,} of {total:,} users have their email pointers")

    covered = users.backfill_emails(progress)
    say(f"{tenant}: email pointers complete ({covered:,} users this run); lookups by email now use them")
    return 0
