"""``ScimStorage`` on DynamoDB: the seam between scim2-server and our tables.

It follows the rules of :class:`scim2_server.storage.ScimStorage` (copies in
and out, fills ``id`` and ``meta``, versions every change, raises the SCIM
exceptions), which ``tests/test_storage_contract.py`` checks with
scim2-server's own ``ScimStorageContract``. One instance serves one tenant.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import botocore.exceptions
from scim2_models import (
    Context,
    InvalidFilterException,
    Meta,
    NotFoundException,
    NotImplementedException,
    Path,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimFilter,
    ScimProvider,
    SearchRequest,
    UniquenessException,
    User,
)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import ScimStorage, SearchPage

from chalicelib.store.errors import Conflict, NotFound, Taken, Unavailable
from chalicelib.store.users import UserRecord, UserTable

PasswordHasher = Callable[[str], str]
ONEMODEL_USER_SCHEMA = "urn:onemodel:params:scim:schemas:extension:2.0:User"
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


def etag(version: int) -> str:
    return f'W/"{version}"'


def version_of(tag: str | None) -> int | None:
    """Return the write counter an ETag holds, or None when it is not one of ours."""
    if tag is None:
        return None
    text = tag.removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else -1


_USER_NAME = Path[User[Any]]("userName").resolve()


class DynamoScimStorage(ScimStorage):
    """Users (and later Groups) of one tenant, on DynamoDB.

    :param provider: Gives the models resources are built from.
    :param hash_password: Turns a cleartext password into what is stored; the
        cleartext is never written.
    """

    def __init__(
        self,
        provider: ScimProvider,
        client: Any,
        users_table: str,
        tenant: str,
        hash_password: PasswordHasher,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.provider = provider
        self.users = UserTable(client, users_table, tenant)
        self.hash_password = hash_password
        self.clock = clock

    # -- ScimStorage ----------------------------------------------------

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        with _translated():
            return self._resource(resource_type, self._stored_user(resource_type, resource_id))

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        with _translated():
            found: list[Resource[Any]] = []
            for resource_type in resource_types:
                if self._is_user(resource_type):
                    found.extend(self._search_users(resource_type, search_request.filter))
                else:
                    raise NotImplementedException(detail=f"Searching {resource_type.name} is not supported yet")
            ordered = search_request.sort(sorted(found, key=lambda r: cast(str, r.id)))
            start = search_request.start_index_0 or 0
            stop = None if search_request.count is None else start + search_request.count
            return SearchPage(total=len(ordered), resources=ordered[start:stop])

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        self._require_user(resource_type)
        now = self.clock().isoformat()
        flags = _onemodel_flags(resource)
        record = self._record(
            resource,
            id=str(uuid.uuid4()),
            version=1,
            created=now,
            last_modified=now,
            password_hash=None,
            allow_sso_login=flags.get("allowSsoLogin") is True,
            auto_assign_roles=flags.get("autoAssignRoles") is True,
        )
        with _translated():
            self.users.insert(record)
        return self._resource(resource_type, record)

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        with _translated():
            current = self._stored_user(resource_type, cast(str, resource.id))
            if expected_version is not None and version_of(expected_version) != current.version:
                raise PreconditionFailedException(detail="The user changed since the given version")
            updated = self._record(
                resource,
                id=current.id,
                version=current.version + 1,
                created=current.created,
                last_modified=self.clock().isoformat(),
                # writeOnly: a replacement without password keeps the stored one.
                password_hash=current.password_hash,
                allow_sso_login=current.allow_sso_login,
                auto_assign_roles=current.auto_assign_roles,
            )
            self.users.replace(current, updated)
            return self._resource(resource_type, updated)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        with _translated():
            current = self._stored_user(resource_type, resource_id)
            if expected_version is not None and version_of(expected_version) != current.version:
                raise PreconditionFailedException(detail="The user changed since the given version")
            self.users.delete(current)

    # -- Users ------------------------------------------------------------

    @staticmethod
    def _is_user(resource_type: ResourceType) -> bool:
        return resource_type.name == "User"

    def _require_user(self, resource_type: ResourceType) -> None:
        if not self._is_user(resource_type):
            raise NotImplementedException(detail=f"{resource_type.name} resources are not supported yet")

    def _stored_user(self, resource_type: ResourceType, resource_id: str) -> UserRecord:
        record = self.users.get(resource_id) if self._is_user(resource_type) else None
        if record is None:
            raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
        return record

    def _search_users(self, resource_type: ResourceType, scim_filter: ScimFilter[Any] | None) -> list[Resource[Any]]:
        """Read the fewest items the filter allows, then keep those it matches.

        Query plan: ``id eq`` and ``userName eq`` are key reads, ``externalId
        eq`` one index query; any other filter reads the tenant's users.
        """
        model = self._model(resource_type)
        records = self._candidates(scim_filter)
        resources = [self._resource(resource_type, record) for record in records]
        if scim_filter is None:
            return resources
        if not scim_filter.models:
            scim_filter = cast(Any, ScimFilter)[model](str(scim_filter))
        try:
            return [resource for resource in resources if scim_filter.match(resource)]
        except (TypeError, ValueError) as error:
            raise InvalidFilterException(detail=str(error)) from error

    def _candidates(self, scim_filter: ScimFilter[Any] | None) -> Iterable[UserRecord]:
        node = scim_filter.ast if scim_filter is not None else None
        if isinstance(node, Comparison) and node.op == CompareOperator.eq and isinstance(node.value, str):
            attribute = str(node.attr_path).removeprefix("urn:ietf:params:scim:schemas:core:2.0:User:").lower()
            if attribute == "id":
                record = self.users.get(node.value)
                return [record] if record else []
            if attribute == "username":
                record = self.users.find_by_user_name(self._user_name_key(node.value))
                return [record] if record else []
            if attribute == "externalid":
                return self.users.find_by_external_id(node.value)
        return self.users.all()

    # -- Conversions ------------------------------------------------------

    def _user_name_key(self, user_name: str) -> str:
        """userName is unique without regard to case (:rfc:`RFC 7643 §4.1.1`), compared as the policy compares."""
        return self.provider.policy.comparison_key(_USER_NAME, user_name)

    def _model(self, resource_type: ResourceType) -> type[Resource[Any]]:
        return cast(type[Resource[Any]], self.provider.model_for(resource_type))

    def _record(self, resource: Resource[Any], **stored: Any) -> UserRecord:
        """Return what the users table keeps of a user resource; the password only as its hash."""
        user = cast(User[Any], resource)
        document = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
        for transient in ("id", "meta", "password", "groups", ONEMODEL_USER_SCHEMA):
            document.pop(transient, None)
        document["schemas"] = [schema for schema in document.get("schemas", []) if schema != ONEMODEL_USER_SCHEMA]
        if user.password is not None:
            stored["password_hash"] = self.hash_password(user.password)
        return UserRecord(
            document=document,
            user_name=cast(str, user.user_name),
            user_name_key=self._user_name_key(cast(str, user.user_name)),
            external_id=user.external_id,
            active=user.active is not False,
            **stored,
        )

    def _resource(self, resource_type: ResourceType, record: UserRecord) -> Resource[Any]:
        document: dict[str, Any] = {
            **record.document,
            "schemas": [*record.document.get("schemas", []), ONEMODEL_USER_SCHEMA],
            ONEMODEL_USER_SCHEMA: {
                "allowSsoLogin": record.allow_sso_login,
                "autoAssignRoles": record.auto_assign_roles,
            },
            "id": record.id,
            "meta": Meta(
                resource_type=resource_type.name,
                created=datetime.fromisoformat(record.created),
                last_modified=datetime.fromisoformat(record.last_modified),
                version=etag(record.version),
            ),
        }
        return self._model(resource_type).model_validate(document, scim_ctx=Context.DEFAULT)


def _onemodel_flags(resource: Resource[Any]) -> dict[str, Any]:
    dumped = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
    flags: dict[str, Any] = dumped.get(ONEMODEL_USER_SCHEMA, {})
    return flags


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
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in _RETRYABLE_CODES:
            raise Unavailable(str(error)) from error
        raise
    except botocore.exceptions.BotoCoreError as error:
        raise Unavailable(str(error)) from error
