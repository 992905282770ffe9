"""A tenant's role catalogue: what ``/Roles`` and ``/Entitlements`` list, and what a user's grants are checked against.

The catalogue of a kind is every role the tenant's role mappings name (Application
Access Roles for ``application``, Data Access Roles for ``data``), plus the roles an
operator declared (:mod:`chalicelib.store.role_catalogue`). A role's id and value are its
name, so a client may grant it by either; names compare without regard to case.

Reading it costs one query of the declared roles and one of the mappings: a
tenant has tens to hundreds of mappings, and the list is a full listing a client
asked for. A grant check reads the declared roles by key first and the mappings
only for a value none declares.
"""

import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from scim2_models import (
    Meta,
    NotImplementedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
)

from chalicelib.resources.budget import refuse_write_when_short
from chalicelib.resources.meta import etag
from chalicelib.resources.repository import Clock, IndexPlan, Repository, WriteStart
from chalicelib.store.role_catalogue import DeclaredRole, RoleCatalogueTable, RoleKind
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable, role_key

KIND_TYPES: dict[RoleKind, str] = {"application": "Application Access Role", "data": "Data Access Role"}
# Which resource type lists which kind: Application Access Roles are roles, Data Access Roles entitlements.
RESOURCE_KINDS: dict[str, RoleKind] = {"Role": "application", "Entitlement": "data"}
MAX_DESCRIBED_MAPPINGS = 5
MAX_ROLE_NAME_LENGTH = 256
"""A declared role's name, a grant's value and a catalogue id in a path: one bound for all three."""
MAX_ROLE_DESCRIPTION_LENGTH = 1024


@dataclass(frozen=True)
class CatalogueRole:
    """A role a user may be granted directly."""

    name: str
    kind: RoleKind
    description: str
    declared: str | None
    """When an operator declared it; None for a role only a mapping names."""
    mapped_by: tuple[str, ...]
    """The Customer Supplied Roles whose mapping names it, sorted."""


def _mapped(mapping: RoleMapping, kind: RoleKind) -> tuple[str, ...]:
    return mapping.application_access_roles if kind == "application" else mapping.data_access_roles


def _description(role: DeclaredRole | None, mapped_by: Sequence[str]) -> str:
    if role is not None and role.description:
        return role.description
    if not mapped_by:
        return "Declared for direct grants; no role mapping names it yet."
    shown = ", ".join(mapped_by[:MAX_DESCRIBED_MAPPINGS])
    more = len(mapped_by) - MAX_DESCRIBED_MAPPINGS
    return f"Given by the role mapping of {shown}" + (f" and {more} more" if more > 0 else "")


class Catalogue:
    """The role catalogue of one tenant."""

    def __init__(self, mappings: RoleMappingTable, declared: RoleCatalogueTable) -> None:
        self.mappings = mappings
        self.declared = declared

    def roles(self, kind: RoleKind) -> list[CatalogueRole]:
        """Every role of a kind, by case-folded name."""
        declared = {role_key(role.name): role for role in self.declared.declared(kind)}
        spelled: dict[str, str] = {}
        mapped_by: dict[str, list[str]] = {}
        for mapping in self.mappings.all():
            for name in _mapped(mapping, kind):
                spelled.setdefault(role_key(name), name)
                mapped_by.setdefault(role_key(name), []).append(mapping.customer_supplied_role)
        found = []
        for key in sorted(set(declared) | set(spelled)):
            role = declared.get(key)
            sources = sorted(mapped_by.get(key, []), key=str.casefold)
            found.append(
                CatalogueRole(
                    name=role.name if role is not None else spelled[key],
                    kind=kind,
                    description=_description(role, sources),
                    declared=role.declared if role is not None else None,
                    mapped_by=tuple(sources),
                )
            )
        return found

    def spellings(self, kind: RoleKind, names: Sequence[str]) -> dict[str, str]:
        """The catalogue's spelling of each of ``names`` it holds, by case-folded name; the others are absent."""
        wanted = {role_key(name) for name in names}
        if not wanted:
            return {}
        found = {role_key(role.name): role.name for role in self.declared.get_many(kind, list(wanted))}
        if wanted - set(found):
            for mapping in self.mappings.all():
                for name in _mapped(mapping, kind):
                    if role_key(name) in wanted:
                        found.setdefault(role_key(name), name)
        return found


