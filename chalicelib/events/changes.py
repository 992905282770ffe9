"""What one change of one item means to a consumer: the events of :mod:`.catalog` it gives, in order.

- A user's item: ``UserCreated``; ``UserRevived`` when a user deleted through SCIM comes back (a create of
  its userName, or a reactivation);
  ``UserDeactivated``/``UserReactivated`` when ``active`` flips; ``UserDeleted`` when a SCIM DELETE marks it
  deleted (after its ``UserDeactivated``); ``UserUpdated`` with the changed attribute paths (names only,
  never values) when anything else changed.
- A group's item: ``GroupCreated``, ``GroupRenamed``, ``GroupDeleted``; a created or renamed group
  also changes its members' roles (``UserRolesChanged`` for each member whose roles changed).
- A membership: ``UserRolesChanged`` for its user. A group created with its members writes them in
  the same transaction as the group (version 1), and the group's creation speaks for them; a
  membership removed with its deleted group gets the group's name from the group's removal, which
  comes first in the stream, when this consumer saw it (else ``roles.before`` is null).
- A role mapping: ``UserRolesChanged`` for each member of the group of that name whose roles changed.
- A user's direct grants (``roles``, ``entitlements``): ``UserRolesChanged`` for the user.
- The tenant's role source, switched between ``scim-groups`` and ``saml-attribute``: ``UserRolesChanged`` for
  every user, its roles on one side ``None`` (decided at each sign-in). Under ``saml-attribute`` no other
  change gives a ``UserRolesChanged`` (:mod:`.user_roles`).
- A credential: ``CredentialRevoked`` when ``revoked`` is set.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from chalicelib.canonical import RefusedIdentifier, display_name_key, legacy_key
from chalicelib.events import catalog
from chalicelib.events.catalog import Event, idempotency_id
from chalicelib.events.user_roles import GroupChange, MappingChange, RoleReader, RolesBeforeAfter
from chalicelib.resources.roles import GRANT_TYPES, UserRoles, held
from chalicelib.store.credentials import StoredCredential
from chalicelib.store.groups import GroupRecord, GroupTable, Membership
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.role_sources import SCIM_GROUPS, RoleSource
from chalicelib.store.streams import ItemChange
from chalicelib.store.users import UserRecord, UserTable

REMEMBERED_DELETED_GROUPS = 10_000


class Tables:
    """One tenant's tables, as the events read them."""

    def __init__(self, users: UserTable, groups: GroupTable, role_mappings: RoleMappingTable) -> None:
        self.users = users
        self.groups = groups
        self.role_mappings = role_mappings
        self.roles = RoleReader(users, groups, role_mappings)


TablesOf = Callable[[str], Tables]


