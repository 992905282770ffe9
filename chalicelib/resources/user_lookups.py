"""The key reads of a user search (``id eq``, ``userName eq``, ``emails.value eq``), each with the user's groups
read in as few round trips as the keys allow.

``id eq`` reads the user, its memberships and the tenant's role settings at once; its groups' names then
come from those the container kept under the tenant's group-names generation, and any other costs a second
trip (:meth:`.GroupReader.named_after`). ``userName eq``
and ``emails.value eq`` know no id before their first read (the claim, the email pointers), so they read
beside it the memberships filed under the userName, or under the address taken as a userName (IdPs
mostly make the userName the work email): the user, those groups' names and the roles then come in
the second trip, checked there against the memberships by id (:meth:`.GroupReader.named_predicted`): a
missed group costs a third trip, a wrong one is dropped. Several users with one address take three.
"""

from collections.abc import Callable, Iterable
from functools import partial
from typing import cast

from chalicelib.resources.user_groups import GroupIds, GroupReader
from chalicelib.store.groups import GroupTable, Membership
from chalicelib.store.role_mappings import RoleSettings
from chalicelib.store.users import UserRecord, UserTable
from chalicelib.store.waves import together


class UserLookups:
    """The key reads of one tenant's user searches."""

    def __init__(
        self, users: UserTable, groups: GroupTable, group_reader: GroupReader, user_name_key: Callable[[str], str]
    ) -> None:
        self.users = users
        self.groups = groups
        self.group_reader = group_reader
        self.user_name_key = user_name_key

    def by_id(self, user_id: str, group_ids: GroupIds | None) -> UserRecord | None:
        """A user by id; given ``group_ids``, its group ids and the tenant's role settings are read in the same
        round trip (they need only the id), and its groups are added there, named."""
        if group_ids is None:
            return self.users.get(user_id)
        record, ids, tenant = together(
            partial(self.users.get, user_id),
            partial(self.groups.group_ids_of, user_id),
            self.group_reader.tenant_settings,
        )
        if record is not None:
            group_ids[record.id] = ids
            group_ids.named = self.group_reader.named_after({record.id: ids}, tenant)[1]
        return cast(UserRecord | None, record)

    def by_user_name(self, user_name: str, group_ids: GroupIds | None) -> list[UserRecord]:
        """``userName eq``: the claim names the id, then the user; given ``group_ids``, its groups beside them."""
        key = self.user_name_key(user_name)
        if group_ids is None:
            found = self.users.find_by_user_name(key)
            return [found] if found is not None else []
        user_id, filed, tenant = together(
            partial(self.users.owner_of, key),
            partial(self.groups.memberships_named, key),
            self.group_reader.tenant_settings,
        )
        if user_id is None:
            return []
        if filed is None:  # no byMemberName index yet: the user and its memberships once the claim named it
            found = self.by_id(user_id, group_ids)
            return [found] if found is not None else []
        return self._with_predicted_groups(user_id, filed, tenant, group_ids)

    def by_email(self, address: str, group_ids: GroupIds | None) -> Iterable[UserRecord]:
        """``emails.value eq``: the users the address's pointers name (every user, while the tenant's pointers
        are not complete); given ``group_ids``, their groups as for ``userName eq``."""
        emails = self.users.emails
        reads: list[Callable[[], object]] = [partial(emails.holders, address), emails.any_holders, emails.complete]
        if group_ids is not None:
            reads.append(partial(self.groups.memberships_named, self.user_name_key(address)))
            reads.append(self.group_reader.tenant_settings)
        holders, any_holders, complete, *beside = together(*reads)
        if group_ids is not None:
            group_ids.tenant = cast(RoleSettings, beside[1])
        if not complete:
            return self.users.all()
        ids = list(dict.fromkeys([*cast(list[str], holders), *cast(list[str], any_holders)]))
        if group_ids is None or not ids:
            users = self.users.get_many(ids)
            return [users[i] for i in ids if i in users]
        filed, tenant = cast(list[Membership] | None, beside[0]), cast(RoleSettings, beside[1])
        if len(ids) == 1:
            return self._with_predicted_groups(ids[0], filed or [], tenant, group_ids)
        users, *each = together(partial(self.users.get_many, ids), *(partial(self.groups.group_ids_of, i) for i in ids))
        group_ids.update((i, found) for i, found in zip(ids, each, strict=True) if i in users)
        return [users[i] for i in ids if i in users]

    def _with_predicted_groups(
        self, user_id: str, filed: list[Membership], tenant: RoleSettings, group_ids: GroupIds
    ) -> list[UserRecord]:
        predicted = [m.group_id for m in filed if m.user_id == user_id]
        record, actual, named = self.group_reader.named_predicted(
            user_id, predicted, tenant, partial(self.users.get, user_id)
        )
        if record is None:
            return []
        group_ids[record.id] = actual
        group_ids.named = named
        return [cast(UserRecord, record)]
