"""The SCIM handler of one request: scim2-server's, with the product's writes.

- DELETE of a user deactivates it (``active: false``) and keeps its data; a later create of its
  userName revives it (a rehire, see chalicelib/resources/users.py);
- PATCH, PUT and deactivation are one read-modify-write (:meth:`ProvisioningHandler.modify`),
  retried on the new state when another writer got there first (:mod:`.attempts`);
- a group PATCH that only moves members never reads the whole group;
- every write is noted for the activity trail, with the attributes it ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Protocol, cast, runtime_checkable

from scim2_models import Context, PatchOp, Resource, ResourceType, ResponseParameters
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation, Target
from scim2_server.service import ScimService
from scim2_server.storage import ScimStorage, projection

from chalicelib.provisioning.activity import WriteNotes, document_of
from chalicelib.provisioning.attempts import attempts
from chalicelib.provisioning.group_patch import group_change
from chalicelib.provisioning.ignored import patch_ignored, set_aside
from chalicelib.resources.groups import GroupChange, GroupPatched
from chalicelib.resources.repository import WriteStart
from chalicelib.resources.users import UserCreated


@runtime_checkable
class ProvisioningStorage(Protocol):
    """What the provisioning rules need of a storage beyond scim2-server's ``ScimStorage`` contract."""

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> WriteStart:
        """The stored resource a PUT, PATCH or DELETE starts from, read as cheaply as a write allows."""
        ...

    def update_from(self, resource_type: ResourceType, start: WriteStart, resource: Resource[Any]) -> Resource[Any]:
        """Store ``resource``, the new state of ``start``, conditioned on the version ``start`` read."""
        ...

    def repair_unchanged(self, resource_type: ResourceType, start: WriteStart) -> Resource[Any]:
        """The resource of a ``start`` no write changed, complete as a response shows it, after repairing
        what an interrupted earlier write of it left undone (the only write it may make)."""
        ...

    def patch_group(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, expected_version: str | None
    ) -> GroupPatched:
        """Apply a member-only group PATCH in O(changed members): the group without members, and the moves."""
        ...

    def delete_user(self, resource_type: ResourceType, start: WriteStart, resource: Resource[Any]) -> Resource[Any]:
        """Write a user deactivated by a SCIM DELETE, marked so that a create of its userName revives it."""
        ...

    def create_or_revive(self, resource_type: ResourceType, resource: Resource[Any]) -> UserCreated:
        """Create the resource; a user's create may revive one deleted through SCIM (a rehire), which it says."""
        ...


Change = Callable[[Resource[Any]], Resource[Any] | None]


