"""The product's rules on top of the SCIM protocol of scim2-server: how a request is read and answered.

Each override is one named step of :class:`ScimService` (the handler that runs the writes is
:mod:`.handler`):
- users created through SCIM may sign in with SSO and get their roles from the
  Customer Supplied Role mapping;
- passwords must pass the password policy before anything is written;
- what a request may hold is bounded before it is parsed (:mod:`.limits`);
- PATCH answers 200 with the resource, which Okta and most IdPs expect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from http import HTTPStatus
from typing import Any, TypeVar, Union, cast
from urllib.parse import quote

from scim2_models import (
    ForbiddenException,
    InvalidValueException,
    ListResponse,
    PatchOp,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
    User,
)
from scim2_server.conditions import Conditions
from scim2_server.errors import MethodNotAllowedException
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation, Target
from scim2_server.service import ScimService
from scim2_server.storage import SearchPage

from chalicelib.provisioning.attribute_names import ExtensionNames
from chalicelib.provisioning.limits import RequestLimits
from chalicelib.provisioning.passwords import PasswordPolicy
from chalicelib.references import references, refused_references
from chalicelib.schemas import OneModelUser

MAX_USER_NAME_LENGTH = 256
# The role catalogue: read-only over SCIM (an operator declares roles), and not part of a search at the root.
READ_ONLY_TYPES = frozenset({"Role", "Entitlement"})
READS = frozenset({Operation.query, Operation.search, Operation.search_with_body})


T = TypeVar("T")
_KEPT_GENERICS: set[type[Any]] = set()
"""The parametrized generic models the container's requests used (``ResponseParameters[User]``, ``PatchOp[User]``,
``SearchRequest[...]``, ``ListResponse[...]``). pydantic keeps them only in a ``WeakValueDictionary``: a full garbage
collection frees them, and the next request parametrizes again (``ResponseParameters[User]``: 1.75 ms of a GET user's
CPU, measured on Python 3.13). A few classes per resource type, kept for the container's life."""


def _kept(message: T) -> T:
    """``message``, its parametrized class kept (:data:`_KEPT_GENERICS`)."""
    _KEPT_GENERICS.add(type(message))
    return message


@dataclass(frozen=True)
class TenantScope:
    """The tenant one request acts for, as the protocol steps need it.

    :param password_policy: Reads the tenant's policy; called once, and only for a request that sets a password.
    """

    tenant: str
    password_policy: Callable[[], PasswordPolicy]

    @classmethod
    def of(cls, tenant: str, password_policy: Callable[[], PasswordPolicy]) -> TenantScope:
        return cls(tenant, cache(password_policy))


CursorSecret = Callable[[], str]
"""Reads the secret the cursors are sealed with (a stage reads it from Secrets Manager once per container)."""


class CursorsOnFirstUse:
    """scim2-server's :class:`~scim2_server.cursor.Cursors`, built on the first seal or open, with the secret
    read then: a request that pages with no cursor needs neither (nor ``cryptography``'s import)."""

    def __init__(self, secret: CursorSecret) -> None:
        self._secret = secret

    @cached_property
    def _cursors(self) -> Any:
        return ScimService._build_cursors(self._secret())

    def seal(self, query: str, count: int | None, position: Any) -> str:
        return cast(str, self._cursors.seal(query, count, position))

    def open(self, cursor: str, query: str, count: int | None, timeout: int | None) -> Any:
        return self._cursors.open(cursor, query, count, timeout)


