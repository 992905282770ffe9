"""The seam each resource type fills: how its SCIM resources are read, written and searched in the store.

:class:`~chalicelib.resources.storage.DynamoScimStorage` keeps scim2-server's
storage contract by handing each call to the repository of its resource type;
a repository never asks which type it serves. Its rules, those of
:class:`scim2_server.storage.ScimStorage`: resources go out as fresh copies
with ``id`` and ``meta``; every write that changes something bumps the version
and is conditioned on the version read; uniqueness breaks raise
``UniquenessException``, a missing resource ``NotFoundException``.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from scim2_models import (
    InvalidFilterException,
    NotFoundException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimFilter,
    ScimProvider,
    SearchRequest,
)
from scim2_models.path import CompareOperator

from chalicelib.resources.query import indexed_comparison
from chalicelib.store.claims import ClaimIndex

Clock = Callable[[], datetime]
Record = TypeVar("Record")


@dataclass(frozen=True)
class IndexPlan:
    """An ordered index that answers a search page by page."""

    index: ClaimIndex
    key_prefix: str = ""
    exact: bool = False
    """Whether the index answers the filter by itself; else the filter is evaluated on each page it reads."""


@dataclass(frozen=True)
class WriteStart:
    """The stored resource a PUT, PATCH or DELETE starts from, and what its repository read to build it.

    The caller hands it back to :meth:`Repository.update` (or :meth:`Repository.repair_unchanged`): the
    write is conditioned on ``version``, and the repository need not read again what ``read`` holds.
    """

    resource: Resource[Any]
    version: str
    """The version read; the write is refused (412, retried) if another writer changed it since."""
    read: object = None
    """What the repository read beside the resource, opaque to the caller (None: nothing kept)."""

    @classmethod
    def of(cls, resource: Resource[Any], read: object = None) -> "WriteStart":
        assert resource.meta is not None and resource.meta.version is not None
        return cls(resource, resource.meta.version, read)


class Repository(ABC, Generic[Record]):
    """The resources of one type, for one tenant."""

    def __init__(self, provider: ScimProvider, clock: Clock) -> None:
        self.provider = provider
        self.clock = clock

    @abstractmethod
    def get(
        self, resource_type: ResourceType, resource_id: str, response_parameters: ResponseParameters[Any] | None
    ) -> Resource[Any]:
        """The resource with what ``response_parameters`` ask for (everything, for None: a read-modify-write)."""

    @abstractmethod
    def create(self, resource_type: ResourceType, resource: Resource[Any], stored: dict[str, Any]) -> Resource[Any]:
        """Store a new resource; ``stored`` holds its ``id``, ``version``, ``created`` and ``last_modified``."""

    @abstractmethod
    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        expected_version: str | None,
        start: WriteStart | None = None,
    ) -> Resource[Any]:
        """Store a whole new state of a resource, if its version is still the one ``expected_version`` names.

        :param start: What :meth:`read_for_write` returned, when the write starts from it.
        """

    @abstractmethod
    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None: ...

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> WriteStart:
        """The stored resource a PUT, PATCH or DELETE starts from, for the :meth:`update` that follows."""
        return WriteStart.of(self.get(resource_type, resource_id, None))

    def repair_unchanged(self, resource_type: ResourceType, start: WriteStart) -> Resource[Any]:
        """The resource of a :class:`WriteStart` no write changed, complete as a response shows it, after
        repairing what an interrupted earlier write of it left undone (the only write it may make)."""
        return start.resource

    @abstractmethod
    def ordered_plan(self, resource_type: ResourceType, request: SearchRequest[Any]) -> IndexPlan | None:
        """The ordered index that answers a search page by page, when there is one."""

    @abstractmethod
    def load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        """The resources of an index page, in its order, with what the response and the filter need."""

    @abstractmethod
    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        """Read the candidates the query plan allows, build what the response and the filter need, keep the matches."""

    @abstractmethod
    def default_order(self, resource: Resource[Any]) -> str:
        """The sort key of a search without ``sortBy``: the order of the resource type's ordered index."""

    @abstractmethod
    def lookups(self) -> Mapping[str, Callable[[str], Iterable[Record]]]:
        """How the records with an attribute equal to a string are read, by attribute URN: the indexed ones."""

    @abstractmethod
    def every(self) -> Iterable[Record]:
        """Every record of the tenant, page by page."""

    def candidates(
        self,
        resource_type: ResourceType,
        scim_filter: ScimFilter[Any] | None,
        lookups: Mapping[str, Callable[[str], Iterable[Record]]] | None = None,
    ) -> Iterable[Record]:
        """The records a search must look at: those an ``eq`` on an indexed attribute designates, else all.

        :param lookups: The search's own :meth:`lookups`, when it reads something beside the records.
        """
        found = indexed_comparison(scim_filter, self.model(resource_type), CompareOperator.eq)
        lookup = (lookups if lookups is not None else self.lookups()).get(found[0]) if found is not None else None
        return lookup(found[1]) if found is not None and lookup is not None else self.every()

    def model(self, resource_type: ResourceType) -> type[Resource[Any]]:
        return cast(type[Resource[Any]], self.provider.model_for(resource_type))

    def matches(
        self, resource_type: ResourceType, scim_filter: ScimFilter[Any], resources: Sequence[Resource[Any]]
    ) -> list[Resource[Any]]:
        """The resources the filter matches, evaluated exactly in memory.

        :raises InvalidFilterException: For a comparison the values cannot make (a string against a date).
        """
        if not scim_filter.models:
            scim_filter = cast(ScimFilter[Any], cast(Any, ScimFilter)[self.model(resource_type)](str(scim_filter)))
        try:
            return [resource for resource in resources if scim_filter.match(resource)]
        except (TypeError, ValueError) as error:
            raise InvalidFilterException(detail=str(error)) from error

    @staticmethod
    def found(resource_type: ResourceType, resource_id: str, record: Record | None) -> Record:
        """:raises NotFoundException: When there is no ``record``."""
        if record is None:
            raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
        return record


def one(record: Record | None) -> list[Record]:
    return [] if record is None else [record]