class CatalogueRepository(Repository[CatalogueRole]):
    """The roles of one kind as read-only SCIM resources (``Role`` or ``Entitlement``)."""

    def __init__(self, provider: ScimProvider, catalogue: Catalogue, kind: RoleKind, clock: Clock) -> None:
        super().__init__(provider, clock)
        self.catalogue = catalogue
        self.kind = kind

    def get(
        self, resource_type: ResourceType, resource_id: str, response_parameters: ResponseParameters[Any] | None
    ) -> Resource[Any]:
        found = None
        if len(resource_id) <= MAX_ROLE_NAME_LENGTH:  # a longer id names no role: nothing read, nothing folded
            wanted = role_key(resource_id)
            found = next((role for role in self.every() if role_key(role.name) == wanted), None)
        return self.resource(resource_type, self.found(resource_type, resource_id, found))

    def create(self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]) -> Resource[Any]:
        raise self._read_only(resource_type)

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        expected_version: str | None,
        start: WriteStart | None = None,
    ) -> Resource[Any]:
        raise self._read_only(resource_type)

    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None:
        raise self._read_only(resource_type)

    @staticmethod
    def _read_only(resource_type: ResourceType) -> NotImplementedException:
        return NotImplementedException(
            detail=f"{resource_type.name} resources are read-only: an operator declares them (roles catalogue add)"
        )

    def ordered_plan(self, resource_type: ResourceType, request: SearchRequest[Any]) -> IndexPlan | None:
        return None

    def load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        wanted = {role_key(i) for i in ids}
        return [self.resource(resource_type, role) for role in self.every() if role_key(role.name) in wanted]

    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        resources = [self.resource(resource_type, role) for role in self.every()]
        return resources if request.filter is None else self.matches(resource_type, request.filter, resources)

    def default_order(self, resource: Resource[Any]) -> str:
        return role_key(cast(str, resource.id))

    def lookups(self) -> Mapping[str, Callable[[str], Iterable[CatalogueRole]]]:
        return {}

    def every(self) -> list[CatalogueRole]:
        return self.catalogue.roles(self.kind)

    def resource(self, resource_type: ResourceType, role: CatalogueRole) -> Resource[Any]:
        """The role as a SCIM resource; its ETag is a digest of what it shows, so it moves when that changes."""
        document: dict[str, Any] = {
            "schemas": [str(resource_type.schema_)],
            "id": role.name,
            "displayName": role.name,
            "value": role.name,
            "type": KIND_TYPES[role.kind],
            "description": role.description,
            "supported": True,
        }
        digest = hashlib.sha256(repr(sorted(document.items())).encode()).hexdigest()
        declared = datetime.fromisoformat(role.declared) if role.declared else None
        document["meta"] = Meta(
            resource_type=resource_type.name,
            created=declared,
            last_modified=declared,
            version=etag(int(digest[:12], 16)),
        )
        return self.model(resource_type).model_validate(document, scim_ctx=None)


class CatalogueError(ValueError):
    """A catalogue change refused, with the reason in words for the operator, a stable code and the field."""

    def __init__(self, message: str, code: str = "invalid_role_name", field: str = "name") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def check_role_name(name: str) -> str:
    """A declared role's name: what a user's grant and a /Roles/{id} path can hold.

    :raises CatalogueError: For an empty or too long name, or one with ``/`` or a control character.
    """
    name = name.strip()
    if not name or len(name) > MAX_ROLE_NAME_LENGTH or len(name.encode("utf-8", "surrogatepass")) > 900:
        raise CatalogueError(f"A role's name is 1 to {MAX_ROLE_NAME_LENGTH} characters long")
    if "/" in name or any(unicodedata.category(character) in ("Cc", "Cf") for character in name):
        raise CatalogueError("A role's name holds no '/' and no control or invisible character (it is its SCIM id)")
    return name


def declare_role(
    table: RoleCatalogueTable, kind: RoleKind, name: str, description: str, clock: Clock
) -> tuple[DeclaredRole, bool]:
    """Declare a role (or redescribe one) so that users may be granted it before any group maps to it.

    :returns: The role as stored, and whether this changed it: declaring it again as it is writes nothing.
    """
    if len(description) > MAX_ROLE_DESCRIPTION_LENGTH:
        raise CatalogueError(
            f"A description is at most {MAX_ROLE_DESCRIPTION_LENGTH} characters long",
            "invalid_description",
            "description",
        )
    if any(unicodedata.category(character) == "Cc" and character != "\n" for character in description):
        raise CatalogueError("A description holds no control character", "invalid_description", "description")
    role = DeclaredRole(check_role_name(name), kind, description.strip(), clock().isoformat())
    refuse_write_when_short()
    unchanged = table.declare(role)
    return (role, True) if unchanged is None else (unchanged, False)


def withdraw_role(table: RoleCatalogueTable, kind: RoleKind, name: str) -> DeclaredRole | None:
    """Withdraw a declared role: new grants of it are refused (unless a mapping names it); users keep theirs.

    :returns: The role withdrawn, None when none was declared.
    """
    refuse_write_when_short()
    return table.withdraw(kind, name)
