"""Users as SCIM resources: records of the users table in, ``User`` resources out, and how a user search is read.

A user's ``groups`` and the product extension's roles are not stored on the
user: :mod:`.user_groups` reads them, only when a response or a filter needs them.

Round trips: the memberships need only the user's id, so they are read beside
the user's item; the groups' names and the tenant's role mappings then come
together. A GET of a user is two round trips in sequence, a PATCH or PUT two
(three when a rename moves the memberships' display), ``userName eq`` two (its
memberships are read by userName key beside its claim, checked in the second
trip, :mod:`.user_groups`). Effective roles are returned by default: they cost
no round trip of their own, and an administrator reading a user over SCIM
sees what the user may do; ``excludedAttributes`` drops them and the reads.

Query plan: ``id eq`` a key read; ``userName eq`` two key reads (and an index query beside the first); ``externalId
eq`` one index query; ``groups.value eq`` a page of the group's memberships and
one batch read; no filter or ``userName sw`` the userName claims, page by page;
anything else reads the tenant's users.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, cast

from scim2_models import Path, Resource, ResourceType, ResponseParameters, ScimProvider, SearchRequest
from scim2_models.path import CompareOperator

from chalicelib.canonical import legacy_key
from chalicelib.resources.emails import one_model_email
from chalicelib.resources.grants import Grants
from chalicelib.resources.meta import check_version, meta, version_of
from chalicelib.resources.query import comparison, filter_needs, ordered_by, response_needs
from chalicelib.resources.repository import Clock, IndexPlan, Repository, WriteStart, one
from chalicelib.resources.roles import held, user_roles
from chalicelib.resources.user_groups import GroupIds, GroupReader, UserGroups
from chalicelib.resources.user_lookups import UserLookups
from chalicelib.schemas import CORE_USER_SCHEMA, ONEMODEL_USER_SCHEMA, User
from chalicelib.store.errors import Conflict, Taken
from chalicelib.store.groups import GroupTable, Membership
from chalicelib.store.role_mappings import RoleMappingTable, RoleSettings
from chalicelib.store.role_sources import SCIM_GROUPS
from chalicelib.store.users import UserRecord, UserTable
from chalicelib.store.waves import together

PasswordHasher = Callable[[str], str]
# Attributes derived at read time, never written to the users table.
DERIVED = ("id", "meta", "password", "groups", ONEMODEL_USER_SCHEMA)
_USER_NAME = Path[User[Any]]("userName").resolve()
ID = f"{CORE_USER_SCHEMA}:id"
USER_NAME = f"{CORE_USER_SCHEMA}:userName"
EXTERNAL_ID = f"{CORE_USER_SCHEMA}:externalId"
EMAILS_VALUE = f"{CORE_USER_SCHEMA}:emails.value"
GROUPS = f"{CORE_USER_SCHEMA}:groups"
GROUPS_VALUE = f"{CORE_USER_SCHEMA}:groups.value"
# What the user's groups decide: the groups themselves, and the roles of the product extension.
FROM_GROUPS = (GROUPS, ONEMODEL_USER_SCHEMA)


@dataclass(frozen=True)
class ReadForWrite:
    """A user read for a write, and its memberships read beside it, for the write's response and repair.

    It travels in the :class:`WriteStart` that :meth:`UserRepository.read_for_write` returns.
    """

    record: UserRecord
    memberships: list[Membership]
    tenant: RoleSettings
    """The tenant's role settings, read in the same trip: the response's groups are named by them."""


@dataclass(frozen=True)
class UserCreated:
    """What a user create did: the user as created, and, when it revived a user deleted through SCIM (a rehire),
    that user as it was before."""

    resource: Resource[Any]
    revived_from: Resource[Any] | None = None


class UserRepository(Repository[UserRecord]):
    """The users of one tenant as SCIM resources.

    :param hash_password: Turns a cleartext password into what is stored; the cleartext is never written.
    """

    def __init__(
        self,
        provider: ScimProvider,
        users: UserTable,
        groups: GroupTable,
        role_mappings: RoleMappingTable,
        hash_password: PasswordHasher,
        clock: Clock,
        grants: Grants | None = None,
    ) -> None:
        super().__init__(provider, clock)
        self.grants = grants
        self.users = users
        self.groups = groups
        self.role_mappings = role_mappings
        self.group_reader = GroupReader(groups, role_mappings)
        self.lookup = UserLookups(users, groups, self.group_reader, self.user_name_key)
        self.hash_password = hash_password

    def get(
        self, resource_type: ResourceType, resource_id: str, response_parameters: ResponseParameters[Any] | None
    ) -> Resource[Any]:
        with_groups = self.needs_groups(resource_type, response_parameters)
        group_ids = GroupIds()
        record = self.found(
            resource_type, resource_id, self.lookup.by_id(resource_id, group_ids if with_groups else None)
        )
        return self.resources(resource_type, [record], with_groups, group_ids)[0]

    def create(self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]) -> Resource[Any]:
        return self.create_or_revive(resource_type, resource, stored).resource

    def create_or_revive(
        self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]
    ) -> UserCreated:
        """A new user; or, when its userName belongs to a user deleted through SCIM, that user revived
        (:meth:`revive`): the result says which. Either way every direct grant it carries is checked."""
        if self.grants is not None:
            self.grants.check(resource, None)
        flags = resource.model_dump(mode="json", scim_ctx=None, by_alias=True).get(ONEMODEL_USER_SCHEMA) or {}
        user = self.record(
            resource,
            **stored,
            password_hash=self._hashed(resource),
            allow_sso_login=flags.get("allowSsoLogin") is True,
            auto_assign_roles=flags.get("autoAssignRoles") is True,
        )
        revived_from: Resource[Any] | None = None
        try:
            _, role_source = together(partial(self.users.insert, user), self.group_reader.role_sources.get)
        except Taken:
            deleted = self.users.find_by_user_name(user.user_name_key)
            if deleted is None or deleted.deleted is None:
                raise  # a user deactivated with active: false (or a live one) keeps its userName: 409
            try:
                user = self.revive(deleted, user)
                revived_from = self.resources(resource_type, [deleted], with_groups=False)[0]
            except Conflict:  # another create revived it first: the userName is a live user's now
                raise Taken("userName", user.user_name) from None
            role_source = self.group_reader.role_sources.get()
        in_no_group = UserGroups({user.id: []}, [], role_source)  # yet: no group or mapping to read
        return UserCreated(self._built(resource_type, [user], in_no_group)[0], revived_from)

    def revive(self, deleted: UserRecord, created: UserRecord) -> UserRecord:
        """A rehire: the deleted user gets the created one's state under its own id, as a PUT would give it.

        Its old attributes go, its externalId and password included (a rehire comes with the IdP's current
        ones, or none); its memberships go first, so it is in the groups the IdP adds it to next, and no other.
        """
        for membership in self.groups.memberships_of(deleted.id):
            group = self.groups.get(membership.group_id)
            if group is not None:  # a deleted group's leftover membership is invisible already
                bumped = replace(group, version=group.version + 1, last_modified=created.last_modified)
                self.groups.change(group, bumped, remove=[deleted.id], pinned=False)
        revived = replace(created, id=deleted.id, version=deleted.version + 1, created=deleted.created)
        self.users.replace(deleted, revived)
        return revived

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        expected_version: str | None,
        start: WriteStart | None = None,
        deleting: bool = False,
    ) -> Resource[Any]:
        """Write the user, reading its groups' names and role mappings for the response at the same time.

        Round trips after :meth:`read_for_write`: the write beside the reads, then (on a rename, or to
        finish an interrupted one) the memberships' display. Without its ``start``, the user is read first.

        :param deleting: A SCIM DELETE: the user is marked deleted (a create of its userName revives it).
            Any other write keeps that mark while the user stays inactive, and drops it on reactivation
            (Entra ID's restore is a PATCH of ``active: true``).
        """
        user_id = cast(str, resource.id)
        read = start.read if start is not None else None
        if not isinstance(read, ReadForWrite) or (read.record.id, read.record.version) != (
            user_id,
            version_of(expected_version),
        ):
            read = self._read_with_memberships(resource_type, user_id)
        current = read.record
        check_version(expected_version, current.version)
        if self.grants is not None:
            self.grants.check(resource, current.document)
        updated = self.record(
            resource,
            id=current.id,
            version=current.version + 1,
            created=current.created,
            last_modified=self.clock().isoformat(),
            # writeOnly: a replacement without password keeps the stored one.
            password_hash=self._hashed(resource) or current.password_hash,
            allow_sso_login=current.allow_sso_login,
            auto_assign_roles=current.auto_assign_roles,
        )
        if deleting:
            updated = replace(updated, deleted=current.deleted or updated.last_modified)
        elif not updated.active:
            updated = replace(updated, deleted=current.deleted)
        if replace(updated, version=current.version, last_modified=current.last_modified) == current:
            # Nothing stored changes (say, a PATCH that sets what is already there): no write, no new version.
            return self._written(resource_type, replace(read, record=current), None)
        return self._written(
            resource_type, replace(read, record=updated), partial(self.users.replace, current, updated)
        )

    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None:
        user = self.found(resource_type, resource_id, self.users.get(resource_id))
        check_version(expected_version, user.version)
        self.users.delete(user)

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> WriteStart:
        """The stored user a PUT, PATCH or DELETE starts from: its item, and its memberships in the same round trip.

        The resource comes without ``groups`` and effective roles: they are read-only,
        so no write uses them. The record and memberships travel in the returned
        start, for the :meth:`update` that takes it (its write is conditioned on the
        version read here, so nothing another writer did in between is lost; the
        memberships give its response's ``groups`` and the displays a rename moves).
        """
        read = self._read_with_memberships(resource_type, resource_id)
        return WriteStart.of(self.resources(resource_type, [read.record], with_groups=False)[0], read)

    def _read_with_memberships(self, resource_type: ResourceType, user_id: str) -> ReadForWrite:
        record, memberships, tenant = together(
            partial(self.users.get, user_id),
            partial(self.groups.memberships_of, user_id),
            self.group_reader.tenant_settings,
        )
        return ReadForWrite(self.found(resource_type, user_id, record), memberships, tenant)

    def repair_unchanged(self, resource_type: ResourceType, start: WriteStart) -> Resource[Any]:
        """The user a write left as it was, with its groups, after repairing the memberships' display: a retried
        rename finds the user renamed, and maybe not yet all of its memberships."""
        if not isinstance(start.read, ReadForWrite):
            return start.resource
        return self._written(resource_type, start.read, None)

    def _written(
        self, resource_type: ResourceType, read: ReadForWrite, write: Callable[[], None] | None
    ) -> Resource[Any]:
        """Make the write (if any) beside the reads of the response's groups and roles; then set ``display``
        to the userName on the memberships that show another.

        That display is the one write a user write makes beyond the user, and only after
        it succeeded (a refused rename must not show on its groups): one update per group
        on a rename, nothing otherwise. A retried rename repairs what an interrupted one left.
        """
        record, memberships = read.record, read.memberships
        _, groups = self.group_reader.named_after({record.id: [m.group_id for m in memberships]}, read.tenant, write)
        moved = [m for m in memberships if (m.display, m.user_name_key) != (record.user_name, record.user_name_key)]
        self.groups.set_display(moved, record.user_name, record.user_name_key)
        return self._built(resource_type, [record], groups)[0]

    def _hashed(self, resource: Resource[Any]) -> str | None:
        password = getattr(resource, "password", None)
        return self.hash_password(password) if password is not None else None

    def needs_groups(self, resource_type: ResourceType, parameters: ResponseParameters[Any] | None) -> bool:
        """Whether a response shows what the user's groups decide."""
        return any(response_needs(parameters, self.model(resource_type), target) for target in FROM_GROUPS)

    def ordered_plan(self, resource_type: ResourceType, request: SearchRequest[Any]) -> IndexPlan | None:
        """Users by userName (no filter, or ``userName sw``); a group's members by user id (``groups.value eq``)."""
        model = self.model(resource_type)
        ordered, prefix = ordered_by(request, model, USER_NAME)
        if ordered:
            return IndexPlan(self.users.by_user_name, self.user_name_key(prefix) if prefix else "")
        members_of = comparison(request.filter, model, CompareOperator.eq)
        if request.sort_by is None and members_of is not None and members_of[0] == GROUPS_VALUE:
            return IndexPlan(self.groups.members_index(members_of[1]), exact=True)
        return None

    def load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        """A page of users by id; with groups, every user's group ids are read beside the users, in one wave."""
        with_groups = self.needs_groups(resource_type, request)
        group_ids = GroupIds()
        if with_groups:
            users, *each = together(
                partial(self.users.get_many, ids), *(partial(self.groups.group_ids_of, i) for i in ids)
            )
            group_ids.update((i, found) for i, found in zip(ids, each, strict=True) if i in users)
        else:
            users = self.users.get_many(ids)
        records = [users[i] for i in ids if i in users]
        return self.resources(resource_type, records, with_groups, group_ids)

    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        scim_filter = request.filter
        model = self.model(resource_type)
        filter_needs_groups = any(filter_needs(scim_filter, model, target) for target in FROM_GROUPS)
        with_groups = filter_needs_groups or self.needs_groups(resource_type, request)
        # The key reads (id eq, userName eq) read the users' group ids beside them when the search needs them.
        group_ids = GroupIds()
        users = list(self.candidates(resource_type, scim_filter, self.lookups(group_ids if with_groups else None)))
        if scim_filter is not None and not filter_needs_groups and with_groups:
            # Filter first, then read the groups (a query per user) of the matches only.
            bare = self.resources(resource_type, users, with_groups=False)
            kept = {id(resource) for resource in self.matches(resource_type, scim_filter, bare)}
            users = [user for user, resource in zip(users, bare, strict=True) if id(resource) in kept]
            return self.resources(resource_type, users, True, group_ids)
        resources = self.resources(resource_type, users, with_groups, group_ids)
        return resources if scim_filter is None else self.matches(resource_type, scim_filter, resources)

    def lookups(self, group_ids: GroupIds | None = None) -> Mapping[str, Callable[[str], Iterable[UserRecord]]]:
        """``id`` a key read; ``userName`` two; ``externalId`` an index query; ``groups.value`` the group's
        memberships and a batch read.

        :param group_ids: Given, the key reads read the user's group ids beside the user, and add them there.
        """
        return {
            ID: lambda user_id: one(self.lookup.by_id(user_id, group_ids)),
            USER_NAME: lambda user_name: self.lookup.by_user_name(user_name, group_ids),
            EMAILS_VALUE: lambda address: self.lookup.by_email(address, group_ids),
            EXTERNAL_ID: self.users.find_by_external_id,
            GROUPS_VALUE: lambda group_id: self.users.get_many(
                [m.user_id for m in self.groups.members(group_id)]
            ).values(),
        }

    def every(self) -> Iterable[UserRecord]:
        return self.users.all()

    def default_order(self, resource: Resource[Any]) -> str:
        return self.user_name_key(getattr(resource, "user_name", None) or "")

    def user_name_key(self, user_name: str) -> str:
        """Unique per tenant in its canonical form (chalicelib.canonical), as the policy compares."""
        try:
            return self.provider.policy.comparison_key(_USER_NAME, user_name)
        except ValueError:  # refused by the canonical form: stored before it, or only searched for
            return legacy_key(user_name)

    def record(self, resource: Resource[Any], **stored: Any) -> UserRecord:
        """What the users table keeps of a user resource: no derived attributes, the password only as a hash."""
        user = cast(User[Any], resource)
        document = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
        for derived in DERIVED:
            document.pop(derived, None)
        document["schemas"] = [schema for schema in document.get("schemas", []) if schema != ONEMODEL_USER_SCHEMA]
        return UserRecord(
            document=document,
            user_name=cast(str, user.user_name),
            user_name_key=self.user_name_key(cast(str, user.user_name)),
            external_id=user.external_id,
            active=user.active is not False,
            **stored,
        )

    def resources(
        self,
        resource_type: ResourceType,
        records: Sequence[UserRecord],
        with_groups: bool,
        group_ids: Mapping[str, list[str]] | None = None,
    ) -> list[Resource[Any]]:
        """Build the resources of some users; with ``with_groups``, their groups and roles too: the group ids
        not read yet (one index query per user, all at once), then the groups and role mappings (together).

        :param group_ids: The groups of users whose memberships the caller has already read.
        """
        if not with_groups:
            return self._built(resource_type, records, None)
        named = group_ids.named if isinstance(group_ids, GroupIds) else None
        if named is not None and all(record.id in named.by_user for record in records):
            return self._built(resource_type, records, named)
        known = {r.id: group_ids[r.id] for r in records if group_ids is not None and r.id in group_ids}
        known.update(self.group_reader.ids_of([record.id for record in records if record.id not in known]))
        tenant = group_ids.tenant if isinstance(group_ids, GroupIds) else None
        if tenant is not None:  # the tenant's settings came with the users: the names the container kept serve
            groups = self.group_reader.named_after(known, tenant)[1]
        else:
            groups = self.group_reader.named(known)[1]
        return self._built(resource_type, records, groups)

    def _built(
        self, resource_type: ResourceType, records: Sequence[UserRecord], groups: UserGroups | None
    ) -> list[Resource[Any]]:
        model = cast(type[Resource[Any]], self.provider.model_for(resource_type))
        return [
            model.model_validate(self._document(resource_type, record, groups), scim_ctx=None) for record in records
        ]

    def _document(self, resource_type: ResourceType, record: UserRecord, groups: UserGroups | None) -> dict[str, Any]:
        product: dict[str, Any] = {
            "allowSsoLogin": record.allow_sso_login,
            "autoAssignRoles": record.auto_assign_roles,
        }
        chosen = one_model_email(record.document.get("emails"))
        if chosen is not None:
            product["email"], product["emailSource"] = chosen
        document: dict[str, Any] = {
            **record.document,
            "schemas": [*record.document.get("schemas", []), ONEMODEL_USER_SCHEMA],
            "id": record.id,
            "meta": meta(resource_type, record.version, record.created, record.last_modified),
            ONEMODEL_USER_SCHEMA: product,
        }
        if groups is not None:
            mine = groups.by_user.get(record.id, [])
            document["groups"] = [
                {"value": gid, "display": name, "$ref": f"Groups/{gid}", "type": "direct"} for gid, name in mine
            ]
            product["roleSource"] = groups.role_source.source
            if groups.role_source.source == SCIM_GROUPS:
                # With saml-attribute the effective roles are decided at each sign-in (direct grants among them).
                roles = user_roles(
                    [name for _, name in mine],
                    groups.mappings,
                    held(record.document, "roles"),
                    held(record.document, "entitlements"),
                )
                product.update(
                    customerSuppliedRoles=roles.customer_supplied_roles,
                    dataAccessRoles=roles.data_access_roles,
                    applicationAccessRoles=roles.application_access_roles,
                    effectiveRoles=[source.shown() for source in roles.sources],
                )
        return document
