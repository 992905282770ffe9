"""A user's roles just before and just after one change, as a SCIM GET of the user says them.

A membership, a group's name, a role mapping or the user's direct grants change; everything else the
user's roles depend on (its other groups, the other mappings, its grants, the tenant's role source) is
read as it is now (:class:`~chalicelib.resources.user_groups.GroupReader`, the reads a SCIM GET of the
user makes), and the change is applied to it both ways. The roles are the product's one rule
(:func:`chalicelib.resources.roles.user_roles`), direct grants (``roles``, ``entitlements``) included.
With the role source ``saml-attribute`` a user's roles are decided at each sign-in and a SCIM GET shows
none: those changes move no role then. A switch of the role source itself moves every user's roles to,
or from, "decided at sign-in" (None). Users are read 100 at a time.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice

from chalicelib.resources.roles import UserRoles, held, user_roles
from chalicelib.resources.user_groups import GroupReader
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, role_key
from chalicelib.store.role_sources import SCIM_GROUPS
from chalicelib.store.users import UserRecord, UserTable

USERS_AT_ONCE = 100


@dataclass(frozen=True)
class RolesBeforeAfter:
    user_id: str
    user_name: str
    before: UserRoles | None
    """None when the change's group is gone and its name unknown (see :mod:`.changes`), or when the roles were
    decided at each sign-in (a switch from the role source ``saml-attribute``)."""
    after: UserRoles | None
    """None when the roles are decided at each sign-in from now on (a switch to ``saml-attribute``)."""

    @property
    def changed(self) -> bool:
        """Whether an event would show a change: the three lists, not where each role comes from."""
        return _shown(self.before) != _shown(self.after)


def _shown(roles: UserRoles | None) -> tuple[list[str], ...] | None:
    if roles is None:
        return None
    return roles.customer_supplied_roles, roles.data_access_roles, roles.application_access_roles


@dataclass(frozen=True)
class GroupChange:
    """One group's part in each of some users' roles: its name before and after (None: not a member)."""

    group_id: str
    name_before: str | None
    name_after: str | None
    before_known: bool = True
    """False for a membership of a deleted group whose name this consumer did not see."""


@dataclass(frozen=True)
class MappingChange:
    """A role mapping before and after (None: there was none, or it was deleted)."""

    customer_supplied_role: str
    before: RoleMapping | None
    after: RoleMapping | None


@dataclass(frozen=True)
class _Current:
    """One user as its roles stand now: its record, its groups (id -> name), the mappings of every name involved."""

    user: UserRecord
    groups: dict[str, str]
    mappings: list[RoleMapping]


class RoleReader:
    """Reads what one tenant's users' roles depend on."""

    def __init__(self, users: UserTable, groups: GroupTable, role_mappings: RoleMappingTable) -> None:
        self.users = users
        self.reader = GroupReader(groups, role_mappings)
        self.role_mappings = role_mappings

    def for_group_change(self, user_ids: Sequence[str], change: GroupChange) -> Iterator[RolesBeforeAfter]:
        """Each user's roles with the group as ``name_before`` says, then as ``name_after`` says."""
        named = {name for name in (change.name_before, change.name_after) if name is not None}
        for current in self._current(user_ids, {change.group_id}, named):
            before = _with(current.groups, change.group_id, change.name_before)
            after = _with(current.groups, change.group_id, change.name_after)
            known = _roles(before.values(), current.mappings, current.user) if change.before_known else None
            yield _moved(current.user, known, _roles(after.values(), current.mappings, current.user))

    def for_mapping_change(self, user_ids: Sequence[str], change: MappingChange) -> Iterator[RolesBeforeAfter]:
        """Each user's roles under the mapping before, then after; their groups as they are now."""
        key = role_key(change.customer_supplied_role)
        for current in self._current(user_ids):
            others = [mapping for mapping in current.mappings if role_key(mapping.customer_supplied_role) != key]
            names = current.groups.values()
            yield _moved(
                current.user,
                _roles(names, [*others, *_listed(change.before)], current.user),
                _roles(names, [*others, *_listed(change.after)], current.user),
            )

    def for_grants_change(self, before: UserRecord | None, after: UserRecord) -> Iterator[RolesBeforeAfter]:
        """The user's roles with its direct grants before (none for a new user), then after; its groups as now."""
        for current in self._current([after.id], records={after.id: after}):
            names = current.groups.values()
            yield _moved(after, _roles(names, current.mappings, before), _roles(names, current.mappings, after))

    def for_role_source_change(self, to_scim_groups: bool) -> Iterator[RolesBeforeAfter]:
        """Every user of the tenant: its roles by its groups and grants on one side, None (sign-in) on the other."""
        users = iter(self.users.all())
        while chunk := list(islice(users, USERS_AT_ONCE)):
            records = {user.id: user for user in chunk}
            for current in self._current(list(records), records=records, any_source=True):
                roles = _roles(current.groups.values(), current.mappings, current.user)
                yield _moved(current.user, None if to_scim_groups else roles, roles if to_scim_groups else None)

    def _current(
        self,
        user_ids: Sequence[str],
        excluded: set[str] | None = None,
        named: set[str] | None = None,
        records: Mapping[str, UserRecord] | None = None,
        any_source: bool = False,
    ) -> Iterator[_Current]:
        """Each user that exists as its roles stand now, its groups without ``excluded``, and the mappings of every
        group name involved (``named`` too). Nothing while the tenant's role source is not ``scim-groups``, unless
        ``any_source``."""
        for chunk in _chunks(user_ids):
            read = (lambda: records) if records is not None else partial(self.users.get_many, chunk)
            users, found = self.reader.named(self.reader.ids_of(chunk), beside=read)
            if found.role_source.source != SCIM_GROUPS and not any_source:
                return
            mappings = list(found.mappings)
            known = {role_key(mapping.customer_supplied_role) for mapping in mappings}
            names = {name for groups in found.by_user.values() for _, name in groups} | (named or set())
            missing = sorted(name for name in names if role_key(name) not in known)
            if missing:
                mappings += self.role_mappings.get_many(missing)
            for user_id in chunk:
                if user_id not in users:  # a membership of a user that is gone has no roles to change
                    continue
                groups = {gid: name for gid, name in found.by_user.get(user_id, []) if gid not in (excluded or set())}
                yield _Current(users[user_id], groups, mappings)


def _roles(group_names: Iterable[str], mappings: Sequence[RoleMapping], user: UserRecord | None = None) -> UserRoles:
    """:func:`user_roles` of a user in these groups, with its direct grants (none without a user)."""
    if user is None:
        return user_roles(group_names, mappings)
    return user_roles(group_names, mappings, held(user.document, "roles"), held(user.document, "entitlements"))


def _moved(user: UserRecord, before: UserRoles | None, after: UserRoles | None) -> RolesBeforeAfter:
    return RolesBeforeAfter(user.id, user.user_name, before, after)


def _with(groups: Mapping[str, str], group_id: str, name: str | None) -> dict[str, str]:
    return {**groups, group_id: name} if name is not None else dict(groups)


def _listed(mapping: RoleMapping | None) -> list[RoleMapping]:
    return [mapping] if mapping is not None else []


def _chunks(user_ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(user_ids), USERS_AT_ONCE):
        yield user_ids[start : start + USERS_AT_ONCE]
