"""The users table: one item per user, plus one item per taken userName.

Items (``pk`` is the tenant):
- ``sk = user#<id>``: the user. ``doc`` holds the SCIM attributes as JSON (no
  id, meta or password); ``version`` counts writes; ``deleted``, when a SCIM DELETE
  deactivated the user (until a create of its userName revives it); ``user_name_key`` is the
  userName in its comparison form; ``external_id_key`` is ``<tenant>#<externalId>``
  (index ``byExternalId``, the table's only index).
- ``sk = userName#<user_name_key>``: the claim, holding ``user_id``. Written in the
  same transaction as the user, because a GSI is eventually consistent and cannot
  enforce uniqueness; it answers ``userName eq`` with two key reads, and the
  claims read in key order list the users by userName (:mod:`.claims`).
- ``sk = email#<address key>#<user id>`` (or ``emailAny#<user id>``), and the tenant's ``index#emails``
  mark: the email pointers, written in the user's transaction too (:mod:`.emails`).
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.store.batch import batch_get, batch_write
from chalicelib.store.claims import ClaimIndex
from chalicelib.store.dynamodb_types import DeleteTypeDef, DynamoDBClient, Item, PutTypeDef, WriteRequestTypeDef
from chalicelib.store.emails import EmailPointers, moved, pointer_keys
from chalicelib.store.errors import StoreError, Unstorable
from chalicelib.store.guarded import NEW, VERSION, Write, at_version, claim_moves, commit, refusals
from chalicelib.store.items import ItemConverter
from chalicelib.store.limits import check_item, partition_key_fits
from chalicelib.store.table import TenantTable
from chalicelib.store.tables import USERS_BY_EXTERNAL_ID

USER_PREFIX = "user#"
USER_NAME_PREFIX = "userName#"


@dataclass(frozen=True)
class UserRecord:
    """A stored user, as the store sees it: a SCIM document plus what the product keeps beside it."""

    id: str
    document: dict[str, Any]
    user_name: str
    user_name_key: str
    external_id: str | None
    active: bool
    version: int
    created: str
    last_modified: str
    password_hash: str | None = None
    allow_sso_login: bool = False
    auto_assign_roles: bool = False
    deleted: str | None = None
    """When a SCIM DELETE deactivated the user (None: never, or revived since): a create of its userName revives it."""


USER_ITEM = ItemConverter(UserRecord, renamed={"document": "doc"})


class UserTable(TenantTable):
    """The users of one tenant. Every key it builds starts with that tenant."""

    def __init__(self, client: DynamoDBClient, table_name: str, tenant: str) -> None:
        super().__init__(client, table_name, tenant)
        self.by_user_name = ClaimIndex(client, table_name, tenant, USER_NAME_PREFIX, "user_id")
        self.emails = EmailPointers(client, table_name, tenant)

    def get(self, user_id: str) -> UserRecord | None:
        item = self.get_item(USER_PREFIX + user_id)
        return self.record_of(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, UserRecord]:
        """Several users by id, 100 keys per call, strongly consistent."""
        keys = [self.key(USER_PREFIX + user_id) for user_id in dict.fromkeys(user_ids)]
        return {record.id: record for record in map(self.record_of, batch_get(self.client, self.table, keys))}

    def user_names_of(self, user_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The userName and its key of each of these users that exists, by id: a batch read of those attributes
        only (a group write checks its members exist, shows their userName and files them under its key)."""
        keys = [self.key(USER_PREFIX + user_id) for user_id in dict.fromkeys(user_ids)]
        projection = {
            "ProjectionExpression": "#id, #name, #key",
            "ExpressionAttributeNames": {"#id": "id", "#name": "user_name", "#key": "user_name_key"},
        }
        return {
            item["id"]["S"]: (item["user_name"]["S"], item["user_name_key"]["S"])
            for item in batch_get(self.client, self.table, keys, **projection)
        }

    def find_by_user_name(self, user_name_key: str) -> UserRecord | None:
        """``userName eq``: the uniqueness item, then the user; two strongly consistent key reads."""
        owner = self.owner_of(user_name_key)
        return self.get(owner) if owner is not None else None

    def owner_of(self, user_name_key: str) -> str | None:
        """The id of the user holding a userName: one strongly consistent key read of its claim."""
        claim = self.get_item(USER_NAME_PREFIX + user_name_key)
        return claim["user_id"]["S"] if claim else None

    def find_by_external_id(self, external_id: str) -> list[UserRecord]:
        """``externalId eq``: one query of the ``byExternalId`` index."""
        key = f"{self.tenant}#{external_id}"
        if not partition_key_fits(key):
            return []
        return [
            self.record_of(item)
            for item in self.query(
                IndexName=USERS_BY_EXTERNAL_ID,
                KeyConditionExpression="external_id_key = :k",
                ExpressionAttributeValues={":k": {"S": key}},
            )
        ]

    def all(self) -> Iterator[UserRecord]:
        """Every user of the tenant, page by page (a query of the tenant's partition, never a scan)."""
        return map(self.record_of, self.starting_with(USER_PREFIX))

    def count(self, active_only: bool = False) -> int:
        """How many users the tenant has (active ones only, if asked): a counting query, no item returned."""
        arguments: dict[str, Any] = {}
        if active_only:
            arguments = {"FilterExpression": "active = :yes", "ExpressionAttributeValues": {":yes": {"BOOL": True}}}
        return self.count_starting_with(USER_PREFIX, **arguments)

    def insert(self, record: UserRecord) -> None:
        """Store a new user and claim its userName, atomically.

        :raises Taken: When another user of the tenant holds the userName.
        """
        writes = [
            Write({"Put": {**self._put(record), **NEW}}, VERSION),
            Write({"Put": {**self._claim(record), **NEW}}, "userName"),
        ]
        writes += [Write({"Put": put}) for put in self.emails.puts(record.id, self._pointers(record))]
        commit(self.client, writes, self._refused(record))

    def bulk_insert(self, records: Sequence[UserRecord]) -> None:
        """Load users known to be new and distinct (migrations, benchmarks): batch writes, no uniqueness check."""
        requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": self._put(r)["Item"]}} for r in records]
        requests += [{"PutRequest": {"Item": self._claim(r)["Item"]}} for r in records]
        requests += [
            {"PutRequest": {"Item": put["Item"]}} for r in records for put in self.emails.puts(r.id, self._pointers(r))
        ]
        batch_write(self.client, self.table, requests)

    def replace(self, current: UserRecord, updated: UserRecord) -> None:
        """Replace ``current`` by ``updated`` if nobody wrote it meanwhile; move the userName claim if it changed.

        :raises Conflict: When the stored version is no longer ``current.version``.
        :raises NotFound: When the user is gone.
        :raises Taken: When the new userName is held by another user.
        """
        writes = [Write({"Put": {**self._put(updated), **at_version(current.version)}}, VERSION)]
        # The userName claim staying as it is, the write is one conditional put.
        writes += claim_moves(
            "userName",
            (current.user_name_key, current.user_name),
            (updated.user_name_key, updated.user_name),
            self._release(current),
            self._claim(updated),
        )
        gone, came = moved(self._pointers(current), self._pointers(updated))
        writes += [Write({"Delete": delete}) for delete in self.emails.deletes(gone)]
        writes += [Write({"Put": put}) for put in self.emails.puts(updated.id, came)]
        commit(self.client, writes, self._refused(updated))

    def delete(self, current: UserRecord) -> None:
        """Remove a user and free its userName, if nobody wrote it meanwhile."""
        user: DeleteTypeDef = {
            "TableName": self.table,
            "Key": self.key(USER_PREFIX + current.id),
            **at_version(current.version),
        }
        writes = [Write({"Delete": user}, VERSION), Write({"Delete": self._release(current)})]
        writes += [Write({"Delete": delete}) for delete in self.emails.deletes(self._pointers(current))]
        commit(self.client, writes, self._refused(current))

    def backfill_emails(self, progress: Callable[[int, int], None]) -> int:
        """Give every user of the tenant its email pointers, then mark the tenant complete (:mod:`.emails`)."""

        def document(item: Item) -> tuple[str, dict[str, Any]]:
            return item["id"]["S"], self.record_of(item).document

        return self.emails.backfill(USER_PREFIX, document, progress)

    @staticmethod
    def _pointers(record: UserRecord) -> list[str]:
        return pointer_keys(record.id, record.document)

    def _refused(self, record: UserRecord) -> Callable[[str], StoreError]:
        return refusals(lambda: self.get(record.id) is not None, record.user_name)

    def _put(self, record: UserRecord) -> PutTypeDef:
        item: Item = {**self.key(USER_PREFIX + record.id), **USER_ITEM.item(record)}
        if record.external_id is not None:
            item["external_id_key"] = {"S": f"{self.tenant}#{record.external_id}"}
        check_item(item, "user", {"external_id_key": "externalId"})
        return {"TableName": self.table, "Item": item}

    def _claim(self, record: UserRecord) -> PutTypeDef:
        if not record.user_name_key:
            # The claim's key is the userName: an empty one would be the prefix of every other claim.
            raise Unstorable("userName must not be empty")
        item: Item = {
            **self.key(USER_NAME_PREFIX + record.user_name_key),
            "user_id": {"S": record.id},
            "user_name": {"S": record.user_name},
        }
        check_item(item, "user", {"sk": "userName"})
        return {"TableName": self.table, "Item": item}

    def _release(self, record: UserRecord) -> DeleteTypeDef:
        return {
            "TableName": self.table,
            "Key": self.key(USER_NAME_PREFIX + record.user_name_key),
            "ConditionExpression": "user_id = :id",
            "ExpressionAttributeValues": {":id": {"S": record.id}},
        }

    record_of = staticmethod(USER_ITEM.record)