class EventBuilder:
    """Turns item changes into events; keeps, per container, the names of the groups it saw deleted."""

    def __init__(self, tables_of: TablesOf) -> None:
        self.tables_of = tables_of
        self.deleted_groups: OrderedDict[tuple[str, str], str] = OrderedDict()

    def events(self, change: ItemChange) -> list[Event]:
        item = change.after if change.after is not None else change.before
        if isinstance(item, UserRecord):
            return list(self._user(change))
        if isinstance(item, GroupRecord):
            return list(self._group(change))
        if isinstance(item, Membership):
            return list(self._membership(change, item))
        if isinstance(item, RoleMapping):
            return list(self._role_mapping(change, item))
        if isinstance(item, RoleSource):
            return list(self._role_source(change))
        if isinstance(item, StoredCredential):
            return list(self._credential(change))
        return []

    def _event(self, change: ItemChange, name: str, resource_type: str, resource_id: str, **fields: Any) -> Event:
        return Event(
            name=name,
            tenant=change.tenant,
            resource_type=resource_type,
            resource_id=resource_id,
            sequence=fields.pop("sequence", None) or int(change.changed_at.timestamp() * 1000),
            time=change.changed_at,
            idempotency_id=idempotency_id(change.position.event_id, name, resource_id),
            stream_sequence=change.position.sequence_number,
            **fields,
        )

    def _user(self, change: ItemChange) -> Iterator[Event]:
        before, after = change.before, change.after
        assert isinstance(before, UserRecord | None) and isinstance(after, UserRecord | None)
        if after is None:
            return
        user = {"sequence": after.version, "user_name": after.user_name}
        if before is None:
            yield self._event(change, catalog.USER_CREATED, "User", after.id, **user, data={"active": after.active})
            yield from self._grants_changed(change, before, after)
            return
        if before.deleted is not None and after.deleted is None:
            # A create of its userName (a rehire), or a reactivation (Entra ID's restore), ends the deletion.
            yield self._event(change, catalog.USER_REVIVED, "User", after.id, **user, data={"active": after.active})
        if before.active and not after.active:
            yield self._event(change, catalog.USER_DEACTIVATED, "User", after.id, **user, data={"active": False})
        elif after.active and not before.active:
            yield self._event(change, catalog.USER_REACTIVATED, "User", after.id, **user, data={"active": True})
        if before.deleted is None and after.deleted is not None:
            yield self._event(change, catalog.USER_DELETED, "User", after.id, **user, data={"active": after.active})
        changed = changed_user_paths(before, after)
        if changed:
            data = {"active": after.active, "changedAttributes": changed}
            yield self._event(change, catalog.USER_UPDATED, "User", after.id, **user, data=data)
        yield from self._grants_changed(change, before, after)

    def _grants_changed(self, change: ItemChange, before: UserRecord | None, after: UserRecord) -> Iterator[Event]:
        """``UserRolesChanged`` when the user's direct grants changed (read nothing otherwise)."""
        if all(_grants(before, attribute) == _grants(after, attribute) for attribute in GRANT_TYPES):
            return
        tables = self.tables_of(change.tenant)
        yield from self._role_events(change, tables.roles.for_grants_change(before, after), {"cause": "DirectGrant"})

    def _group(self, change: ItemChange) -> Iterator[Event]:
        before, after = change.before, change.after
        assert isinstance(before, GroupRecord | None) and isinstance(after, GroupRecord | None)
        tables = self.tables_of(change.tenant)
        if after is None:
            assert before is not None
            self._remember_deleted(change.tenant, before)
            yield self._event(
                change, catalog.GROUP_DELETED, "Group", before.id, sequence=before.version,
                display_name=before.display_name,
            )  # fmt: skip
            return
        group = {"sequence": after.version, "display_name": after.display_name}
        if before is None:
            yield self._event(change, catalog.GROUP_CREATED, "Group", after.id, **group)
            cause = {"cause": "GroupCreated", "groupId": after.id}
            yield from self._roles_changed(change, tables, GroupChange(after.id, None, after.display_name), cause)
            return
        if before.display_name != after.display_name:
            data = {"changedAttributes": ["displayName"], "previousDisplayName": before.display_name}
            yield self._event(change, catalog.GROUP_RENAMED, "Group", after.id, **group, data=data)
            cause = {"cause": "GroupRenamed", "groupId": after.id}
            moved = GroupChange(after.id, before.display_name, after.display_name)
            yield from self._roles_changed(change, tables, moved, cause)

    def _membership(self, change: ItemChange, membership: Membership) -> Iterator[Event]:
        if change.event_name == "MODIFY":  # the member's userName shown on the membership: no role moves
            return
        tables = self.tables_of(change.tenant)
        group = tables.groups.get(membership.group_id)
        cause = {"cause": "Membership", "groupId": membership.group_id}
        if change.event_name == "INSERT":
            # Version 1: written with the group's creation, which speaks for its members. Gone: not a role yet.
            if group is None or group.version == 1:
                return
            moved = GroupChange(group.id, None, group.display_name)
        elif group is not None:
            moved = GroupChange(group.id, group.display_name, None)
        else:
            name = self.deleted_groups.get((change.tenant, membership.group_id))
            moved = GroupChange(membership.group_id, name, None, before_known=name is not None)
            cause["cause"] = "GroupDeleted"
        yield from self._roles_changed(change, tables, moved, cause, [membership.user_id])

    def _role_mapping(self, change: ItemChange, mapping: RoleMapping) -> Iterator[Event]:
        before, after = change.before, change.after
        assert isinstance(before, RoleMapping | None) and isinstance(after, RoleMapping | None)
        tables = self.tables_of(change.tenant)
        name = mapping.customer_supplied_role
        group = tables.groups.find_by_display_name(_display_name_key(name))
        if group is None:
            return
        user_ids = [member.user_id for member in tables.groups.members(group.id)]
        moved = tables.roles.for_mapping_change(user_ids, MappingChange(name, before, after))
        cause = {"cause": "RoleMapping", "customerSuppliedRole": name, "groupId": group.id}
        yield from self._role_events(change, moved, cause)

    def _role_source(self, change: ItemChange) -> Iterator[Event]:
        before, after = change.before, change.after
        assert isinstance(before, RoleSource | None) and isinstance(after, RoleSource | None)
        was_groups = before is None or before.source == SCIM_GROUPS
        now = after or RoleSource()  # no item: scim-groups
        if was_groups == (now.source == SCIM_GROUPS):  # the same source (or only its SAML attribute) changed
            return
        moved = self.tables_of(change.tenant).roles.for_role_source_change(to_scim_groups=not was_groups)
        yield from self._role_events(change, moved, {"cause": "RoleSource", "roleSource": now.source})

    def _credential(self, change: ItemChange) -> Iterator[Event]:
        before, after = change.before, change.after
        if not isinstance(after, StoredCredential) or after.revoked is None:
            return
        if isinstance(before, StoredCredential) and before.revoked is not None:
            return
        data = {"clientId": after.client_id, "revokedAt": after.revoked, "description": after.description}
        yield self._event(change, catalog.CREDENTIAL_REVOKED, "Credential", after.client_id, data=data)

    def _roles_changed(
        self,
        change: ItemChange,
        tables: Tables,
        moved: GroupChange,
        cause: Mapping[str, str],
        user_ids: Sequence[str] | None = None,
    ) -> Iterator[Event]:
        if user_ids is None:
            user_ids = [member.user_id for member in tables.groups.members(moved.group_id)]
        yield from self._role_events(change, tables.roles.for_group_change(user_ids, moved), cause)

    def _role_events(
        self, change: ItemChange, moved: Iterator[RolesBeforeAfter], cause: Mapping[str, str]
    ) -> Iterator[Event]:
        for roles in moved:
            if not roles.changed:
                continue
            data = {"roles": {"before": _roles(roles.before), "after": _roles(roles.after)}, **cause}
            yield self._event(
                change, catalog.USER_ROLES_CHANGED, "User", roles.user_id, user_name=roles.user_name, data=data
            )

    def _remember_deleted(self, tenant: str, group: GroupRecord) -> None:
        self.deleted_groups[(tenant, group.id)] = group.display_name
        while len(self.deleted_groups) > REMEMBERED_DELETED_GROUPS:
            self.deleted_groups.popitem(last=False)


