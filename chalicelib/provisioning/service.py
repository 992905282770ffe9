"""The product's rules on top of the SCIM protocol of scim2-server.

Each override is one named step of :class:`ScimService` or :class:`ScimHandler`:
- users created through SCIM may sign in with SSO and get their roles from the
  Customer Supplied Role mapping;
- passwords must pass the password policy before anything is written;
- DELETE of a user deactivates it (``active: false``) and keeps its data;
- PATCH answers 200 with the resource, which Okta and most IdPs expect;
- a write that loses a race with another writer is retried on the new state,
  unless the client pinned a version with If-Match.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from functools import cache
from http import HTTPStatus
from typing import Any, Protocol, cast, runtime_checkable

from scim2_models import (
    Context,
    InvalidValueException,
    PatchOp,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
    User,
)
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.service import ScimService
from scim2_server.storage import ScimStorage, projection

from chalicelib.provisioning.activity import WriteNotes, document_of
from chalicelib.provisioning.attribute_names import ExtensionNames
from chalicelib.provisioning.group_patch import group_change
from chalicelib.provisioning.ignored import patch_ignored, set_aside
from chalicelib.provisioning.limits import RequestLimits
from chalicelib.provisioning.passwords import PasswordPolicy
from chalicelib.references import references, refused_references
from chalicelib.resources.groups import GroupChange
from chalicelib.schemas import OneModelUser

MAX_WRITE_ATTEMPTS = 8
MAX_USER_NAME_LENGTH = 256


class ProvisioningService(ScimService):
    """scim2-server's protocol steps, with One Model's provisioning rules."""

    def __init__(
        self, provider: Any, password_policy: PasswordPolicy, cursor_secret: str, limits: RequestLimits
    ) -> None:
        super().__init__(provider, secret=cursor_secret)
        self.password_policy = password_policy
        self.limits = limits
        self._extension_names: dict[str, ExtensionNames] = {}
        self.tenant: str | None = None
        self.tenant_password_policy: Callable[[], PasswordPolicy] = lambda: password_policy

    def for_tenant(
        self, tenant: str, password_policy: Callable[[], PasswordPolicy] | None = None
    ) -> ProvisioningService:
        """This service for one tenant's requests: its cursors sealed to the tenant, its password policy.

        :rfc:`RFC 9865 §5.2`: a cursor must not reveal or serve anything beyond its query; another
        tenant's cursor (which would tell where that tenant's page ended) is a 400 ``invalidCursor``.

        :param password_policy: Reads the tenant's policy; called once, and only for a request
            that sets a password.
        """
        bound = copy.copy(self)
        bound.tenant = tenant
        if password_policy is not None:
            bound.tenant_password_policy = cache(password_policy)
        return bound

    def _query_digest(self, resource_types: list[ResourceType], search_request: SearchRequest[Any]) -> str:  # type: ignore[override]
        """scim2-server's digest of the query a cursor serves, with the tenant sealed in."""
        digest = ScimService._query_digest(resource_types, search_request)
        return hashlib.sha256(f"{self.tenant}\0{digest}".encode()).hexdigest()[:32]

    def read_search(self, resource_types: list[ResourceType], payload: Any) -> tuple[SearchRequest[Any], Any]:
        """:rfc:`RFC 7644 §3.4.2.2`, within our limits, for GET and POST .search alike."""
        if isinstance(payload, dict):
            self.limits.check_search(payload)
            if len(resource_types) == 1:
                payload = self.qualified_parameters(resource_types[0], payload)
        return super().read_search(resource_types, payload)

    def read_response_parameters(
        self, resource_type: ResourceType, query: Mapping[str, str]
    ) -> ResponseParameters[Any]:
        """``attributes`` and ``excludedAttributes`` (:rfc:`RFC 7644 §3.9`), within our limits, names qualified."""
        self.limits.check_search({key: query[key] for key in ("attributes", "excludedAttributes") if key in query})
        return super().read_response_parameters(resource_type, self.qualified_parameters(resource_type, query))

    def read_patch(self, resource_type: ResourceType, body: bytes, content_type: str | None) -> PatchOp[Any]:
        """:rfc:`RFC 7644 §3.5.2`, within our limits before any path is parsed, extension attributes qualified."""
        patch = self.decode_body(body, content_type)
        self.limits.check_patch(patch)
        names = self.extension_names(resource_type)
        operations = _member(patch, "Operations") if isinstance(patch, dict) else None
        changed = False
        for operation in operations if isinstance(operations, list) and names.urns else []:
            path = _member(operation, "path") if isinstance(operation, dict) else None
            value = _member(operation, "value") if isinstance(operation, dict) else None
            if isinstance(path, str) and names.path(path) != path:
                _set_member(operation, "path", names.path(path))
                changed = True
            elif path is None and isinstance(value, dict) and any(names.path(key) != key for key in value):
                _set_member(operation, "value", {names.path(key): item for key, item in value.items()})
                changed = True
        if changed:
            body = json.dumps(patch).encode()
        return super().read_patch(resource_type, body, content_type)

    def qualified_parameters(self, resource_type: ResourceType, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Query parameters with unqualified extension attributes qualified (attribute_names.py)."""
        names = self.extension_names(resource_type)
        qualified = dict(parameters)
        for key, value in parameters.items():
            if not isinstance(value, str) or not names.urns:
                continue
            if key.lower() == "filter":
                qualified[key] = names.filter(value)
            elif key.lower() in ("attributes", "excludedattributes", "sortby"):
                qualified[key] = names.attribute_list(value)
        return qualified

    def extension_names(self, resource_type: ResourceType) -> ExtensionNames:
        names = self._extension_names.get(str(resource_type.id))
        if names is None:
            names = self._extension_names[str(resource_type.id)] = ExtensionNames(self.get_model(resource_type))
        return names

    def read_creation(self, resource_type: ResourceType, body: bytes, content_type: str | None) -> Resource[Any]:
        resource = super().read_creation(resource_type, body, content_type)
        check_references(resource)
        if isinstance(resource, User):
            self.check_user(resource)
            resource[OneModelUser] = OneModelUser(allow_sso_login=True, auto_assign_roles=True)
            if resource.active is None:  # OneLogin's templates omit it: a provisioned user is an enabled one
                resource.active = True
        return resource

    def apply_replacement(
        self, current: Resource[Any], replacement: Resource[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        if isinstance(replacement, User) and replacement.active is None:
            # RFC 7644 §3.5.1 lets an omitted readWrite attribute keep its value: a PUT without
            # active (OneLogin's templates) neither disables nor re-enables the account.
            replacement.active = getattr(current, "active", None)
        check_references(replacement, stored=current)
        replaced = super().apply_replacement(current, replacement, conditions)
        if isinstance(replaced, User):
            self.check_user(replaced)
        return replaced

    def apply_patch(
        self, current: Resource[Any], patch_op: PatchOp[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        stored = set(references(current))
        patched = super().apply_patch(current, patch_op, conditions)
        if patched is not None:
            check_references(patched, stored)
        if isinstance(patched, User):
            self.check_user(patched)
        return patched

    def check_user(self, user: User[Any]) -> None:
        """Refuse, before anything is written, a user the product cannot keep.

        :raises InvalidValueException: naming the attribute and the rule it breaks.
        """
        if user.user_name is not None and len(user.user_name) > MAX_USER_NAME_LENGTH:
            raise InvalidValueException(detail=f"userName must be at most {MAX_USER_NAME_LENGTH} characters long")
        if user.password is not None:
            broken = self.tenant_password_policy().violation(user.password, user.user_name)
            if broken:
                raise InvalidValueException(detail=f"password does not meet the password policy: {broken}")

    def patch_response(
        self, base_url: str, resource: Resource[Any], response_parameters: ResponseParameters[Any]
    ) -> ScimResponse:
        """:rfc:`RFC 7644 §3.5.2`: a user PATCH answers 200 with the user, which Okta expects.

        A group PATCH answers 204 unless attributes are requested, as Entra and Okta
        accept: a group's members may not fit in one response.
        """
        if not isinstance(resource, User):
            return super().patch_response(base_url, resource, response_parameters)
        response = self.replacement_response(base_url, resource, response_parameters)
        response.status = HTTPStatus.OK
        return response


def _member(members: dict[str, Any], name: str) -> Any:
    """A JSON member by its name, whatever its case (RFC 7643 §2.1)."""
    return next((value for key, value in members.items() if key.lower() == name.lower()), None)


def _set_member(members: dict[str, Any], name: str, value: Any) -> None:
    key = next((key for key in members if key.lower() == name.lower()), name)
    members[key] = value


def check_references(resource: Resource[Any], stored: Resource[Any] | set[tuple[str, str]] | None = None) -> None:
    """Refuse a reference the one rule refuses (chalicelib/references.py); what was ``stored`` before is let be.

    :raises InvalidValueException: naming the attribute.
    """
    if isinstance(stored, Resource):
        stored = set(references(stored))
    refused = refused_references(resource, stored or set())
    if refused:
        raise InvalidValueException(detail=refused)


@runtime_checkable
class ProvisioningStorage(Protocol):
    """What the provisioning rules need of a storage beyond scim2-server's ``ScimStorage`` contract."""

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> Resource[Any]:
        """The stored resource a PUT, PATCH or DELETE starts from, read as cheaply as a write allows."""
        ...

    def repair_unchanged(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """A resource from :meth:`read_for_write` that no write changed, complete as a response shows it, after
        repairing what an interrupted earlier write of it left undone (the only write it may make)."""
        ...

    def patch_group(
        self, resource_type: ResourceType, group_id: str, change: GroupChange, expected_version: str | None
    ) -> Resource[Any]:
        """Apply a member-only group PATCH in O(changed members); the group comes back without members."""
        ...

    def last_member_move(self) -> tuple[list[str], list[str]]:
        """The member ids the last :meth:`patch_group` added and removed (none when it changed nothing)."""
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

    def create(self, request: ScimRequest) -> ScimResponse:
        """:rfc:`RFC 7644 §3.3`, with ``attributes``/``excludedAttributes`` honoured as on every response (§3.9)."""
        # A copy of ScimHandler.create: its response step cannot see the query's attributes.
        with self.service.provider:
            target = self.service.route(request, Operation.create)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(resource_type, request.query)
            resource = self.service.read_creation(resource_type, request.body, request.header("Content-Type"))
            self.notes.ignored_attributes = set_aside(resource)
            with self.storage.operation():
                created = self.storage.create(resource_type, resource)
            self.notes.wrote(resource_type.name, None, created, sent=resource)
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
            # ScimHandler.delete_resource's steps, keeping the name the read found for the trail.
            current = self.storage.get(resource_type, resource_id)
            self.service.check_deletion(current, conditions)
            assert current.meta is not None
            self.storage.delete(resource_type, resource_id, expected_version=current.meta.version)
            self.notes.deleted(resource_type.name, resource_id, getattr(current, "display_name", None))
            return

        def deactivated(current: Resource[Any]) -> Resource[Any] | None:
            self.service.check_deletion(current, conditions)
            if current.active is False:  # type: ignore[attr-defined]
                return None
            current.active = False  # type: ignore[attr-defined]
            return current

        self.modify(resource_type, resource_id, conditions, deactivated, respond=False)

    def patch(self, request: ScimRequest) -> ScimResponse:
        """:rfc:`RFC 7644 §3.5.2`; a group PATCH that only moves members never reads the whole group."""
        # A copy of ScimHandler.patch: the member fast path reads the group again only when the
        # response asks for attributes, which patch_resource cannot see.
        with self.service.provider:
            target = self.service.route(request, Operation.patch)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(resource_type, request.query)
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
        result: Resource[Any] | None = None
        for attempt in _attempts(conditions):
            with attempt:
                result = self.writes.patch_group(resource_type, group_id, change, conditions.if_match)
        assert result is not None
        self.notes.patched_group(resource_type.name, result, change.attributes(), *self.writes.last_member_move())
        return result

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
            target = self.service.route(request, Operation.replace)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(resource_type, request.query)
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
    ) -> Resource[Any]:
        """Read, change and write a resource, again on the new state when another writer got there first.

        :param change: The new state of the resource it is given, or None when nothing changes.
        :param respond: Whether the caller answers with the resource; if not, an unchanged one is not completed.
        """
        result: Resource[Any] | None = None
        for attempt in _attempts(conditions):
            with attempt:
                current = self.writes.read_for_write(resource_type, resource_id)
                assert current.meta is not None
                version = current.meta.version
                before = document_of(current)
                changed = change(current)
                if changed is not None:
                    result = self.storage.update(resource_type, changed, expected_version=version)
                else:
                    result = self.writes.repair_unchanged(resource_type, current) if respond else current
                # The state written, with what the client sent that it no longer shows (a password).
                self.notes.wrote_documents(resource_type.name, before, document_of(result), document_of(changed))
        assert result is not None
        return result


class _Attempt:
    """One try of a read-modify-write; a lost race (412 without If-Match) is swallowed so the loop retries."""

    def __init__(self, number: int, last: bool, pinned: bool) -> None:
        self.number = number
        self.last = last
        self.pinned = pinned
        self.succeeded = False

    def __enter__(self) -> _Attempt:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        if error is None:
            self.succeeded = True
            return False
        return isinstance(error, PreconditionFailedException) and not self.pinned and not self.last


def _attempts(conditions: Conditions) -> Any:
    """Yield attempts until one succeeds; with If-Match there is exactly one (RFC 7644 §3.14)."""
    pinned = conditions.if_match is not None
    for number in range(1, MAX_WRITE_ATTEMPTS + 1):
        attempt = _Attempt(number, last=pinned or number == MAX_WRITE_ATTEMPTS, pinned=pinned)
        yield attempt
        if attempt.succeeded:
            return
        # Full jitter, so writers that collided do not collide again (5 ms, 10 ms, ... at most 320 ms).
        time.sleep(random.uniform(0, 0.005 * 2 ** min(number, 6)))
