"""``ScimStorage`` on DynamoDB: the seam between scim2-server and our tables.

It follows the rules of :class:`scim2_server.storage.ScimStorage` (copies in
and out, fills ``id`` and ``meta``, versions every change, raises the SCIM
exceptions), which ``tests/test_storage_contract.py`` checks with
scim2-server's own ``ScimStorageContract``. One instance serves one tenant.
Each call goes to the repository of its resource type (:mod:`.users`,
:mod:`.groups`); the store's errors become SCIM exceptions here, once.

A search reads the cheapest thing its filter allows (each repository's query
plan), then evaluates the whole filter exactly in memory on what it read.
"""

import uuid
from typing import Any

from scim2_models import (
    NotImplementedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
)
from scim2_server.storage import ScimStorage, SearchPage

from chalicelib.config import Settings
from chalicelib.resources.budget import refuse_write_when_short
from chalicelib.resources.catalogue import Catalogue, CatalogueRepository
from chalicelib.resources.errors import translated
from chalicelib.resources.grants import Grants
from chalicelib.resources.groups import GroupChange, GroupPatched, GroupRepository
from chalicelib.resources.meta import now
from chalicelib.resources.paging import page_in_memory, page_of_index
from chalicelib.resources.repository import Clock, Repository, WriteStart
from chalicelib.resources.users import PasswordHasher, UserCreated, UserRepository
from chalicelib.store.connection import dynamodb
from chalicelib.store.dynamodb_types import DynamoDBClient
from chalicelib.store.groups import GroupTable
from chalicelib.store.role_catalogue import RoleCatalogueTable
from chalicelib.store.role_mappings import RoleMappingTable
from chalicelib.store.users import UserTable


