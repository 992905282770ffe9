"""Users as SCIM resources: records of the users table in, ``User`` resources out.

A user's ``groups`` and the product extension's roles are not stored on the
user: they come from the memberships (``byMember`` index) and the role
mappings, read only when a response or a filter needs them.
"""

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, cast

from scim2_models import Meta, Path, Resource, ResourceType, ScimProvider, User

from chalicelib.store.groups import GroupTable
from chalicelib.store.role_mappings import RoleMappingTable, effective_roles
from chalicelib.store.users import UserRecord

ONEMODEL_USER_SCHEMA = "urn:onemodel:params:scim:schemas:extension:2.0:User"
# Attributes derived at read time, never written to the users table.
DERIVED = ("id", "meta", "password", "groups", ONEMODEL_USER_SCHEMA)
MAX_CONCURRENT_QUERIES = 16
_USER_NAME = Path[User[Any]]("userName").resolve()


def etag(version: int) -> str:
    return f'W/"{version}"'


def meta(resource_type: ResourceType, version: int, created: str, last_modified: str) -> Meta:
    return Meta(
        resource_type=resource_type.name,
        created=datetime.fromisoformat(created),
        last_modified=datetime.fromisoformat(last_modified),
        version=etag(version),
    )


class UserResources:
    """Turns user records into resources and back, for one tenant."""

    def __init__(self, provider: ScimProvider, groups: GroupTable, role_mappings: RoleMappingTable) -> None:
        self.provider = provider
        self.groups = groups
        self.role_mappings = role_mappings

    def user_name_key(self, user_name: str) -> str:
        """userName is unique without regard to case (:rfc:`RFC 7643 §4.1.1`), compared as the policy compares."""
        return self.provider.policy.comparison_key(_USER_NAME, user_name)

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
            data_access, application_access = effective_roles(self.role_mappings.get_many(names) if names else [])
            product.update(
                customerSuppliedRoles=names,
                dataAccessRoles=data_access,
                applicationAccessRoles=application_access,
            )
        return document
