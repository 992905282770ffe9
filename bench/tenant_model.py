"""The model tenant and how each IdP drives it: the assumptions the tenant cost (:mod:`bench.cost`) rests on.

Every figure here is an assumption, stated so that it can be argued with; the operation names are the
bench's (:mod:`bench.operations`), whose measured cost prices each request.

- **Entra ID**: after the initial cycle, an incremental cycle about every 40 minutes processes only what
  changed since the last; for each changed user it matches by ``userName eq`` then sends a PATCH (a new
  user: the filter, then POST; a leaver: PATCH ``active: false``); group memberships go as member PATCHes.
- **Okta**: pushes each change as it happens: a profile update is a GET of the user then a PUT; a new user
  a ``userName eq`` then POST; a deactivation a PATCH; group push a member PATCH per change.
- **Initial import** (either IdP): each user matched then created; each group created with its first
  members (as many as the bench's group create carries, 100), the rest added in member PATCHes of the
  bench's batch (100).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

GROUP_CREATE = "create_group_{}"
MEMBER_BATCH = "patch_group_add_{}"
""":mod:`bench.operations` names these by how many members they carry (100 in ``make bench``)."""


@dataclass(frozen=True)
class Tenant:
    users: int = 10_000
    groups: int = 100
    memberships_per_user: int = 3
    joiners_a_month: int = 200
    """2% of the users join each month..."""
    leavers_a_month: int = 200
    """...and as many leave (deactivated, kept)."""
    updates_a_month: int = 2_000
    """Profile changes (title, manager, name): one user in five each month."""
    membership_changes_a_month: int = 600
    """Group membership adds and removes beyond the joiners' own, half each."""
    entra_cycle_minutes: int = 40
    okta_cold_start_every_minutes: int = 15
    """Okta's pushes come one by one during working hours; a function left idle longer than this is taken
    as cold (Lambda does not document how long it keeps an idle environment)."""
    working_hours_a_month: int = 22 * 10
    import_requests_per_second: float = 5.0
    """How fast an IdP's initial import sends requests: it decides how many minutes the authorizer's cache spans."""

    @property
    def changes(self) -> int:
        return self.joiners_a_month + self.leavers_a_month + self.updates_a_month + self.membership_changes_a_month

    @property
    def memberships(self) -> int:
        return self.users * self.memberships_per_user

    def described(self) -> dict[str, float]:
        return asdict(self)


TENANT = Tenant()


@dataclass(frozen=True)
class Pattern:
    name: str
    description: str
    operations: Callable[[Tenant, int, int], dict[str, int]]
    """How many of each bench operation, given the members of the bench's group create and member batch."""
    authorizer_invocations: Callable[[Tenant], int]
    """API Gateway caches an allow for 60 s: one invocation per minute a credential is in use."""
    cold_starts: Callable[[Tenant], int]
    """Of each function (the route and the authorizer)."""


def _entra(t: Tenant, group_members: int, batch: int) -> dict[str, int]:
    return {
        "filter_user_name": t.joiners_a_month + t.leavers_a_month + t.updates_a_month,
        "create_user": t.joiners_a_month,
        "patch_user": t.leavers_a_month + t.updates_a_month,
        "patch_group_add_member": t.joiners_a_month * t.memberships_per_user + t.membership_changes_a_month // 2,
        "patch_group_remove_member": t.membership_changes_a_month // 2,
    }


def _okta(t: Tenant, group_members: int, batch: int) -> dict[str, int]:
    return {
        "filter_user_name": t.joiners_a_month,
        "create_user": t.joiners_a_month,
        "get_user": t.updates_a_month,
        "put_user": t.updates_a_month,
        "patch_user": t.leavers_a_month,
        "patch_group_add_member": t.joiners_a_month * t.memberships_per_user + t.membership_changes_a_month // 2,
        "patch_group_remove_member": t.membership_changes_a_month // 2,
    }


def _import(t: Tenant, group_members: int, batch: int) -> dict[str, int]:
    in_creates = t.groups * group_members
    return {
        "filter_user_name": t.users + t.groups,
        "create_user": t.users,
        GROUP_CREATE.format(group_members): t.groups,
        MEMBER_BATCH.format(batch): -(-max(0, t.memberships - in_creates) // batch),
    }


def _cycles(t: Tenant) -> int:
    return 30 * 24 * 60 // t.entra_cycle_minutes


def _import_minutes(t: Tenant) -> int:
    return max(1, round(t.users * 2 / t.import_requests_per_second / 60))


PATTERNS = (
    Pattern(
        "entra_incremental",
        "Entra ID, a month of incremental cycles every 40 minutes (each cycle: one authorizer call, cold starts)",
        _entra,
        _cycles,
        _cycles,
    ),
    Pattern(
        "okta_push",
        "Okta, a month of pushes as changes happen (each change: one authorizer call)",
        _okta,
        lambda t: t.changes,
        lambda t: min(t.changes, t.working_hours_a_month * 60 // t.okta_cold_start_every_minutes),
    ),
    Pattern(
        "initial_import",
        "the initial import of the tenant, once (either IdP)",
        _import,
        _import_minutes,
        lambda t: 1,
    ),
)
