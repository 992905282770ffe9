"""A user's roles just before and just after one change, from the change and the user's other groups now.

A membership, a group's name or a role mapping changes; the user's other groups and the other
mappings are read as they are now (:class:`~chalicelib.resources.user_groups.GroupReader`, the
reads a SCIM GET of the user makes), and the change is applied to them both ways. The roles are
the product's one rule (:func:`chalicelib.resources.roles.user_roles`), so an event says what a
SCIM GET of the user says. Users are read 100 at a time (a role mapping of a large group).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.resources.roles import UserRoles, user_roles
from chalicelib.resources.user_groups import GroupReader
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, role_key

USERS_AT_ONCE = 100


@dataclass(frozen=True)
class RolesBeforeAfter:
    user_id: str
    before: UserRoles | None
    """None when the change's group is gone and its name unknown (see :mod:`.changes`)."""
    after: UserRoles

    @property
    def changed(self) -> bool:
        return self.before != self.after


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


class RoleReader:
    """Reads what one tenant's users' roles depend on."""

    def __init__(self, groups: GroupTable, role_mappings: RoleMappingTable) -> None:
        self.groups = groups
        self.role_mappings = role_mappings
        self.reader = GroupReader(groups, role_mappings)

    def for_group_change(self, user_ids: Sequence[str], change: GroupChange) -> Iterator[RolesBeforeAfter]:
        """Each user's roles with the group as ``name_before`` says, then as ``name_after`` says."""
        for chunk in _chunks(user_ids):
            for user_id, others, mappings in self._current(chunk, {change.group_id}, change):
                before = _with(others, change.group_id, change.name_before)
                after = _with(others, change.group_id, change.name_after)
                known = user_roles(before.values(), mappings) if change.before_known else None
                yield RolesBeforeAfter(user_id, known, user_roles(after.values(), mappings))

    def for_mapping_change(self, user_ids: Sequence[str], change: MappingChange) -> Iterator[RolesBeforeAfter]:
        """Each user's roles under the mapping before, then after; their groups as they are now."""
        key = role_key(change.customer_supplied_role)
        for chunk in _chunks(user_ids):
            for user_id, groups, mappings in self._current(chunk, set(), None):
                others = [mapping for mapping in mappings if role_key(mapping.customer_supplied_role) != key]
                names = groups.values()
                yield RolesBeforeAfter(
                    user_id,
                    user_roles(names, [*others, *_listed(change.before)]),
                    user_roles(names, [*others, *_listed(change.after)]),
                )

    def _current(
        self, user_ids: Sequence[str], excluded: set[str], change: GroupChange | None
    ) -> Iterator[tuple[str, dict[str, str], list[RoleMapping]]]:
        """Each user's groups now (id -> name, without ``excluded``) and the mappings of every name involved."""
        _, found = self.reader.named(self.reader.ids_of(user_ids))
        mappings = list(found.mappings)
        known = {role_key(mapping.customer_supplied_role) for mapping in mappings}
        names = {name for groups in found.by_user.values() for _, name in groups}
        if change is not None:
            names |= {name for name in (change.name_before, change.name_after) if name is not None}
        missing = sorted(name for name in names if role_key(name) not in known)
        if missing:
            mappings += self.role_mappings.get_many(missing)
        for user_id in user_ids:
            groups = {gid: name for gid, name in found.by_user.get(user_id, []) if gid not in excluded}
            yield user_id, groups, mappings


def _with(groups: Mapping[str, str], group_id: str, name: str | None) -> dict[str, str]:
    return {**groups, group_id: name} if name is not None else dict(groups)


def _listed(mapping: RoleMapping | None) -> list[RoleMapping]:
    return [mapping] if mapping is not None else []


def _chunks(user_ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(user_ids), USERS_AT_ONCE):
        yield user_ids[start : start + USERS_AT_ONCE]