class DynamoScimStorage(ScimStorage):
    """Users, groups (Customer Supplied Roles) and the role catalogue of one tenant, on DynamoDB.

    :param hash_password: Turns a cleartext password into what is stored; the
        cleartext is never written.
    """

    supports_cursors = True

    def __init__(
        self,
        provider: ScimProvider,
        client: DynamoDBClient,
        settings: Settings,
        tenant: str,
        hash_password: PasswordHasher,
        clock: Clock = now,
    ) -> None:
        self.provider = provider
        self.users = UserTable(client, settings.users_table, tenant)
        self.groups = GroupTable(client, settings.groups_table, tenant, settings.role_mappings_table)
        self.role_mappings = RoleMappingTable(client, settings.role_mappings_table, tenant)
        self.catalogue = Catalogue(self.role_mappings, RoleCatalogueTable(client, settings.role_mappings_table, tenant))
        self.user_repository = UserRepository(
            provider, self.users, self.groups, self.role_mappings, hash_password, clock, Grants(self.catalogue)
        )
        self.group_repository = GroupRepository(
            provider, self.groups, self.users, settings.max_members_in_response, clock
        )
        self.repositories: dict[str, Repository[Any]] = {
            "User": self.user_repository,
            "Group": self.group_repository,
            "Role": CatalogueRepository(provider, self.catalogue, "application", clock),
            "Entitlement": CatalogueRepository(provider, self.catalogue, "data", clock),
        }
        self.clock = clock
        self.default_page_size = settings.default_page_size

    @classmethod
    def of_tenant(
        cls, provider: ScimProvider, settings: Settings, tenant: str, hash_password: PasswordHasher
    ) -> "DynamoScimStorage":
        """The storage of one tenant, on the container's DynamoDB client."""
        return cls(provider, dynamodb(settings), settings, tenant, hash_password)

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        with translated():
            return self._repository(resource_type).get(resource_type, resource_id, response_parameters)

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        with translated():
            if len(resource_types) == 1:
                page = self._ordered_page(resource_types[0], search_request, position)
                if page is not None:
                    return page
            found: list[Resource[Any]] = []
            for resource_type in resource_types:
                found.extend(self._repository(resource_type).matching(resource_type, search_request))
            return page_in_memory(search_request, position, found, self._default_order)

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        stamp = self.clock().isoformat()
        stored = {"id": str(uuid.uuid4()), "version": 1, "created": stamp, "last_modified": stamp}
        with translated():
            refuse_write_when_short()
            return self._repository(resource_type).create(resource_type, resource, stored)

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        with translated():
            refuse_write_when_short()
            return self._repository(resource_type).update(resource_type, resource, expected_version)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        with translated():
            refuse_write_when_short()
            self._repository(resource_type).delete(resource_type, resource_id, expected_version)

    def delete_user(self, resource_type: ResourceType, start: WriteStart, resource: Resource[Any]) -> Resource[Any]:
        """A SCIM DELETE of a user: ``resource`` (deactivated) written and marked deleted, so a create revives it."""
        with translated():
            refuse_write_when_short()
            return self.user_repository.update(resource_type, resource, start.version, start, deleting=True)

    def create_or_revive(self, resource_type: ResourceType, resource: Resource[Any]) -> UserCreated:
        """A create: a user may revive one deleted through SCIM (a rehire); a group is always new."""
        if resource_type.name != "User":
            return UserCreated(self.create(resource_type, resource))
        stamp = self.clock().isoformat()
        stored = {"id": str(uuid.uuid4()), "version": 1, "created": stamp, "last_modified": stamp}
        with translated():
            refuse_write_when_short()
            return self.user_repository.create_or_revive(resource_type, resource, stored)

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> WriteStart:
        """The stored resource a PUT, PATCH or DELETE starts from, read as cheaply as a write allows."""
        with translated():
            return self._repository(resource_type).read_for_write(resource_type, resource_id)

    def update_from(self, resource_type: ResourceType, start: WriteStart, resource: Resource[Any]) -> Resource[Any]:
        """Store ``resource``, the new state of what :meth:`read_for_write` returned, if its version is unchanged."""
        with translated():
            refuse_write_when_short()
            return self._repository(resource_type).update(resource_type, resource, start.version, start)

    def repair_unchanged(self, resource_type: ResourceType, start: WriteStart) -> Resource[Any]:
        """The resource of a :class:`WriteStart` no write changed, complete as a response shows it, after
        repairing what an interrupted earlier write of it left undone (the only write it may make)."""
        with translated():
            refuse_write_when_short()
            return self._repository(resource_type).repair_unchanged(resource_type, start)

    def patch_group(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, expected_version: str | None
    ) -> GroupPatched:
        """A group PATCH that only moves members (or renames): O(changed members), whatever the group's size."""
        with translated():
            refuse_write_when_short()
            return self.group_repository.patch(resource_type, group_id, change, expected_version)

    def _repository(self, resource_type: ResourceType) -> Repository[Any]:
        repository = self.repositories.get(str(resource_type.name))
        if repository is None:
            raise NotImplementedException(detail=f"{resource_type.name} resources are not supported")
        return repository

    def _ordered_page(
        self, resource_type: ResourceType, request: SearchRequest[Any], position: Any
    ) -> SearchPage | None:
        """A page read from the resource type's ordered index, when its query plan has one."""
        repository = self._repository(resource_type)
        plan = repository.ordered_plan(resource_type, request)
        if plan is None:
            return None

        def load(ids: list[str]) -> list[Resource[Any]]:
            resources = repository.load(resource_type, ids, request)
            if request.filter is None or plan.exact:
                return resources
            return repository.matches(resource_type, request.filter, resources)

        return page_of_index(plan.index, plan.key_prefix, request, position, self.default_page_size, load)

    def _default_order(self, resource: Resource[Any]) -> str:
        """Users by userName, groups by displayName, without regard to case, as the ordered indexes list them."""
        assert resource.meta is not None
        return self.repositories[str(resource.meta.resource_type)].default_order(resource)
