"""``ScimStorage`` on DynamoDB: the seam between scim2-server and our tables.

It follows the rules of :class:`scim2_server.storage.ScimStorage` (copies in
and out, fills ``id`` and ``meta``, versions every change, raises the SCIM
exceptions), which ``tests/test_storage_contract.py`` checks with
scim2-server's own ``ScimStorageContract``. One instance serves one tenant:
every table module it holds builds keys that start with that tenant.

Query plan of a search (the cheapest read a filter allows, then an exact
in-memory evaluation of the whole filter on what was read):
- Users: ``id eq`` key read; ``userName eq`` two key reads; ``externalId eq``
  one index query; ``groups.value eq`` a page of the group's memberships and
  one batch read; anything else reads the tenant's users.
- Groups: ``id eq`` key read; ``displayName eq`` two key reads; ``externalId
  eq`` one index query; ``members.value eq`` one ``byMember`` index query and
  one batch read; anything else reads the tenant's groups.
"""

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import botocore.exceptions
from scim2_models import (
    Group,
    InvalidFilterException,
    InvalidValueException,
    NotFoundException,
    NotImplementedException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimFilter,
    ScimProvider,
    SearchRequest,
    UniquenessException,
)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import ScimStorage, SearchPage

from chalicelib.config import Settings
from chalicelib.store.claims import ClaimIndex
from chalicelib.store.errors import Conflict, NotFound, Taken, Unavailable, Unstorable, cancellation_codes
from chalicelib.store.group_resources import GroupChange, GroupResources
from chalicelib.store.groups import GroupRecord, GroupTable, Membership
from chalicelib.store.paging import (
    NEXT,
    PREVIOUS,
    by_cursor,
    descending,
    index_position,
    page_in_memory,
    read_index_position,
)
from chalicelib.store.projection import filter_needs, response_needs
from chalicelib.store.role_mappings import RoleMappingTable
from chalicelib.store.user_resources import ONEMODEL_USER_SCHEMA, UserResources
from chalicelib.store.users import UserRecord, UserTable

PasswordHasher = Callable[[str], str]
_RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


def _now() -> datetime:
    return datetime.now(UTC)


def version_of(tag: str | None) -> int | None:
    """Return the write counter an ETag holds; -1 for a tag that is not one of ours."""
    if tag is None:
        return None
    text = tag.removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else -1


def _check_version(expected: str | None, version: int) -> None:
    if expected is not None and version_of(expected) != version:
        raise PreconditionFailedException(detail="The resource changed since the given version")


def _equality(scim_filter: ScimFilter[Any] | None) -> tuple[str, str] | None:
    """The (attribute, value) of a filter that is one ``eq`` on a string; attribute lower-cased, core URN dropped."""
    node = scim_filter.ast if scim_filter is not None else None
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and isinstance(node.value, str):
        attribute = str(node.attr_path).lower()
        for core in ("urn:ietf:params:scim:schemas:core:2.0:user:", "urn:ietf:params:scim:schemas:core:2.0:group:"):
            attribute = attribute.removeprefix(core)
        return attribute, node.value
    return None


