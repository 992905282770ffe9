"""The groups table: Customer Supplied Roles, one item per membership.

Items (``pk`` is the tenant):
- ``sk = group#<id>``: the group. ``doc`` holds displayName/externalId as JSON,
  never the members; ``version`` counts writes.
- ``sk = displayName#<key>``: the claim that keeps displayName unique per tenant.
- ``sk = member#<group id>#<user id>``: one membership. ``member_key`` is
  ``<tenant>#<user id>``, the key of the ``byMember`` index that answers "which
  groups is this user in". ``member_name_key`` is ``<tenant>#<the member's userName key>``
  (index ``byMemberName``: the groups of the user holding a userName, read beside the userName's
  claim; set when the membership is written and moved by a rename, so it may lag the user and is
  only ever a prediction its reader checks).

A rename or a delete also writes the tenant's next group-names generation (:mod:`.group_names`, in
the role_mappings table) in its transaction, naming the group, so that a name kept from an earlier
read is known stale.

Members never live inside the group item (items stop at 400 KB, groups reach
100,000 members). A group item is the commit point: a membership counts only
while its group item exists, so a create that stops half-way, or the tail of
a delete, leaves nothing any reader sees.
"""

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chalicelib.store import group_names
from chalicelib.store.batch import batch_get, batch_write
from chalicelib.store.claims import ClaimIndex
from chalicelib.store.dynamodb_types import (
    DeleteTypeDef,
    DynamoDBClient,
    Item,
    PutTypeDef,
    UpdateTypeDef,
    WriteRequestTypeDef,
)
from chalicelib.store.errors import StoreError, Unavailable
from chalicelib.store.guarded import NEW, VERSION, Write, at_version, claim_moves, commit, refusals
from chalicelib.store.items import ItemConverter
from chalicelib.store.limits import check_item, partition_key_fits, sort_key_fits
from chalicelib.store.table import TenantTable
from chalicelib.store.tables import GROUPS_BY_EXTERNAL_ID, GROUPS_BY_MEMBER, GROUPS_BY_MEMBER_NAME
from chalicelib.store.waves import each

GROUP_PREFIX = "group#"
DISPLAY_NAME_PREFIX = "displayName#"
MEMBER_PREFIX = "member#"
TRANSACTION_LIMIT = 100
# A rename or delete whose group-names generation another one wrote first reads it again and retries, this many times.
NAMES_ATTEMPTS = 8
# After a query found the byMemberName index missing (a stage whose infra predates it, or DynamoDB still building
# it), the container reads without it for this long before it tries again.
ABSENT_INDEX_RETRY_SECONDS = 300.0
_index_absent_until: dict[str, float] = {}


@dataclass(frozen=True)
class GroupRecord:
    id: str
    document: dict[str, Any]
    display_name: str
    display_name_key: str
    external_id: str | None
    version: int
    created: str
    last_modified: str


@dataclass(frozen=True)
class Membership:
    group_id: str
    user_id: str
    display: str | None = None
    user_name_key: str | None = None
    """The member's userName key when the membership was written or last re-keyed (``byMemberName``)."""


class _NamesMoved(StoreError):
    """Another rename or delete of the tenant's groups wrote the group-names generation this write read."""


GROUP_ITEM = ItemConverter(GroupRecord, renamed={"document": "doc"})
MEMBERSHIP_ITEM = ItemConverter(Membership)