class ProvisioningService(ScimService):
    """scim2-server's protocol steps, with One Model's provisioning rules.

    The container's service has no ``scope`` (it answers /ServiceProviderConfig and renders errors);
    each request's handler gets its own, built by :meth:`for_tenant`.
    """

    def __init__(
        self,
        provider: Any,
        password_policy: PasswordPolicy,
        cursor_secret: CursorSecret,
        limits: RequestLimits,
        scope: TenantScope | None = None,
    ) -> None:
        super().__init__(provider, secret=cursor_secret)  # type: ignore[arg-type]  # _build_cursors takes it
        self.password_policy = password_policy
        self.cursor_secret = cursor_secret
        self.limits = limits
        self.scope = scope

    @staticmethod
    def _build_cursors(secret: Any) -> Any:
        """The cursors, built when a page first seals or opens one: scim2-server builds them with the service,
        which imports ``cryptography`` (8 to 12 ms of the route's cold start) for requests that page nothing,
        and would need the secret read (a Secrets Manager call on a stage) before any request is served.

        :param secret: What :class:`ProvisioningService` was given, a :data:`CursorSecret`.
        """
        if not callable(secret):
            raise ValueError("Cursor pagination needs a function that reads the secret of the service.")
        return CursorsOnFirstUse(secret)

    def for_tenant(self, scope: TenantScope) -> ProvisioningService:
        """The service of one tenant's request: its cursors sealed to the tenant, its password policy.

        :rfc:`RFC 9865 §5.2`: a cursor must not reveal or serve anything beyond its query; another
        tenant's cursor (which would tell where that tenant's page ended) is a 400 ``invalidCursor``.
        """
        return ProvisioningService(self.provider, self.password_policy, self.cursor_secret, self.limits, scope)

    def tenant_password_policy(self) -> PasswordPolicy:
        """The policy a password set by this request must pass: its tenant's, else the stage's default."""
        return self.scope.password_policy() if self.scope is not None else self.password_policy

    def _query_digest(self, resource_types: list[ResourceType], search_request: SearchRequest[Any]) -> str:  # type: ignore[override]
        """scim2-server's digest of the query a cursor serves, with the tenant sealed in."""
        digest = ScimService._query_digest(resource_types, search_request)
        tenant = self.scope.tenant if self.scope is not None else None
        return hashlib.sha256(f"{tenant}\0{digest}".encode()).hexdigest()[:32]

    def authorize(self, request: ScimRequest, target: Target, resource_type: ResourceType) -> None:
        """The role catalogue is read-only (405, ``Allow: GET``); a search at the root is of users and groups,
        as before the catalogue was published, so it leaves the catalogue out (:rfc:`RFC 7644 §3.4.2.1`).

        :raises MethodNotAllowedException: For a write on a catalogue endpoint.
        :raises ForbiddenException: For the catalogue in a root search, which leaves it out.
        """
        if str(resource_type.name) not in READ_ONLY_TYPES:
            return
        if target.operation not in READS:
            raise MethodNotAllowedException(allowed=["GET"])
        if target.endpoint is None:
            raise ForbiddenException(detail="The role catalogue is searched at its own endpoint")

    def resource_location(self, base_url: str, resource_type: ResourceType, resource_id: str) -> str:
        """scim2-server's URL of a resource, its id percent-encoded: a catalogue role's id is its name (Board Pack)."""
        return super().resource_location(base_url, resource_type, quote(resource_id, safe=""))

    def read_search(self, resource_types: list[ResourceType], payload: Any) -> tuple[SearchRequest[Any], Any]:
        """:rfc:`RFC 7644 §3.4.2.2`, within our limits, for GET and POST .search alike."""
        if isinstance(payload, dict):
            self.limits.check_search(payload)
            if len(resource_types) == 1:
                payload = self.qualified_parameters(resource_types[0], payload)
        search_request, position = super().read_search(resource_types, payload)
        return _kept(search_request), position

    def search_response(
        self, base_url: str, resource_types: list[ResourceType], page: SearchPage, search_request: SearchRequest[Any]
    ) -> ScimResponse:
        """scim2-server's, keeping the ``ListResponse`` class it parametrized (:func:`_kept`)."""
        response = super().search_response(base_url, resource_types, page, search_request)
        models: Any = Union[tuple(self.get_models())]  # noqa: UP007 (as scim2-server spells it, for the same class)
        _KEPT_GENERICS.add(cast(type[Any], ListResponse[models]))
        return response

    def read_response_parameters(
        self, resource_type: ResourceType, query: Mapping[str, str]
    ) -> ResponseParameters[Any]:
        """``attributes`` and ``excludedAttributes`` (:rfc:`RFC 7644 §3.9`), within our limits, names qualified."""
        self.limits.check_search({key: query[key] for key in ("attributes", "excludedAttributes") if key in query})
        return _kept(super().read_response_parameters(resource_type, self.qualified_parameters(resource_type, query)))

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
        return _kept(super().read_patch(resource_type, body, content_type))

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
        return _extension_names(self.get_model(resource_type))

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
        check_members(replacement)  # else a replacement equal but for a member without a value changes nothing
        replaced = super().apply_replacement(current, replacement, conditions)
        if isinstance(replaced, User):
            self.check_user(replaced)
        return replaced

    def apply_patch(
        self, current: Resource[Any], patch_op: PatchOp[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        self.limits.check_member_filters(patch_op, len(getattr(current, "members", None) or []))
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


@cache
def _extension_names(model: type[Resource[Any]]) -> ExtensionNames:
    """Computed once per model for the container: a model's extensions never change."""
    return ExtensionNames(model)


def _member(members: dict[str, Any], name: str) -> Any:
    """A JSON member by its name, whatever its case (RFC 7643 §2.1)."""
    return next((value for key, value in members.items() if key.lower() == name.lower()), None)


def _set_member(members: dict[str, Any], name: str, value: Any) -> None:
    key = next((key for key in members if key.lower() == name.lower()), name)
    members[key] = value


def check_members(resource: Resource[Any]) -> None:
    """:raises InvalidValueException: For a group member without a value (the user's id), naming members."""
    if any(not getattr(member, "value", None) for member in getattr(resource, "members", None) or []):
        raise InvalidValueException(detail="members: every member needs a value (the user's id)")


def check_references(resource: Resource[Any], stored: Resource[Any] | set[tuple[str, str]] | None = None) -> None:
    """Refuse a reference the one rule refuses (chalicelib/references.py); what was ``stored`` before is let be.

    :raises InvalidValueException: naming the attribute.
    """
    if isinstance(stored, Resource):
        stored = set(references(stored))
    refused = refused_references(resource, stored or set())
    if refused:
        raise InvalidValueException(detail=refused)
