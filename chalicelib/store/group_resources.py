"""Groups (Customer Supplied Roles) as SCIM resources: records and memberships in, ``Group`` resources out."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from scim2_models import Group, InvalidValueException, Path, Resource, ResourceType, ScimProvider, TooManyException

from chalicelib.store.groups import GroupRecord, Membership
from chalicelib.store.user_resources import meta
from chalicelib.store.users import UserTable

_DISPLAY_NAME = Path[Group]("displayName").resolve()
MAX_NAMED_IDS = 10


class _Unchanged:
    """Marks an attribute a PATCH leaves as it is."""


UNCHANGED = _Unchanged()


@dataclass
class GroupChange:
    """The net effect of a PATCH that only touches members, displayName and externalId.

    ``reset`` means the members are replaced: every current member not in ``add`` goes.
    """

    reset: bool = False
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    display_name: str | _Unchanged = UNCHANGED
    external_id: str | _Unchanged | None = UNCHANGED

    def attributes(self) -> dict[str, Any]:
        """The changed attributes, by SCIM name; None removes one."""
        changes: dict[str, Any] = {}
        if not isinstance(self.display_name, _Unchanged):
            changes["displayName"] = self.display_name
        if not isinstance(self.external_id, _Unchanged):
            changes["externalId"] = self.external_id
        return changes


class GroupResources:
    """Turns group records and memberships into resources and back, for one tenant."""

    def __init__(self, provider: ScimProvider, users: UserTable, max_members_in_response: int) -> None:
        self.provider = provider
        self.users = users
        self.max_members_in_response = max_members_in_response

    def display_name_key(self, display_name: str) -> str:
        """displayName is unique per tenant without regard to case, as userName is."""
        return self.provider.policy.comparison_key(_DISPLAY_NAME, display_name)

    def record(self, resource: Resource[Any], **stored: Any) -> GroupRecord:
        group = cast(Group, resource)
        if not group.display_name:
            raise InvalidValueException(detail="displayName is required")
        document = resource.model_dump(mode="json", scim_ctx=None, exclude_none=True, by_alias=True)
        for derived in ("id", "meta", "members"):
            document.pop(derived, None)
        return GroupRecord(
            document=document,
            display_name=group.display_name,
            display_name_key=self.display_name_key(group.display_name),
            external_id=group.external_id,
            **stored,
        )

    def member_ids(self, resource: Resource[Any]) -> list[str]:
        """The user ids a group resource lists, in order, without repeats.

        :raises InvalidValueException: For a member that is not a user (nested groups are not supported).
        """
        ids: dict[str, None] = {}
        for member in cast(Group, resource).members or []:
            if member.type not in (None, "User"):
                raise InvalidValueException(
                    detail=f"members: {member.value!r} is a {member.type}; only Users can be members"
                )
            if not member.value:
                raise InvalidValueException(detail="members: every member needs a value (the user's id)")
            ids[member.value] = None
        return list(ids)

    def memberships(self, group_id: str, user_ids: Sequence[str]) -> list[Membership]:
        """Memberships of existing users of this tenant, with their userName as display.

        :raises InvalidValueException: Naming the ids that are not users of this tenant; nothing is written.
        """
        found = self.users.get_many(user_ids) if user_ids else {}
        unknown = [user_id for user_id in user_ids if user_id not in found]
        if unknown:
            named = ", ".join(repr(user_id) for user_id in unknown[:MAX_NAMED_IDS])
            more = f" and {len(unknown) - MAX_NAMED_IDS} more" if len(unknown) > MAX_NAMED_IDS else ""
            raise InvalidValueException(detail=f"members: no user with id {named}{more} in this tenant")
        return [Membership(group_id, user_id, found[user_id].user_name) for user_id in user_ids]

    def check_response_size(self, group_id: str, members: Sequence[Membership]) -> None:
        """A group too large for one response answers 400 tooMany, naming the ways to read it."""
        if len(members) > self.max_members_in_response:
            raise TooManyException(
                detail=f"Group {group_id} has more than {self.max_members_in_response} members, too many for one "
                "response: read it with excludedAttributes=members and list its members page by page with "
                f'GET /Users?filter=groups.value eq "{group_id}"'
            )

    def resource(
        self, resource_type: ResourceType, record: GroupRecord, members: Sequence[Membership] | None
    ) -> Resource[Any]:
        document: dict[str, Any] = {
            **record.document,
            "id": record.id,
            "meta": meta(resource_type, record.version, record.created, record.last_modified),
        }
        if members is not None:
            document["members"] = [
                {"value": m.user_id, "display": m.display, "$ref": f"Users/{m.user_id}", "type": "User"}
                for m in members
            ]
        model = cast(type[Resource[Any]], self.provider.model_for(resource_type))
        return model.model_validate(document, scim_ctx=None)
