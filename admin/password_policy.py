"""``python -m admin password-policy``: a tenant's password policy, to match the IdP's.

Okta, for instance, syncs passwords its own policy accepted (its documented sample ``1mz050nq!Aa``
has 11 characters): a tenant whose IdP enforces 8 sets ``--min-length 8``.
"""

from typing import Any

from admin.terminal import say
from chalicelib.management.errors import ManagementError
from chalicelib.management.operations import Actor, Management


def run(args: Any, management: Management, actor: Actor) -> int:
    current, own = management.password_policy(args.tenant)
    if args.action == "show":
        say(f"{args.tenant}: {current.describe()} ({'its own' if own else 'the stage default'})")
        return 0
    if args.action == "reset":
        default = management.reset_password_policy(args.tenant, actor)
        say(f"{args.tenant}: back to the stage's default: {default.describe()}")
        return 0
    try:
        wanted = management.set_password_policy(args.tenant, actor, args.min_length, args.max_length, args.min_classes)
    except ManagementError as error:
        say(f"error: {error}")
        return 2
    say(f"{args.tenant}: {wanted.describe()}")
    say("Passwords already set are not re-checked (only their hash is kept); the policy applies to the next one.")
    return 0
