"""Users as SCIM resources: records of the users table in, ``User`` resources out, and how a user search is read.

A user's ``groups`` and the product extension's roles are not stored on the
user: they come from the memberships (``byMember`` index) and the role
mappings, read only when a response or a filter needs them.

Query plan: ``id eq`` a key read; ``userName eq`` two key reads; ``externalId
eq`` one index query; ``groups.value eq`` a page of the group's memberships and
one batch read; no filter or ``userName sw`` the userName claims, page by page;
anything else reads the tenant's users.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, cast

from scim2_models import Path, Resource, ResourceType, ResponseParameters, ScimProvider, SearchRequest
from scim2_models.path import CompareOperator

from chalicelib.canonical import legacy_key
from chalicelib.resources.meta import check_version, meta, version_of
from chalicelib.resources.query import comparison, filter_needs, ordered_by, response_needs
from chalicelib.resources.repository import Clock, IndexPlan, Repository, one
from chalicelib.resources.roles import user_roles
from chalicelib.schemas import CORE_USER_SCHEMA, ONEMODEL_USER_SCHEMA, User
from chalicelib.store.groups import GroupTable, Membership
from chalicelib.store.role_mappings import RoleMappingTable
from chalicelib.store.users import UserRecord, UserTable

PasswordHasher = Callable[[str], str]
# Attributes derived at read time, never written to the users table.
DERIVED = ("id", "meta", "password", "groups", ONEMODEL_USER_SCHEMA)
MAX_CONCURRENT_QUERIES = 16
_USER_NAME = Path[User[Any]]("userName").resolve()
ID = f"{CORE_USER_SCHEMA}:id"
USER_NAME = f"{CORE_USER_SCHEMA}:userName"
EXTERNAL_ID = f"{CORE_USER_SCHEMA}:externalId"
GROUPS = f"{CORE_USER_SCHEMA}:groups"
GROUPS_VALUE = f"{CORE_USER_SCHEMA}:groups.value"
# What the user's groups decide: the groups themselves, and the roles of the product extension.
FROM_GROUPS = (GROUPS, ONEMODEL_USER_SCHEMA)


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
    ) -> None:
        super().__init__(provider, clock)
        self.users = users
        self.groups = groups
        self.role_mappings = role_mappings
        self.hash_password = hash_password
        # Users read by read_for_write, so that the write that follows does not read them again.
        self._read_for_write: dict[str, UserRecord] = {}

    def get(
        self, resource_type: ResourceType, resource_id: str, response_parameters: ResponseParameters[Any] | None
    ) -> Resource[Any]:
        record = self.found(resource_type, resource_id, self.users.get(resource_id))
        return self.resources(resource_type, [record], self.needs_groups(resource_type, response_parameters))[0]

    def create(self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]) -> Resource[Any]:
        flags = resource.model_dump(mode="json", scim_ctx=None, by_alias=True).get(ONEMODEL_USER_SCHEMA) or {}
        user = self.record(
            resource,
            **stored,
            password_hash=self._hashed(resource),
            allow_sso_login=flags.get("allowSsoLogin") is True,
            auto_assign_roles=flags.get("autoAssignRoles") is True,
        )
        self.users.insert(user)
        in_no_group: dict[str, list[str]] = {user.id: []}  # yet: no query needed
        return self.resources(resource_type, [user], True, group_ids=in_no_group)[0]

    def update(
        self, resource_type: ResourceType, resource: Resource[Any], expected_version: str | None
    ) -> Resource[Any]:
        user_id = cast(str, resource.id)
        current = self._read_for_write.pop(user_id, None)
        if current is None or version_of(expected_version) != current.version:
            current = self.found(resource_type, user_id, self.users.get(user_id))
        check_version(expected_version, current.version)
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
        if replace(updated, version=current.version, last_modified=current.last_modified) == current:
            # Nothing stored changes (say, a PATCH that sets what is already there): no write, no new version.
            return self._with_memberships(resource_type, current, self.repair_member_displays(current))
        self.users.replace(current, updated)
        return self._with_memberships(resource_type, updated, self.repair_member_displays(updated))

    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None:
        user = self.found(resource_type, resource_id, self.users.get(resource_id))
        check_version(expected_version, user.version)
        self.users.delete(user)

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> Resource[Any]:
        """The stored user a PUT, PATCH or DELETE starts from: one key read.

        It comes without ``groups`` and effective roles: they are read-only, so no
        write uses them, and leaving them out saves a query and two batch reads. The
        record is kept for the update that follows (its write is conditioned on the
        version read here, so nothing another writer did in between is lost).
        """
        record = self.found(resource_type, resource_id, self.users.get(resource_id))
        self._read_for_write[record.id] = record
        return self.resources(resource_type, [record], with_groups=False)[0]

    def repair_unchanged(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """The user a write left as it was, with its groups, after :meth:`repair_member_displays`: a retried
        rename finds the user renamed, and maybe not yet all of its memberships."""
        record = self._read_for_write.get(str(resource.id))
        if record is None:
            return resource
        return self._with_memberships(resource_type, record, self.repair_member_displays(record))

    def repair_member_displays(self, record: UserRecord) -> list[Membership]:
        """Set ``display`` to the userName on the user's memberships that show another; return the memberships.

        The one write a user write makes beyond the user. The memberships come from the
        query the response's ``groups`` needs anyway, so a rename costs one update per
        group, and any other write nothing more. A retried rename repairs what an
        interrupted one left.
        """
        memberships = self.groups.memberships_of(record.id)
        self.groups.set_display([m for m in memberships if m.display != record.user_name], record.user_name)
        return memberships

    def _with_memberships(
        self, resource_type: ResourceType, record: UserRecord, memberships: Sequence[Membership]
    ) -> Resource[Any]:
        """The user with its groups, from memberships already read."""
        group_ids = {record.id: [m.group_id for m in memberships]}
        return self.resources(resource_type, [record], with_groups=True, group_ids=group_ids)[0]

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
        users = self.users.get_many(ids)
        records = [users[i] for i in ids if i in users]
        return self.resources(resource_type, records, self.needs_groups(resource_type, request))

    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        scim_filter = request.filter
        model = self.model(resource_type)
        filter_needs_groups = any(filter_needs(scim_filter, model, target) for target in FROM_GROUPS)
        users = list(self.candidates(resource_type, scim_filter))
        if scim_filter is not None and not filter_needs_groups and self.needs_groups(resource_type, request):
            # Filter first, then read the groups (a query per user) of the matches only.
            bare = self.resources(resource_type, users, with_groups=False)
            kept = {id(resource) for resource in self.matches(resource_type, scim_filter, bare)}
            users = [user for user, resource in zip(users, bare, strict=True) if id(resource) in kept]
            return self.resources(resource_type, users, with_groups=True)
        with_groups = filter_needs_groups or self.needs_groups(resource_type, request)
        resources = self.resources(resource_type, users, with_groups)
        return resources if scim_filter is None else self.matches(resource_type, scim_filter, resources)

    def lookups(self) -> Mapping[str, Callable[[str], Iterable[UserRecord]]]:
        """``id`` a key read; ``userName`` two; ``externalId`` an index query; ``groups.value`` the group's
        memberships and a batch read."""
        return {
            ID: lambda user_id: one(self.users.get(user_id)),
            USER_NAME: lambda user_name: one(self.users.find_by_user_name(self.user_name_key(user_name))),
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
        """Build the resources of some users; with ``with_groups``, one index query per user and two batch reads.

        :param group_ids: The groups of users whose memberships the caller has already read.
        """
        memberships = self._memberships(records, group_ids or {}) if with_groups else {}
        model = cast(type[Resource[Any]], self.provider.model_for(resource_type))
        return [
            model.model_validate(self._document(resource_type, record, memberships.get(record.id)), scim_ctx=None)
            for record in records
        ]

    def _memberships(
        self, records: Sequence[UserRecord], known: Mapping[str, list[str]]
    ) -> dict[str, list[tuple[str, str]]]:
        """Each user's groups as (id, displayName); memberships of deleted groups are ignored."""
        unknown = [record.id for record in records if record.id not in known]
        # One index query per user; run concurrently, so a page costs a few round trips, not one per user.
        found: list[list[str]] = []
        if unknown:
            with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_QUERIES, len(unknown))) as pool:
                found = list(pool.map(self.groups.group_ids_of, unknown))
        group_ids = {**known, **dict(zip(unknown, found, strict=True))}
        live = self.groups.get_many([gid for ids in group_ids.values() for gid in ids])
        return {
            user_id: sorted(((gid, live[gid].display_name) for gid in ids if gid in live), key=lambda g: g[1].lower())
            for user_id, ids in group_ids.items()
        }

    def _document(
        self, resource_type: ResourceType, record: UserRecord, groups: list[tuple[str, str]] | None
    ) -> dict[str, Any]:
        product: dict[str, Any] = {
            "allowSsoLogin": record.allow_sso_login,
            "autoAssignRoles": record.auto_assign_roles,
        }
        document: dict[str, Any] = {
            **record.document,
            "schemas": [*record.document.get("schemas", []), ONEMODEL_USER_SCHEMA],
            "id": record.id,
            "meta": meta(resource_type, record.version, record.created, record.last_modified),
            ONEMODEL_USER_SCHEMA: product,
        }
        if groups is not None:
            document["groups"] = [
                {"value": gid, "display": name, "$ref": f"Groups/{gid}", "type": "direct"} for gid, name in groups
            ]
            names = [name for _, name in groups]
            roles = user_roles(names, self.role_mappings.get_many(names) if names else [])
            product.update(
                customerSuppliedRoles=roles.customer_supplied_roles,
                dataAccessRoles=roles.data_access_roles,
                applicationAccessRoles=roles.application_access_roles,
            )
        return document
