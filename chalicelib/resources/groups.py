"""Groups (Customer Supplied Roles) as SCIM resources: records and memberships in, ``Group`` resources out.

Members are items of their own (see :mod:`chalicelib.store.groups`): a write
touches only the memberships that change, and a read fetches members only when
the response or the filter needs them, at most one response's worth.

Query plan: ``id eq`` a key read; ``displayName eq`` two key reads; ``externalId
eq`` one index query; ``members.value eq`` one ``byMember`` index query and one
batch read; no filter or ``displayName sw`` the displayName claims, page by
page; anything else reads the tenant's groups.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast

from scim2_models import (
    Group,
    InvalidValueException,
    Path,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    TooManyException,
)

from chalicelib.canonical import legacy_key
from chalicelib.resources.meta import check_version, meta
from chalicelib.resources.query import filter_needs, ordered_by, response_needs
from chalicelib.resources.repository import Clock, IndexPlan, Repository, WriteStart, one
from chalicelib.schemas import CORE_GROUP_SCHEMA
from chalicelib.store.groups import GroupRecord, GroupTable, Membership
from chalicelib.store.users import UserTable
from chalicelib.store.waves import together

_DISPLAY_NAME = Path[Group]("displayName").resolve()
MAX_NAMED_IDS = 10
ID = f"{CORE_GROUP_SCHEMA}:id"
DISPLAY_NAME = f"{CORE_GROUP_SCHEMA}:displayName"
EXTERNAL_ID = f"{CORE_GROUP_SCHEMA}:externalId"
MEMBERS = f"{CORE_GROUP_SCHEMA}:members"
MEMBERS_VALUE = f"{CORE_GROUP_SCHEMA}:members.value"


class _Unchanged:
    """Marks an attribute a PATCH leaves as it is."""


UNCHANGED = _Unchanged()


@dataclass
class GroupChange:
    """The net effect of a PATCH that only touches members, displayName and externalId.

    ``reset`` means the members are replaced: every current member not in ``add`` goes.
    """

    reset: bool = False
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    display_name: str | _Unchanged = UNCHANGED
    external_id: str | _Unchanged | None = UNCHANGED

    def attributes(self) -> dict[str, Any]:
        """The changed attributes, by SCIM name; None removes one."""
        changes: dict[str, Any] = {}
        if not isinstance(self.display_name, _Unchanged):
            changes["displayName"] = self.display_name
        if not isinstance(self.external_id, _Unchanged):
            changes["externalId"] = self.external_id
        return changes


@dataclass(frozen=True)
class GroupPatched:
    """What a member-only group PATCH did: the group as written (without its members), and the members it moved."""

    group: Resource[Any]
    added: list[str]
    removed: list[str]


class GroupRepository(Repository[GroupRecord]):
    """The groups of one tenant as SCIM resources."""

    def __init__(
        self, provider: ScimProvider, groups: GroupTable, users: UserTable, max_members_in_response: int, clock: Clock
    ) -> None:
        super().__init__(provider, clock)
        self.groups = groups
        self.users = users
        self.max_members_in_response = max_members_in_response

    def get(
        self, resource_type: ResourceType, resource_id: str, response_parameters: ResponseParameters[Any] | None
    ) -> Resource[Any]:
        group = self.found(resource_type, resource_id, self.groups.get(resource_id))
        members = None
        if response_needs(response_parameters, self.model(resource_type), MEMBERS):
            # A response is bounded; an internal read-modify-write reads every member.
            limit = self.max_members_in_response + 1 if response_parameters else None
            members = self.groups.members(resource_id, limit)
            if response_parameters:
                self.check_response_size(resource_id, members)
        return self.resource(resource_type, group, members)

    def create(self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]) -> Resource[Any]:
        group = self.record(resource, **stored)
        members = self.memberships(group.id, self.member_ids(resource))
        self.groups.insert(group, members)
        return self.resource(resource_type, group, sorted(members, key=lambda m: m.user_id))

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        expected_version: str | None,
        start: WriteStart | None = None,
    ) -> Resource[Any]:
        """A whole new state of the group (PUT, or a PATCH off the fast path); only the member diff is written."""
        current = self.found(resource_type, cast(str, resource.id), self.groups.get(cast(str, resource.id)))
        check_version(expected_version, current.version)
        wanted = self.member_ids(resource)
        existing = {m.user_id: m for m in self.groups.members(current.id)}
        added = self.memberships(current.id, [u for u in wanted if u not in existing])
        removed = sorted(set(existing) - set(wanted))
        updated = self.record(resource, **self._next_version(current))
        written = self.groups.change(current, updated, added, removed)
        gone = set(removed)  # a lookup in the sorted list made this quadratic, after the write committed
        kept = [m for user_id, m in existing.items() if user_id not in gone]
        members = sorted([*kept, *added], key=lambda m: m.user_id)
        return self.resource(resource_type, written, members)

    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None:
        group = self.found(resource_type, resource_id, self.groups.get(resource_id))
        check_version(expected_version, group.version)
        self.groups.delete(group)

    def patch(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, expected_version: str | None
    ) -> GroupPatched:
        """Apply a PATCH that only touches members, displayName and externalId, without reading every member.

        Returns the group without its members (the caller reads them if its response needs them), and the
        member ids it added and removed.
        An add or remove reads the group, which of the named users are members, and the added users'
        names all at once (one round trip), since each needs only the request.
        """
        names: dict[str, tuple[str, str]] | None = None
        if change.reset:
            current = self.found(resource_type, group_id, self.groups.get(group_id))
            check_version(expected_version, current.version)
            existing = {m.user_id for m in self.groups.members(group_id)}
            added = [user_id for user_id in change.add if user_id not in existing]
            removed = sorted(existing - set(change.add))
        else:
            found, existing, names = together(
                partial(self.groups.get, group_id),
                partial(self.groups.existing_members, group_id, [*change.add, *change.remove]),
                partial(self.users.user_names_of, change.add),
            )
            current = self.found(resource_type, group_id, found)
            check_version(expected_version, current.version)
            added = [user_id for user_id in change.add if user_id not in existing]
            removed = [user_id for user_id in change.remove if user_id in existing]
        document = {**current.document, **change.attributes()}
        document = {key: value for key, value in document.items() if value is not None}
        if not added and not removed and document == current.document:
            return GroupPatched(self.resource(resource_type, current, None), [], [])
        memberships = self.memberships(group_id, added, names)
        renamed = self.resource(resource_type, replace(current, document=document), None)
        updated = self.record(renamed, **self._next_version(current))
        written = self.groups.change(current, updated, memberships, removed, pinned=expected_version is not None)
        return GroupPatched(self.resource(resource_type, written, None), added, removed)

    def _next_version(self, current: GroupRecord) -> dict[str, Any]:
        return {
            "id": current.id,
            "version": current.version + 1,
            "created": current.created,
            "last_modified": self.clock().isoformat(),
        }

    def ordered_plan(self, resource_type: ResourceType, request: SearchRequest[Any]) -> IndexPlan | None:
        """Groups by displayName (no filter, or ``displayName sw``), in that order or unsorted."""
        ordered, prefix = ordered_by(request, self.model(resource_type), DISPLAY_NAME)
        if ordered:
            return IndexPlan(self.groups.by_display_name, self.display_name_key(prefix) if prefix else "")
        return None

    def load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        groups = self.groups.get_many(ids)
        allowance = [self.max_members_in_response]
        return [self._searched(resource_type, groups[i], request, allowance) for i in ids if i in groups]

    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        groups = self.candidates(resource_type, request.filter)
        allowance = [self.max_members_in_response]
        resources = [self._searched(resource_type, group, request, allowance) for group in groups]
        return resources if request.filter is None else self.matches(resource_type, request.filter, resources)

    def _searched(
        self, resource_type: ResourceType, group: GroupRecord, request: SearchRequest[Any], allowance: list[int]
    ) -> Resource[Any]:
        """A found group, with its members when the response shows them or the filter compares them.

        ``allowance`` is what is left of the search's member bound: the groups of one search read at most
        ``max_members_in_response`` members in all (18 groups of 1,800 took 17 s, and passed Lambda's 6 MB).
        """
        members: list[Membership] | None = None
        model = self.model(resource_type)
        if response_needs(request, model, MEMBERS) or filter_needs(request.filter, model, MEMBERS):
            members = self.groups.members(group.id, min(allowance[0], self.max_members_in_response) + 1)
            if len(members) > allowance[0] < self.max_members_in_response:
                raise TooManyException(
                    detail=f"These groups have more than {self.max_members_in_response} members in all, too many for "
                    "one response: ask for fewer groups a page (count), or for excludedAttributes=members and each "
                    'group\'s members page by page with GET /Users?filter=groups.value eq "<group id>"'
                )
            self.check_response_size(group.id, members)
            allowance[0] -= len(members)
        return self.resource(resource_type, group, members)

    def lookups(self) -> Mapping[str, Callable[[str], Iterable[GroupRecord]]]:
        """``id`` a key read; ``displayName`` two; ``externalId`` an index query; ``members.value`` (and
        ``members``) a ``byMember`` index query and a batch read."""
        return {
            ID: lambda group_id: one(self.groups.get(group_id)),
            DISPLAY_NAME: lambda name: one(self.groups.find_by_display_name(self.display_name_key(name))),
            EXTERNAL_ID: self.groups.find_by_external_id,
            MEMBERS_VALUE: lambda user_id: self.groups.get_many(self.groups.group_ids_of(user_id)).values(),
        }

    def every(self) -> Iterable[GroupRecord]:
        return self.groups.all()

    def default_order(self, resource: Resource[Any]) -> str:
        return self.display_name_key(cast(Group, resource).display_name or "")

    def display_name_key(self, display_name: str) -> str:
        """Unique per tenant in its canonical form (chalicelib.canonical), as the policy compares."""
        try:
            return self.provider.policy.comparison_key(_DISPLAY_NAME, display_name)
        except ValueError:  # refused by the canonical form: stored before it, or only searched for
            return legacy_key(display_name)

    def record(self, resource: Resource[Any], **stored: Any) -> GroupRecord:
        group = cast(Group, resource)
        if not group.display_name:
            raise InvalidValueException(detail="displayName is required")
        document = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
        for derived in ("id", "meta", "members"):
            document.pop(derived, None)
        return GroupRecord(
            document=document,
            display_name=group.display_name,
            display_name_key=self.display_name_key(group.display_name),
            external_id=group.external_id,
            **stored,
        )

    def member_ids(self, resource: Resource[Any]) -> list[str]:
        """The user ids a group resource lists, in order, without repeats.

        :raises InvalidValueException: For a member that is not a user (nested groups are not supported).
        """
        ids: dict[str, None] = {}
        for member in cast(Group, resource).members or []:
            if member.type not in (None, "User"):
                raise InvalidValueException(
                    detail=f"members: {member.value!r} is a {member.type}; only Users can be members"
                )
            if not member.value:
                raise InvalidValueException(detail="members: every member needs a value (the user's id)")
            ids[member.value] = None
        return list(ids)

    def memberships(
        self, group_id: str, user_ids: Sequence[str], names: Mapping[str, tuple[str, str]] | None = None
    ) -> list[Membership]:
        """Memberships of existing users of this tenant, with their userName as display, filed under its key.

        :param names: The userNames of these users and their keys by id, if the caller has read them already.
        :raises InvalidValueException: Naming the ids that are not users of this tenant; nothing is written.
        """
        found = names if names is not None else self.users.user_names_of(user_ids) if user_ids else {}
        unknown = [user_id for user_id in user_ids if user_id not in found]
        if unknown:
            named = ", ".join(repr(user_id) for user_id in unknown[:MAX_NAMED_IDS])
            more = f" and {len(unknown) - MAX_NAMED_IDS} more" if len(unknown) > MAX_NAMED_IDS else ""
            raise InvalidValueException(detail=f"members: no user with id {named}{more} in this tenant")
        return [Membership(group_id, user_id, *found[user_id]) for user_id in user_ids]

    def check_response_size(self, group_id: str, members: Sequence[Membership]) -> None:
        """A group too large for one response answers 400 tooMany, naming the ways to read it."""
        if len(members) > self.max_members_in_response:
            raise TooManyException(
                detail=f"Group {group_id} has more than {self.max_members_in_response} members, too many for one "
                "response: read it with excludedAttributes=members and list its members page by page with "
                f'GET /Users?filter=groups.value eq "{group_id}"'
            )

    def resource(
        self, resource_type: ResourceType, record: GroupRecord, members: Sequence[Membership] | None
    ) -> Resource[Any]:
        document: dict[str, Any] = {
            **record.document,
            "id": record.id,
            "meta": meta(resource_type, record.version, record.created, record.last_modified),
        }
        if members is not None:
            document["members"] = [
                {"value": m.user_id, "display": m.display, "$ref": f"Users/{m.user_id}", "type": "User"}
                for m in members
            ]
        model = cast(type[Resource[Any]], self.provider.model_for(resource_type))
        return model.model_validate(document, scim_ctx=None)
