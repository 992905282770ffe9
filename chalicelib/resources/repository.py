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
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

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

from chalicelib.store.claims import ClaimIndex

Clock = Callable[[], datetime]
Record = TypeVar("Record")


class Repository(ABC):
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
        self, resource_type: ResourceType, resource: Resource[Any], expected_version: str | None
    ) -> Resource[Any]:
        """Store a whole new state of a resource, if its version is still the one ``expected_version`` names."""

    @abstractmethod
    def delete(self, resource_type: ResourceType, resource_id: str, expected_version: str | None) -> None: ...

    def read_for_write(self, resource_type: ResourceType, resource_id: str) -> Resource[Any]:
        """The stored resource a PUT, PATCH or DELETE starts from."""
        return self.get(resource_type, resource_id, None)

    def unchanged(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """A resource from :meth:`read_for_write` that no write changed, complete as a response shows it."""
        return resource

    @abstractmethod
    def ordered_plan(self, request: SearchRequest[Any]) -> tuple[ClaimIndex, str] | None:
        """The ordered index (and the key prefix within it) that answers a search page by page, when one does."""

    @abstractmethod
    def load(self, resource_type: ResourceType, ids: list[str], request: SearchRequest[Any]) -> list[Resource[Any]]:
        """The resources of an index page, in its order, with what the response and the filter need."""

    @abstractmethod
    def matching(self, resource_type: ResourceType, request: SearchRequest[Any]) -> list[Resource[Any]]:
        """Read the candidates the query plan allows, build what the response and the filter need, keep the matches."""

    @abstractmethod
    def default_order(self, resource: Resource[Any]) -> str:
        """The sort key of a search without ``sortBy``: the order of the resource type's ordered index."""

    def matches(
        self, resource_type: ResourceType, scim_filter: ScimFilter[Any], resources: Sequence[Resource[Any]]
    ) -> list[Resource[Any]]:
        """The resources the filter matches, evaluated exactly in memory.

        :raises InvalidFilterException: For a comparison the values cannot make (a string against a date).
        """
        if not scim_filter.models:
            unbound = cast(Any, ScimFilter)[self.provider.model_for(resource_type)]
            scim_filter = cast(ScimFilter[Any], unbound(str(scim_filter)))
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
