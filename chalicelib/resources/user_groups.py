"""What a user's groups decide, read in as few round trips as the reads allow.

A user's ``groups`` and the product extension's effective roles are not stored on the user: they
come from its memberships (the ``byMember`` index), its groups' names, and the tenant's role
mappings (:mod:`.roles` gives the one rule). The memberships need only the user's id, so callers
read them beside the user's item; the groups' names and the role mappings then go out together,
beside the write when there is one. The tenant's mappings are read whole when it has at most
:data:`MAPPINGS_READ_WHOLE`, since their keys, the groups' names, are not known yet, in one query
with its role source and group-names generation; a tenant with more reads those of the users'
groups by key once the names are in (one more trip).

A read by id needs nothing but the id for that query either, so it goes out in the first trip
too (:meth:`GroupReader.tenant_settings`); the groups' names then come from those the container
kept, brought up to the tenant's group-names generation (:mod:`.group_names`), and only the others
cost a second trip (:meth:`GroupReader.named_after`).

``userName eq`` knows no id before its claim is read, so its memberships are read by userName key
beside the claim (the ``byMemberName`` index) and named with the user's item; the memberships read
by id in that same trip check the prediction: a group it missed costs a third trip, a group it
named wrongly is dropped, so a stale prediction never shows a wrong group or role.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from chalicelib.resources.group_names import CONTAINER, GroupNames
from chalicelib.store.groups import GroupRecord, GroupTable
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, RoleSettings
from chalicelib.store.role_sources import RoleSource, RoleSourceTable
from chalicelib.store.waves import together

MAPPINGS_READ_WHOLE = 100


@dataclass(frozen=True)
class UserGroups:
    """What the groups of some users decide: each one's groups as (id, displayName), and the roles' mappings."""

    by_user: Mapping[str, list[tuple[str, str]]]
    mappings: Sequence[RoleMapping]
    role_source: RoleSource = field(default_factory=RoleSource)
    """The tenant's: with ``saml-attribute``, the groups grant no role (roles come at each sign-in)."""


class GroupIds(dict[str, list[str]]):
    """Group ids by user id, read beside the users, for the resources built next in the same call; ``named``,
    when their groups' names and the roles were read in the same trips too."""

    named: UserGroups | None = None
    tenant: RoleSettings | None = None
    """The tenant's role settings, when they were read in the users' first trip: the groups are named by them."""


class GroupReader:
    """Reads the groups of users for one tenant."""

    def __init__(self, groups: GroupTable, role_mappings: RoleMappingTable, kept: GroupNames = CONTAINER) -> None:
        self.groups = groups
        self.role_mappings = role_mappings
        self.role_sources = RoleSourceTable(role_mappings.client, role_mappings.table, role_mappings.tenant)
        self.kept = kept

    def ids_of(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """The group ids of each user: one ``byMember`` query per user, all at once."""
        found = together(*(partial(self.groups.group_ids_of, user_id) for user_id in user_ids))
        return dict(zip(user_ids, found, strict=True))

    def named(
        self, group_ids: Mapping[str, list[str]], beside: Callable[[], Any] | None = None
    ) -> tuple[Any, UserGroups]:
        """The groups' names, the role mappings and the tenant's role source of users whose group ids are known,
        in one round trip, with ``beside`` (a write) made at the same time; returns what ``beside`` returned,
        and the groups.

        Memberships of deleted groups are ignored.
        """
        wanted = [group_id for ids in group_ids.values() for group_id in ids]
        result, live, tenant = together(
            beside or (lambda: None), partial(self.groups.get_many, wanted), partial(self.tenant_settings, bool(wanted))
        )
        return result, self._user_groups(group_ids, live, tenant)

    def tenant_settings(self, mappings: bool = True) -> RoleSettings:
        """The tenant's role source and group-names generation and, with ``mappings``, its mappings when few: one
        query, which needs nothing a request has to read first."""
        return self.role_mappings.with_settings(MAPPINGS_READ_WHOLE, mappings)

    def named_after(
        self, group_ids: Mapping[str, list[str]], tenant: RoleSettings, beside: Callable[[], Any] | None = None
    ) -> tuple[Any, UserGroups]:
        """The groups of users whose group ids were read beside ``tenant`` (:meth:`tenant_settings`), with ``beside``
        (a write) made meanwhile: the names the container kept, brought up to the tenant's group-names generation,
        and the others read beside ``beside`` (and kept for the next reads). Returns what ``beside`` returned, and the
        groups."""
        wanted = list(dict.fromkeys(group_id for ids in group_ids.values() for group_id in ids))
        known = self._kept(tenant, wanted)
        result, read = together(beside or (lambda: None), partial(self._read_names, tenant, wanted, known))
        return result, self._named(group_ids, {**known, **read}, tenant)

    def _kept(self, tenant: RoleSettings, group_ids: Sequence[str]) -> dict[str, str]:
        return self.kept.known(self._scope(), tenant.group_names, group_ids)

    def _read_names(self, tenant: RoleSettings, wanted: Sequence[str], known: Mapping[str, str]) -> dict[str, str]:
        """The names of the groups not ``known``, read after ``tenant`` was (so kept for its generation): no call
        when there are none."""
        missing = [group_id for group_id in wanted if group_id not in known]
        if not missing:
            return {}
        read = {record.id: record.display_name for record in self.groups.get_many(missing).values()}
        self.kept.keep(self._scope(), tenant.group_names.generation, read)
        return read

    def _scope(self) -> tuple[str, str, str]:
        return (self.groups.table, self.role_mappings.table, self.groups.tenant)

    def named_predicted(
        self, user_id: str, predicted: Sequence[str], tenant: RoleSettings, beside: Callable[[], Any]
    ) -> tuple[Any, list[str], UserGroups]:
        """The groups of a user whose group ids were predicted before its id was known, beside ``tenant`` (read in
        that first trip), named in the trip that makes ``beside`` (reading the user), and checked against its
        memberships read by id in that same trip; returns what ``beside`` returned, the user's group ids and its
        groups."""
        known = self._kept(tenant, predicted)
        result, actual, read = together(
            beside, partial(self.groups.group_ids_of, user_id), partial(self._read_names, tenant, predicted, known)
        )
        names = {**known, **read}
        if not set(actual) <= set(predicted):  # a group the prediction missed: its name is one more trip
            names.update(self._read_names(tenant, [group_id for group_id in actual if group_id not in names], {}))
        return result, actual, self._named({user_id: actual}, names, tenant)

    def _user_groups(
        self, group_ids: Mapping[str, list[str]], live: Mapping[str, GroupRecord], tenant: RoleSettings
    ) -> UserGroups:
        return self._named(group_ids, {group_id: record.display_name for group_id, record in live.items()}, tenant)

    def _named(self, group_ids: Mapping[str, list[str]], names: Mapping[str, str], tenant: RoleSettings) -> UserGroups:
        by_user = {
            user_id: sorted(((gid, names[gid]) for gid in ids if gid in names), key=lambda g: g[1].lower())
            for user_id, ids in group_ids.items()
        }
        mappings = tenant.mappings
        if mappings is None:  # too many to read whole (or not read, for no group): those of these groups, by key
            mappings = self.role_mappings.get_many(sorted({name for groups in by_user.values() for _, name in groups}))
        return UserGroups(by_user, mappings, tenant.role_source)