class GroupTable(TenantTable):
    """The groups and memberships of one tenant. Every key it builds starts with that tenant."""

    def __init__(self, client: DynamoDBClient, table_name: str, tenant: str, names_table: str | None = None) -> None:
        """:param names_table: The table of the tenant's group-names generation (role_mappings), which a rename or
        a delete increments; without it the table only reads, creates and changes members."""
        super().__init__(client, table_name, tenant)
        self.names_table = names_table
        self.by_display_name = ClaimIndex(client, table_name, tenant, DISPLAY_NAME_PREFIX, "group_id")

    def members_index(self, group_id: str) -> ClaimIndex:
        """A group's memberships, in user-id order, as an ordered index of user ids."""
        return ClaimIndex(self.client, self.table, self.tenant, f"{MEMBER_PREFIX}{group_id}#", "user_id")

    def get(self, group_id: str) -> GroupRecord | None:
        item = self.get_item(GROUP_PREFIX + group_id)
        return self.record_of(item) if item else None

    def get_many(self, group_ids: Sequence[str]) -> dict[str, GroupRecord]:
        keys = [self.key(GROUP_PREFIX + group_id) for group_id in dict.fromkeys(group_ids)]
        return {record.id: record for record in map(self.record_of, batch_get(self.client, self.table, keys))}

    def find_by_display_name(self, display_name_key: str) -> GroupRecord | None:
        owner = self.get_item(DISPLAY_NAME_PREFIX + display_name_key)
        return self.get(owner["group_id"]["S"]) if owner else None

    def find_by_external_id(self, external_id: str) -> list[GroupRecord]:
        key = f"{self.tenant}#{external_id}"
        if not partition_key_fits(key):
            return []
        items = self.query(
            IndexName=GROUPS_BY_EXTERNAL_ID,
            KeyConditionExpression="external_id_key = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        )
        return [self.record_of(item) for item in items]

    def all(self) -> Iterator[GroupRecord]:
        return map(self.record_of, self.starting_with(GROUP_PREFIX))

    def count(self) -> int:
        """How many groups the tenant has: a counting query, no item returned."""
        return self.count_starting_with(GROUP_PREFIX)

    def members(self, group_id: str, limit: int | None = None) -> list[Membership]:
        """The group's memberships in user-id order, at most ``limit`` of them; one query of the group's range."""
        found: list[Membership] = []
        if not sort_key_fits(f"{MEMBER_PREFIX}{group_id}#"):
            return found
        for item in self.starting_with(f"{MEMBER_PREFIX}{group_id}#"):
            if limit is not None and len(found) >= limit:
                break
            found.append(self.membership_of(item))
        return found

    def existing_members(self, group_id: str, user_ids: Sequence[str]) -> set[str]:
        keys = [self.key(f"{MEMBER_PREFIX}{group_id}#{user_id}") for user_id in dict.fromkeys(user_ids)]
        return {item["user_id"]["S"] for item in batch_get(self.client, self.table, keys)}

    def group_ids_of(self, user_id: str) -> list[str]:
        """The groups a user belongs to: one query of the ``byMember`` index (eventually consistent)."""
        return [membership.group_id for membership in self.memberships_of(user_id)]

    def memberships_of(self, user_id: str) -> list[Membership]:
        key = f"{self.tenant}#{user_id}"
        if not partition_key_fits(key):
            return []
        items = self.query(
            IndexName=GROUPS_BY_MEMBER,
            KeyConditionExpression="member_key = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        )
        return [self.membership_of(item) for item in items]

    def memberships_named(self, user_name_key: str) -> list[Membership] | None:
        """The memberships filed under a userName key (index ``byMemberName``, eventually consistent): a
        prediction of the groups of the user holding it, which may name a former holder's or miss some.

        None when the index cannot be read (not created yet, or still being built): the caller reads by id.
        """
        key = f"{self.tenant}#{user_name_key}"
        if not partition_key_fits(key) or time.monotonic() < _index_absent_until.get(self.table, 0.0):
            return None
        try:
            items = list(
                self.query(
                    IndexName=GROUPS_BY_MEMBER_NAME,
                    KeyConditionExpression="member_name_key = :k",
                    ExpressionAttributeValues={":k": {"S": key}},
                )
            )
        except botocore.exceptions.ClientError as error:
            message = error.response["Error"].get("Message", "")
            # DynamoDB says ValidationException (missing, or still backfilling), moto ResourceNotFoundException.
            missing = error.response["Error"]["Code"] in {"ValidationException", "ResourceNotFoundException"}
            if not missing or GROUPS_BY_MEMBER_NAME not in message:
                raise
            _index_absent_until[self.table] = time.monotonic() + ABSENT_INDEX_RETRY_SECONDS
            return None
        return [self.membership_of(item) for item in items]

    def set_display(self, memberships: Sequence[Membership], display: str, user_name_key: str) -> None:
        """Give these memberships of one user a new ``display`` (its userName) and file them under its userName
        key: one conditional update each, all at once (one round trip).

        A membership removed meanwhile stays removed: the update requires the item.
        """
        each(lambda membership: self._set_display(membership, display, user_name_key), memberships)

    def _set_display(self, membership: Membership, display: str, user_name_key: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key(f"{MEMBER_PREFIX}{membership.group_id}#{membership.user_id}"),
                UpdateExpression="SET display = :d, user_name_key = :u, member_name_key = :k",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={
                    ":d": {"S": display},
                    ":u": {"S": user_name_key},
                    ":k": {"S": f"{self.tenant}#{user_name_key}"},
                },
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def insert(self, record: GroupRecord, members: Sequence[Membership]) -> None:
        """Store a new group with its members; the group item is written last, as the commit point.

        :raises Taken: When another group of the tenant has the displayName.
        """
        group_writes = [
            Write({"Put": {**self._put(record), **NEW}}, VERSION),
            Write({"Put": {**self._claim(record), **NEW}}, "displayName"),
        ]
        inline = len(members) <= TRANSACTION_LIMIT - len(group_writes)
        if not inline:
            batch_write(
                self.client, self.table, [{"PutRequest": {"Item": self._member_put(m)["Item"]}} for m in members]
            )
        member_writes = [Write({"Put": self._member_put(m)}) for m in members] if inline else []
        try:
            commit(self.client, group_writes + member_writes, self._refused(record))
        except (StoreError, botocore.exceptions.ClientError):
            if not inline:
                self._delete_memberships(members)
            raise

    def change(
        self,
        current: GroupRecord,
        updated: GroupRecord,
        add: Sequence[Membership] = (),
        remove: Sequence[str] = (),
        *,
        pinned: bool = True,
    ) -> GroupRecord:
        """Write a new state of the group and only the memberships that change: O(changes), whatever its size.

        Changes that fit one transaction (100 items) commit atomically with the
        group item. Larger ones first commit the group item (its version check,
        new version and displayName claim) in one transaction, then write the
        memberships in batches: every membership write is idempotent, so a retry
        of an interrupted request converges to the same state.

        Membership changes commute: unless the caller ``pinned`` the version
        (If-Match) or the group's own attributes change, the group item only gets
        its version incremented, so concurrent member PATCHes never conflict.

        :raises Conflict: When the group's version is no longer ``current.version``.
        :raises NotFound: When the group is gone.
        :raises Taken: When the new displayName belongs to another group.
        """
        claim_writes = claim_moves(
            "displayName",
            (current.display_name_key, current.display_name),
            (updated.display_name_key, updated.display_name),
            self._release(current),
            self._claim(updated),
        )
        renamed = current.id if updated.display_name != current.display_name else None
        commutes = not pinned and not claim_writes and updated.document == current.document
        group_write = Write({"Put": {**self._put(updated), **at_version(current.version)}}, VERSION)
        if commutes:
            increment: UpdateTypeDef = {
                "TableName": self.table,
                "Key": self.key(GROUP_PREFIX + current.id),
                "UpdateExpression": "SET version = version + :one, last_modified = :now",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":now": {"S": updated.last_modified}},
            }
            group_write = Write({"Update": increment}, VERSION)
        group_writes = [group_write, *claim_writes]
        member_keys = [self.key(f"{MEMBER_PREFIX}{current.id}#{user_id}") for user_id in remove]
        # Every item is built (and checked) before anything is written.
        puts = [self._member_put(m) for m in add]
        refused = self._refused(updated)
        if len(group_writes) + (renamed is not None) + len(add) + len(remove) <= TRANSACTION_LIMIT:
            member_writes = [Write({"Put": put}) for put in puts]
            member_writes += [Write({"Delete": {"TableName": self.table, "Key": key}}) for key in member_keys]
            self._commit(group_writes + member_writes, refused, renamed)
        else:
            self._commit(group_writes, refused, renamed)
            requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": put["Item"]}} for put in puts]
            requests += [{"DeleteRequest": {"Key": key}} for key in member_keys]
            batch_write(self.client, self.table, requests)
        if commutes:
            # Other writers may have incremented the version too: read the one this write left.
            return self.get(current.id) or updated
        return updated

    def delete(self, current: GroupRecord) -> None:
        """Delete the group and its claim atomically, then its memberships (invisible from that moment)."""
        group: DeleteTypeDef = {
            "TableName": self.table,
            "Key": self.key(GROUP_PREFIX + current.id),
            **at_version(current.version),
        }
        writes = [Write({"Delete": group}, VERSION), Write({"Delete": self._release(current)})]
        self._commit(writes, self._refused(current), current.id)
        self._delete_memberships(self.members(current.id))

    def _commit(self, writes: list[Write], refused: Callable[[str], StoreError], renamed: str | None) -> None:
        """Commit ``writes``; when they rename or delete the group ``renamed``, with the tenant's next group-names
        generation, read first and read again when another rename or delete wrote it meanwhile.

        :raises Unavailable: When other renames and deletes kept writing it first.
        """
        if renamed is None:
            commit(self.client, writes, refused)
            return
        if self.names_table is None:
            raise RuntimeError("a group table made without the names table cannot rename or delete a group")

        def refused_or_moved(guard: str) -> StoreError:
            return _NamesMoved() if guard == group_names.GUARD else refused(guard)

        key = self.key(group_names.SORT_KEY)
        for attempt in range(NAMES_ATTEMPTS):
            found = self.client.get_item(TableName=self.names_table, Key=key, ConsistentRead=True).get("Item")
            current = group_names.generation_of(found)
            names = group_names.next_generation(self.names_table, self.tenant, current, renamed)
            try:
                commit(self.client, [*writes, names], refused_or_moved)
                return
            except _NamesMoved:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # full jitter: 5 ms, 10 ms, ... 640 ms at most
        raise Unavailable("other renames and deletes of the tenant's groups kept writing the group-names generation")

    def _refused(self, record: GroupRecord) -> Callable[[str], StoreError]:
        return refusals(lambda: self.get(record.id) is not None, record.display_name)

    def _delete_memberships(self, members: Sequence[Membership]) -> None:
        batch_write(
            self.client,
            self.table,
            [{"DeleteRequest": {"Key": self.key(f"{MEMBER_PREFIX}{m.group_id}#{m.user_id}")}} for m in members],
        )

    def _put(self, record: GroupRecord) -> PutTypeDef:
        item: Item = {**self.key(GROUP_PREFIX + record.id), **GROUP_ITEM.item(record)}
        if record.external_id is not None:
            item["external_id_key"] = {"S": f"{self.tenant}#{record.external_id}"}
        check_item(item, "group", {"external_id_key": "externalId"})
        return {"TableName": self.table, "Item": item}

    def _claim(self, record: GroupRecord) -> PutTypeDef:
        item: Item = {
            **self.key(DISPLAY_NAME_PREFIX + record.display_name_key),
            "group_id": {"S": record.id},
            "display_name": {"S": record.display_name},
        }
        check_item(item, "group", {"sk": "displayName"})
        return {"TableName": self.table, "Item": item}

    def _release(self, record: GroupRecord) -> DeleteTypeDef:
        return {
            "TableName": self.table,
            "Key": self.key(DISPLAY_NAME_PREFIX + record.display_name_key),
            "ConditionExpression": "group_id = :id",
            "ExpressionAttributeValues": {":id": {"S": record.id}},
        }

    def _member_put(self, membership: Membership) -> PutTypeDef:
        item: Item = {
            **self.key(f"{MEMBER_PREFIX}{membership.group_id}#{membership.user_id}"),
            **MEMBERSHIP_ITEM.item(membership),
            "member_key": {"S": f"{self.tenant}#{membership.user_id}"},
        }
        if membership.user_name_key:
            item["member_name_key"] = {"S": f"{self.tenant}#{membership.user_name_key}"}
        check_item(
            item, "membership", {"sk": "members.value", "member_key": "members.value", "member_name_key": "userName"}
        )
        return {"TableName": self.table, "Item": item}

    membership_of = staticmethod(MEMBERSHIP_ITEM.record)
    record_of = staticmethod(GROUP_ITEM.record)
