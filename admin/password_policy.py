"""``python -m admin password-policy``: a tenant's password policy, to match the IdP's.

Okta, for instance, syncs passwords its own policy accepted (its documented sample ``1mz050nq!Aa``
has 11 characters): a tenant whose IdP enforces 8 sets ``--min-length 8``.
"""

from typing import Any

from admin.terminal import say
from chalicelib.config import Settings
from chalicelib.provisioning.passwords import PasswordPolicy
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.password_policies import PasswordPolicyTable, StoredPasswordPolicy


def run(args: Any, client: DynamoDBClient, config: Settings) -> int:
    table = PasswordPolicyTable(client, config.role_mappings_table, args.tenant)
    default = PasswordPolicy.from_settings(config)
    stored = table.get()
    current = PasswordPolicy.of_tenant(stored, default)
    if args.action == "show":
        say(f"{args.tenant}: {current.describe()} ({'its own' if stored else 'the stage default'})")
        return 0
    if args.action == "reset":
        table.delete()
        say(f"{args.tenant}: back to the stage's default: {default.describe()}")
        return 0
    wanted = PasswordPolicy(
        min_length=current.min_length if args.min_length is None else args.min_length,
        max_length=current.max_length if args.max_length is None else args.max_length,
        min_character_classes=current.min_character_classes if args.min_classes is None else args.min_classes,
    )
    problems = wanted.problems()
    if problems:
        say(f"error: nothing changed: {'; '.join(problems)}")
        return 2
    table.put(StoredPasswordPolicy(wanted.min_length, wanted.max_length, wanted.min_character_classes))
    say(f"{args.tenant}: {wanted.describe()}")
    say("Passwords already set are not re-checked (only their hash is kept); the policy applies to the next one.")
    return 0