class DynamoScimStorage(ScimStorage):
    """Users and groups (Customer Supplied Roles) of one tenant, on DynamoDB.

    :param hash_password: Turns a cleartext password into what is stored; the
        cleartext is never written.
    """

    def __init__(
        self,
        provider: ScimProvider,
        client: Any,
        settings: Settings,
        tenant: str,
        hash_password: PasswordHasher,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.provider = provider
        self.users = UserTable(client, settings.users_table, tenant)
        self.groups = GroupTable(client, settings.groups_table, tenant)
        self.role_mappings = RoleMappingTable(client, settings.role_mappings_table, tenant)
        self.user_resources = UserResources(provider, self.groups, self.role_mappings)
        self.group_resources = GroupResources(provider, self.users, settings.max_members_in_response)
        self.hash_password = hash_password
        self.clock = clock
        self.default_page_size = settings.default_page_size
        # Users read by read_for_write, so that the write that follows does not read them again.
        self._read_for_write: dict[str, UserRecord] = {}

    supports_cursors = True

    # -- ScimStorage ----------------------------------------------------

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        with _translated():
            if _is_user(resource_type):
                record = self._user(resource_type, resource_id)
                return self.user_resources.resources(
                    resource_type, [record], with_groups=_user_needs_groups(response_parameters)
                )[0]
            group = self._group(resource_type, resource_id)
            members = None
            if response_needs(response_parameters, "members"):
                # A response is bounded; an internal read-modify-write reads every member.
                limit = self.group_resources.max_members_in_response + 1 if response_parameters else None
                members = self.groups.members(resource_id, limit)
                if response_parameters:
                    self.group_resources.check_response_size(resource_id, members)
            return self.group_resources.resource(resource_type, group, members)

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        with _translated():
            ordered = self._ordered_plan(resource_types, search_request)
            if ordered is not None:
                return self._ordered_page(*ordered, search_request, position)
            found: list[Resource[Any]] = []
            for resource_type in resource_types:
                found.extend(self._matching(resource_type, search_request))
            return page_in_memory(search_request, position, found, self._default_order)

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        now = self.clock().isoformat()
        stored = {"id": str(uuid.uuid4()), "version": 1, "created": now, "last_modified": now}
        with _translated():
            if _is_user(resource_type):
                flags = resource.model_dump(mode="json", scim_ctx=None, by_alias=True).get(ONEMODEL_USER_SCHEMA) or {}
                user = self.user_resources.record(
                    resource,
                    **stored,
                    password_hash=self._hashed(resource),
                    allow_sso_login=flags.get("allowSsoLogin") is True,
                    auto_assign_roles=flags.get("autoAssignRoles") is True,
                )
                self.users.insert(user)
                in_no_group: dict[str, list[str]] = {user.id: []}  # yet: no query needed
                return self.user_resources.resources(resource_type, [user], True, group_ids=in_no_group)[0]
            group = self.group_resources.record(resource, **stored)
            members = self.group_resources.memberships(group.id, self.group_resources.member_ids(resource))
            self.groups.insert(group, members)
            return self.group_resources.resource(resource_type, group, sorted(members, key=lambda m: m.user_id))

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        with _translated():
            if _is_user(resource_type):
                return self._update_user(resource_type, resource, expected_version)
            return self._update_group(resource_type, resource, expected_version)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        with _translated():
            if _is_user(resource_type):
                user = self._user(resource_type, resource_id)
                _check_version(expected_version, user.version)
                self.users.delete(user)
                return
            group = self._group(resource_type, resource_id)
            _check_version(expected_version, group.version)
            self.groups.delete(group)

    # -- Read-modify-write ------------------------------------------------

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> Resource[Any]:
        """The stored resource a PUT, PATCH or DELETE starts from: one key read for a user.

        A user comes without ``groups`` and effective roles: they are read-only, so no
        write uses them, and leaving them out saves a query and two batch reads. The
        record is kept for the update that follows (its write is conditioned on the
        version read here, so nothing another writer did in between is lost).
        """
        if not _is_user(resource_type):
            return self.get(resource_type, resource_id)
        with _translated():
            record = self._user(resource_type, resource_id)
            self._read_for_write[record.id] = record
            return self.user_resources.resources(resource_type, [record], with_groups=False)[0]

    def unchanged(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """A resource from :meth:`read_for_write` that no write changed, complete as a response shows it."""
        record = self._read_for_write.get(str(resource.id)) if _is_user(resource_type) else None
        if record is None:
            return resource
        with _translated():
            return self._written_user(resource_type, record)

    # -- Group membership, O(changed members) -----------------------------

    def patch_group(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, expected_version: str | None
    ) -> Resource[Any]:
        """Apply a PATCH that only touches members, displayName and externalId, without reading every member.

        Returns the group without its members; the caller reads them if its response needs them.
        """
        with _translated():
            current = self._group(resource_type, group_id)
            _check_version(expected_version, current.version)
            if change.reset:
                existing = {m.user_id for m in self.groups.members(group_id)}
                added = [user_id for user_id in change.add if user_id not in existing]
                removed = sorted(existing - set(change.add))
            else:
                existing = self.groups.existing_members(group_id, [*change.add, *change.remove])
                added = [user_id for user_id in change.add if user_id not in existing]
                removed = [user_id for user_id in change.remove if user_id in existing]
            document = {**current.document, **change.attributes()}
            document = {key: value for key, value in document.items() if value is not None}
            if not added and not removed and document == current.document:
                return self.group_resources.resource(resource_type, current, None)
            memberships = self.group_resources.memberships(group_id, added)
            updated = self.group_resources.record(
                self.group_resources.resource(resource_type, _with_document(current, document), None),
                id=current.id,
                version=current.version + 1,
                created=current.created,
                last_modified=self.clock().isoformat(),
            )
            written = self.groups.change(current, updated, memberships, removed, pinned=expected_version is not None)
            return self.group_resources.resource(resource_type, written, None)

    # -- Users ------------------------------------------------------------

    def _user(self, resource_type: ResourceType, user_id: str) -> UserRecord:
        record = self.users.get(user_id)
        if record is None:
            raise NotFoundException(detail=f"{resource_type.name} {user_id!r} not found")
        return record

    def _hashed(self, resource: Resource[Any]) -> str | None:
        password = getattr(resource, "password", None)
        return self.hash_password(password) if password is not None else None

    def _update_user(
        self, resource_type: ResourceType, resource: Resource[Any], expected_version: str | None
    ) -> Resource[Any]:
        user_id = cast(str, resource.id)
        current = self._read_for_write.pop(user_id, None)
        if current is None or version_of(expected_version) != current.version:
            current = self._user(resource_type, user_id)
        _check_version(expected_version, current.version)
        updated = self.user_resources.record(
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
            return self._written_user(resource_type, current)
        self.users.replace(current, updated)
        return self._written_user(resource_type, updated)

    def _written_user(self, resource_type: ResourceType, record: UserRecord) -> Resource[Any]:
        """The response to a user write, with its groups; memberships whose ``display`` is not the userName get it.

        The memberships come from the query the response's ``groups`` needs anyway, so
        a rename costs one update per group, and any other write nothing more. A retried
        rename repairs what an interrupted one left.
        """
        memberships = self.groups.memberships_of(record.id)
        self.groups.set_display([m for m in memberships if m.display != record.user_name], record.user_name)
        group_ids = {record.id: [m.group_id for m in memberships]}
        return self.user_resources.resources(resource_type, [record], with_groups=True, group_ids=group_ids)[0]

    def _user_candidates(self, scim_filter: ScimFilter[Any] | None) -> Sequence[UserRecord] | Iterator[UserRecord]:
        match _equality(scim_filter):
            case ("id", value):
                return [record] if (record := self.users.get(value)) else []
            case ("username", value):
                found = self.users.find_by_user_name(self.user_resources.user_name_key(value))
                return [found] if found else []
            case ("externalid", value):
                return self.users.find_by_external_id(value)
            case ("groups.value", value):
                records = self.users.get_many([m.user_id for m in self.groups.members(value)])
                return list(records.values())
        return self.users.all()

    # -- Groups -----------------------------------------------------------

    def _group(self, resource_type: ResourceType, group_id: str) -> GroupRecord:
        record = self.groups.get(group_id)
        if record is None:
            raise NotFoundException(detail=f"{resource_type.name} {group_id!r} not found")
        return record

    def _update_group(
        self, resource_type: ResourceType, resource: Resource[Any], expected_version: str | None
    ) -> Resource[Any]:
        """A whole new state of the group (PUT, or a PATCH off the fast path); only the member diff is written."""
        current = self._group(resource_type, cast(str, resource.id))
        _check_version(expected_version, current.version)
        wanted = self.group_resources.member_ids(resource)
        existing = {m.user_id: m for m in self.groups.members(current.id)}
        added = self.group_resources.memberships(current.id, [u for u in wanted if u not in existing])
        removed = sorted(set(existing) - set(wanted))
        updated = self.group_resources.record(
            resource,
            id=current.id,
            version=current.version + 1,
            created=current.created,
            last_modified=self.clock().isoformat(),
        )
        written = self.groups.change(current, updated, added, removed)
        kept = [m for user_id, m in existing.items() if user_id not in removed]
        members = sorted([*kept, *added], key=lambda m: m.user_id)
        return self.group_resources.resource(resource_type, written, members)

    def _group_candidates(self, scim_filter: ScimFilter[Any] | None) -> Sequence[GroupRecord] | Iterator[GroupRecord]:
        match _equality(scim_filter):
            case ("id", value):
                return [record] if (record := self.groups.get(value)) else []
            case ("displayname", value):
                found = self.groups.find_by_display_name(self.group_resources.display_name_key(value))
                return [found] if found else []
            case ("externalid", value):
                return self.groups.find_by_external_id(value)
            case ("members.value", value) | ("members", value):
                return list(self.groups.get_many(self.groups.group_ids_of(value)).values())
        return self.groups.all()

    # -- Search -----------------------------------------------------------

    def _ordered_plan(
        self, resource_types: list[ResourceType], request: SearchRequest[Any]
    ) -> tuple[ResourceType, ClaimIndex, str] | None:
        """The ordered index that answers a search page by page, when there is one.

        Users by userName (no filter, or ``userName sw``), groups by displayName
        (no filter, or ``displayName sw``), a group's members by user id
        (``groups.value eq``); each only in its own order or unsorted.
        """
        if len(resource_types) != 1:
            return None
        (resource_type,) = resource_types
        sort_by = str(request.sort_by).lower().rsplit(":", 1)[-1] if request.sort_by is not None else None
        node = request.filter.ast if request.filter is not None else None
        starts_with = (
            (str(node.attr_path).lower().rsplit(":", 1)[-1], node.value)
            if isinstance(node, Comparison) and node.op == CompareOperator.sw and isinstance(node.value, str)
            else None
        )
        if _is_user(resource_type):
            if sort_by in (None, "username") and (node is None or (starts_with and starts_with[0] == "username")):
                prefix = self.user_resources.user_name_key(starts_with[1]) if starts_with else ""
                return resource_type, self.users.by_user_name, prefix
            members_of = _equality(request.filter)
            if sort_by is None and members_of is not None and members_of[0] == "groups.value":
                return resource_type, self.groups.members_index(members_of[1]), ""
            return None
        if sort_by in (None, "displayname") and (node is None or (starts_with and starts_with[0] == "displayname")):
            prefix = self.group_resources.display_name_key(starts_with[1]) if starts_with else ""
            return resource_type, self.groups.by_display_name, prefix
        return None

    def _ordered_page(
        self,
        resource_type: ResourceType,
        index: ClaimIndex,
        key_prefix: str,
        request: SearchRequest[Any],
        position: Any,
    ) -> SearchPage:
        """One page read from an ordered index: O(page) with a cursor, O(startIndex + page) by index."""
        forward = not descending(request)
        if not by_cursor(request):
            total = index.count(key_prefix)
            count = total if request.count is None else request.count
            offset = request.start_index_0 or 0
            pairs = index.skip(key_prefix, offset=offset, limit=count, forward=forward) if count else []
            return SearchPage(total=total, resources=self._load(resource_type, [i for _, i in pairs], request))
        if request.count == 0:
            return SearchPage(total=None, resources=[])
        limit = request.count or self.default_page_size
        at = read_index_position(position)
        page = SearchPage(total=None, resources=[])
        if at is None or at[0] == NEXT:
            pairs, more = index.page(key_prefix, after=at[1] if at else None, limit=limit, forward=forward)
            if pairs and more:
                page.next = index_position(NEXT, pairs[-1][0])
            if pairs and at is not None:
                page.previous = index_position(PREVIOUS, pairs[0][0])
        else:
            backwards, more = index.page(key_prefix, after=at[1], limit=limit, forward=not forward)
            pairs = backwards[::-1]
            if pairs and more:
                page.previous = index_position(PREVIOUS, pairs[0][0])
            if pairs:
                page.next = index_position(NEXT, pairs[-1][0])
        page.resources = self._load(resource_type, [i for _, i in pairs], request)
        return page

    def _load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        """The resources of an index page, in its order; the filter is applied again for exactness."""
        resources: list[Resource[Any]]
        if _is_user(resource_type):
            users = self.users.get_many(ids)
            records = [users[i] for i in ids if i in users]
            resources = self.user_resources.resources(resource_type, records, _user_needs_groups(request))
        else:
            groups = self.groups.get_many(ids)
            resources = [self._group_resource(resource_type, groups[i], request) for i in ids if i in groups]
        scim_filter = request.filter
        if scim_filter is None or _equality(scim_filter) is not None:
            return resources
        return [resource for resource in resources if self._bound(resource_type, scim_filter).match(resource)]

    def _group_resource(
        self, resource_type: ResourceType, group: GroupRecord, request: SearchRequest[Any]
    ) -> Resource[Any]:
        members: list[Membership] | None = None
        if response_needs(request, "members") or filter_needs(request.filter, "members"):
            members = self.groups.members(group.id, self.group_resources.max_members_in_response + 1)
            self.group_resources.check_response_size(group.id, members)
        return self.group_resources.resource(resource_type, group, members)

    def _bound(self, resource_type: ResourceType, scim_filter: ScimFilter[Any]) -> ScimFilter[Any]:
        if scim_filter.models:
            return scim_filter
        return cast(ScimFilter[Any], cast(Any, ScimFilter)[self.provider.model_for(resource_type)](str(scim_filter)))

    def _default_order(self, resource: Resource[Any]) -> str:
        """Users by userName, groups by displayName, without regard to case, as the ordered indexes list them."""
        if isinstance(resource, Group):
            return self.group_resources.display_name_key(resource.display_name or "")
        return self.user_resources.user_name_key(getattr(resource, "user_name", None) or "")

    def _matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        """Read the candidates the query plan allows, build what the response and the filter need, keep the matches."""
        scim_filter = request.filter
        resources: list[Resource[Any]]
        if _is_user(resource_type):
            filter_needs_groups = filter_needs(scim_filter, "groups") or filter_needs(scim_filter, "roles")
            users = list(self._user_candidates(scim_filter))
            if scim_filter is not None and not filter_needs_groups and _user_needs_groups(request):
                # Filter first, then read the groups (a query per user) of the matches only.
                bound = self._bound(resource_type, scim_filter)
                bare = self.user_resources.resources(resource_type, users, with_groups=False)
                try:
                    users = [user for user, resource in zip(users, bare, strict=True) if bound.match(resource)]
                except (TypeError, ValueError) as error:
                    raise InvalidFilterException(detail=str(error)) from error
                return self.user_resources.resources(resource_type, users, with_groups=True)
            with_groups = filter_needs_groups or _user_needs_groups(request)
            resources = self.user_resources.resources(resource_type, users, with_groups)
        elif resource_type.name == "Group":
            resources = [
                self._group_resource(resource_type, group, request) for group in self._group_candidates(scim_filter)
            ]
        else:
            raise NotImplementedException(detail=f"Searching {resource_type.name} is not supported")
        if scim_filter is None:
            return resources
        bound = self._bound(resource_type, scim_filter)
        try:
            return [resource for resource in resources if bound.match(resource)]
        except (TypeError, ValueError) as error:
            raise InvalidFilterException(detail=str(error)) from error


def _is_user(resource_type: ResourceType) -> bool:
    return resource_type.name == "User"


def _user_needs_groups(parameters: ResponseParameters[Any] | None) -> bool:
    return response_needs(parameters, "groups") or response_needs(parameters, ONEMODEL_USER_SCHEMA)


def _with_document(record: GroupRecord, document: dict[str, Any]) -> GroupRecord:
    return replace(record, document=document)


@contextmanager
def _translated() -> Iterator[None]:
    """Turn the store's domain errors into the SCIM exceptions scim2-server expects."""
    try:
        yield
    except Taken as error:
        raise UniquenessException(detail=str(error)) from None
    except Conflict:
        raise PreconditionFailedException(detail="The resource changed since it was read") from None
    except NotFound:
        raise NotFoundException(detail="The resource does not exist") from None
    except Unstorable as error:
        raise InvalidValueException(detail=str(error)) from None
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        # A transaction that collided with another one on the same items: the client retries.
        if code in _RETRYABLE_CODES or "TransactionConflict" in cancellation_codes(error):
            raise Unavailable(str(error)) from error
        raise
    except botocore.exceptions.BotoCoreError as error:
        raise Unavailable(str(error)) from error