class ProvisioningHandler(ScimHandler):
    """scim2-server's handler, with soft delete for users and retries on lost races.

    Built for one request: each write it makes is noted in ``notes`` for the provisioning activity
    trail, with what the request's body held that no schema defines (:attr:`ignored_attributes`).
    """

    def __init__(self, service: ScimService, storage: ScimStorage, notes: WriteNotes | None = None) -> None:
        super().__init__(service, storage)
        self.notes = notes if notes is not None else WriteNotes()
        if not isinstance(storage, ProvisioningStorage):
            raise TypeError(f"{type(storage).__qualname__} lacks the operations of ProvisioningStorage")
        self.writes = storage

    @property
    def ignored_attributes(self) -> list[str]:
        """The names (never the values) of what the request's body held that no schema defines."""
        return self.notes.ignored_attributes

    def _routed(
        self, request: ScimRequest, operation: Operation
    ) -> tuple[Target, ResourceType, ResponseParameters[Any]]:
        """ScimHandler's first steps of an operation: what it acts on, its resource type, the caller's right to
        it, and what the response is to show."""
        target = self.service.route(request, operation)
        resource_type = self.service.resource_type_at(cast(str, target.endpoint))
        self.service.authorize(request, target, resource_type)
        return target, resource_type, self.service.read_response_parameters(resource_type, request.query)

    def create(self, request: ScimRequest) -> ScimResponse:
        """:rfc:`RFC 7644 §3.3`, with ``attributes``/``excludedAttributes`` honoured as on every response (§3.9)."""
        # A copy of ScimHandler.create: its response step cannot see the query's attributes.
        with self.service.provider:
            _, resource_type, response_parameters = self._routed(request, Operation.create)
            resource = self.service.read_creation(resource_type, request.body, request.header("Content-Type"))
            self.notes.ignored_attributes = set_aside(resource)
            with self.storage.operation():
                outcome = self.writes.create_or_revive(resource_type, resource)
            created, revived = outcome.resource, outcome.revived_from
            if revived is not None:
                self.notes.operation = "revived"
            self.notes.wrote(resource_type.name, revived, created, sent=resource)
            response = self.service.creation_response(request.base_url, created)
            if response_parameters.attributes or response_parameters.excluded_attributes:
                published = self.service.publish(request.base_url, created)
                projected = self.service.resource_response(
                    published, Context.RESOURCE_CREATION_RESPONSE, response_parameters, HTTPStatus.CREATED
                )
                projected.headers["Location"] = response.headers["Location"]
                return projected
            return response

    def delete_resource(self, resource_type: ResourceType, resource_id: str, conditions: Conditions) -> None:
        """DELETE of a user deactivates it: the data stays, and GET shows ``active: false``."""
        if resource_type.name != "User":
            # ScimHandler.delete_resource's steps, keeping the name the read found for the trail; without
            # If-Match, a member PATCH that changed the version in between is a lost race, tried again.
            for attempt in attempts(conditions):
                with attempt:
                    current = self.storage.get(resource_type, resource_id)
                    self.service.check_deletion(current, conditions)
                    assert current.meta is not None
                    self.storage.delete(resource_type, resource_id, expected_version=current.meta.version)
            self.notes.deleted(resource_type.name, resource_id, getattr(current, "display_name", None))
            return

        def deactivated(current: Resource[Any]) -> Resource[Any] | None:
            self.service.check_deletion(current, conditions)
            current.active = False  # type: ignore[attr-defined]
            return current  # the storage writes nothing when the user is inactive and marked deleted already

        self.modify(resource_type, resource_id, conditions, deactivated, respond=False, write=self.writes.delete_user)

    def patch(self, request: ScimRequest) -> ScimResponse:
        """:rfc:`RFC 7644 §3.5.2`; a group PATCH that only moves members never reads the whole group."""
        # A copy of ScimHandler.patch: the member fast path reads the group again only when the
        # response asks for attributes, which patch_resource cannot see.
        with self.service.provider:
            target, resource_type, response_parameters = self._routed(request, Operation.patch)
            patch_op = self.service.read_patch(resource_type, request.body, request.header("Content-Type"))
            self.notes.ignored_attributes = patch_ignored(self.service.get_model(resource_type), patch_op)
            conditions = self.service.read_conditions(request)
            resource_id = cast(str, target.resource_id)
            change = group_change(patch_op) if resource_type.name == "Group" else None
            with self.storage.operation():
                if change is None:
                    resource = self.patch_resource(resource_type, resource_id, patch_op, conditions)
                else:
                    resource = self.patch_members(resource_type, resource_id, change, conditions)
                    if response_parameters.attributes or response_parameters.excluded_attributes:
                        resource = self.storage.get(
                            resource_type, resource_id, **projection(self.storage, response_parameters)
                        )
            return self.service.patch_response(request.base_url, resource, response_parameters)

    def patch_members(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, conditions: Conditions
    ) -> Resource[Any]:
        patched: GroupPatched | None = None
        for attempt in attempts(conditions):
            with attempt:
                patched = self.writes.patch_group(resource_type, group_id, change, conditions.if_match)
        assert patched is not None
        self.notes.patched_group(resource_type.name, patched.group, change.attributes(), patched.added, patched.removed)
        return patched.group

    def patch_resource(
        self, resource_type: ResourceType, resource_id: str, patch_op: PatchOp[Any], conditions: Conditions
    ) -> Resource[Any]:
        # Each attempt applies the PATCH to a fresh copy of the operations.
        return self.modify(
            resource_type,
            resource_id,
            conditions,
            lambda current: self.service.apply_patch(current, patch_op.model_copy(deep=True), conditions),
        )

    def replace(self, request: ScimRequest) -> ScimResponse:
        """:rfc:`RFC 7644 §3.5.1`, starting from :meth:`ProvisioningStorage.read_for_write`."""
        # A copy of ScimHandler.replace: it reads the resource with get (groups, every member) before,
        # and outside, the retried read-modify-write; replace_resource receives that read.
        with self.service.provider:
            target, resource_type, response_parameters = self._routed(request, Operation.replace)
            replacement = self.service.read_replacement(resource_type, request.body, request.header("Content-Type"))
            self.notes.ignored_attributes = set_aside(replacement)
            with self.storage.operation():
                resource = self.replace_by_id(
                    resource_type,
                    cast(str, target.resource_id),
                    replacement,
                    self.service.read_conditions(request),
                )
            response = self.service.replacement_response(request.base_url, resource, response_parameters)
            return self.service.me_response(request, target, response)

    def replace_by_id(
        self, resource_type: ResourceType, resource_id: str, replacement: Resource[Any], conditions: Conditions
    ) -> Resource[Any]:
        return self.modify(
            resource_type,
            resource_id,
            conditions,
            lambda current: self.service.apply_replacement(current, replacement.model_copy(deep=True), conditions),
        )

    def modify(
        self,
        resource_type: ResourceType,
        resource_id: str,
        conditions: Conditions,
        change: Change,
        *,
        respond: bool = True,
        write: Callable[[ResourceType, WriteStart, Resource[Any]], Resource[Any]] | None = None,
    ) -> Resource[Any]:
        """Read, change and write a resource, again on the new state when another writer got there first.

        :param change: The new state of the resource it is given, or None when nothing changes.
        :param respond: Whether the caller answers with the resource; if not, an unchanged one is not completed.
        :param write: Writes the changed resource, the new state of a :class:`WriteStart` (default: ``update_from``).
        """
        result: Resource[Any] | None = None
        for attempt in attempts(conditions):
            with attempt:
                start = self.writes.read_for_write(resource_type, resource_id)
                current = start.resource
                before = document_of(current)
                changed = change(current)
                if changed is not None:
                    result = (write or self.writes.update_from)(resource_type, start, changed)
                else:
                    result = self.writes.repair_unchanged(resource_type, start) if respond else current
                # The state written, with what the client sent that it no longer shows (a password).
                self.notes.wrote_documents(resource_type.name, before, document_of(result), document_of(changed))
        assert result is not None
        return result