def changed_user_paths(before: UserRecord, after: UserRecord) -> list[str]:
    """The attribute paths whose value differs (``active`` aside: its own events say it), sorted; never a value."""
    paths = set(_changed_paths(before.document, after.document))
    if before.user_name != after.user_name:
        paths.add("userName")
    if before.external_id != after.external_id:
        paths.add("externalId")
    if before.password_hash != after.password_hash:
        paths.add("password")
    extension = "urn:onemodel:params:scim:schemas:extension:2.0:User"
    if before.allow_sso_login != after.allow_sso_login:
        paths.add(f"{extension}:allowSsoLogin")
    if before.auto_assign_roles != after.auto_assign_roles:
        paths.add(f"{extension}:autoAssignRoles")
    paths.discard("active")
    return sorted(paths)


def _changed_paths(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name.startswith("urn:") and isinstance(old, Mapping | None) and isinstance(new, Mapping | None):
            yield from _changed_paths(old or {}, new or {}, f"{name}:")
        elif not prefix and isinstance(old, Mapping) and isinstance(new, Mapping):
            yield from (f"{name}.{sub}" for sub in sorted(set(old) | set(new)) if old.get(sub) != new.get(sub))
        else:
            yield prefix + name


def _roles(roles: UserRoles | None) -> dict[str, list[str]] | None:
    if roles is None:
        return None
    fields = asdict(roles)
    return {
        "customerSuppliedRoles": fields["customer_supplied_roles"],
        "dataAccessRoles": fields["data_access_roles"],
        "applicationAccessRoles": fields["application_access_roles"],
    }


def _grants(user: UserRecord | None, attribute: str) -> list[str]:
    return sorted(held(user.document, attribute)) if user is not None else []


def _display_name_key(name: str) -> str:
    try:
        return display_name_key(name)
    except RefusedIdentifier:
        return legacy_key(name)
