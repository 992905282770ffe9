"""The users table: one item per user, plus one item per taken userName.

Items (``pk`` is the tenant):
- ``sk = user#<id>``: the user. ``doc`` holds the SCIM attributes as JSON (no
  id, meta or password); ``version`` counts writes; ``user_name_key`` is the
  case-folded userName (index ``byUserName``); ``external_id_key`` is
  ``<tenant>#<externalId>`` (index ``byExternalId``).
- ``sk = userName#<user_name_key>``: holds ``user_id``. Written in the same
  transaction as the user, because a GSI is eventually consistent and cannot
  enforce uniqueness; it also answers ``userName eq`` with two key reads.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chalicelib.store.batch import batch_get, batch_write
from chalicelib.store.claims import ClaimIndex
from chalicelib.store.counting import count_items
from chalicelib.store.errors import Conflict, NotFound, Taken, cancellation_codes
from chalicelib.store.limits import check_item, key_fits, partition_key_fits
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


class UserTable:
    """The users of one tenant. Every key it builds starts with that tenant."""

    def __init__(self, client: Any, table_name: str, tenant: str) -> None:
        self.client = client
        self.table = table_name
        self.tenant = tenant
        self.by_user_name = ClaimIndex(client, table_name, tenant, USER_NAME_PREFIX, "user_id")

    def get(self, user_id: str) -> UserRecord | None:
        item = self._get_item(USER_PREFIX + user_id)
        return self._record(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, UserRecord]:
        """Several users by id, 100 keys per call, strongly consistent."""
        keys = [self._key(USER_PREFIX + user_id) for user_id in dict.fromkeys(user_ids)]
        return {record.id: record for record in map(self._record, batch_get(self.client, self.table, keys))}

    def find_by_user_name(self, user_name_key: str) -> UserRecord | None:
        """``userName eq``: the uniqueness item, then the user; two strongly consistent key reads."""
        owner = self._get_item(USER_NAME_PREFIX + user_name_key)
        return self.get(owner["user_id"]["S"]) if owner else None

    def find_by_external_id(self, external_id: str) -> list[UserRecord]:
        """``externalId eq``: one query of the ``byExternalId`` index."""
        key = f"{self.tenant}#{external_id}"
        if not partition_key_fits(key):
            return []
        return [
            self._record(item)
            for item in self._query(
                IndexName=USERS_BY_EXTERNAL_ID,
                KeyConditionExpression="external_id_key = :k",
                ExpressionAttributeValues={":k": {"S": key}},
            )
        ]

    def all(self) -> Iterator[UserRecord]:
        """Every user of the tenant, page by page (a query of the tenant's partition, never a scan)."""
        for item in self._query(
            KeyConditionExpression="pk = :t AND begins_with(sk, :p)",
            ExpressionAttributeValues={":t": {"S": self.tenant}, ":p": {"S": USER_PREFIX}},
            ConsistentRead=True,
        ):
            yield self._record(item)

    def count(self, active_only: bool = False) -> int:
        """How many users the tenant has (active ones only, if asked): a counting query, no item returned."""
        arguments: dict[str, Any] = {}
        if active_only:
            arguments = {"FilterExpression": "active = :yes", "ExpressionAttributeValues": {":yes": {"BOOL": True}}}
        return count_items(self.client, self.table, self.tenant, USER_PREFIX, **arguments)

    def insert(self, record: UserRecord) -> None:
        """Store a new user and claim its userName, atomically.

        :raises Taken: When another user of the tenant holds the userName.
        """
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {**self._put(record), "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Put": {**self._claim(record), "ConditionExpression": "attribute_not_exists(pk)"}},
                ]
            )
        except botocore.exceptions.ClientError as error:
            codes = cancellation_codes(error)
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise Taken("userName", record.user_name) from None
            raise

    def bulk_insert(self, records: Sequence[UserRecord]) -> None:
        """Load users known to be new and distinct (migrations, benchmarks): batch writes, no uniqueness check."""
        requests = [{"PutRequest": {"Item": self._put(r)["Item"]}} for r in records]
        requests += [{"PutRequest": {"Item": self._claim(r)["Item"]}} for r in records]
        batch_write(self.client, self.table, requests)

    def replace(self, current: UserRecord, updated: UserRecord) -> None:
        """Replace ``current`` by ``updated`` if nobody wrote it meanwhile; move the userName claim if it changed.

        :raises Conflict: When the stored version is no longer ``current.version``.
        :raises NotFound: When the user is gone.
        :raises Taken: When the new userName is held by another user.
        """
        guarded = {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(current.version)}},
        }
        items: list[dict[str, Any]] = [{"Put": {**self._put(updated), **guarded}}]
        if updated.user_name_key != current.user_name_key:
            items.append({"Delete": self._release(current)})
            items.append({"Put": {**self._claim(updated), "ConditionExpression": "attribute_not_exists(pk)"}})
        elif updated.user_name != current.user_name:
            items.append({"Put": self._claim(updated)})
        try:
            if len(items) == 1:
                # The userName claim stays as it is: one conditional put, half a transaction's capacity.
                self.client.put_item(**items[0]["Put"])
            else:
                self.client.transact_write_items(TransactItems=items)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise (Conflict() if self.get(current.id) else NotFound()) from None
            codes = cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise (Conflict() if self.get(current.id) else NotFound()) from None
            if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
                raise Taken("userName", updated.user_name) from None
            raise

    def delete(self, current: UserRecord) -> None:
        """Remove a user and free its userName, if nobody wrote it meanwhile."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": self._key(USER_PREFIX + current.id),
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(current.version)}},
                        }
                    },
                    {"Delete": self._release(current)},
                ]
            )
        except botocore.exceptions.ClientError as error:
            if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
                raise (Conflict() if self.get(current.id) else NotFound()) from None
            raise

    def _key(self, sk: str) -> dict[str, Any]:
        return {"pk": {"S": self.tenant}, "sk": {"S": sk}}

    def _get_item(self, sk: str) -> dict[str, Any] | None:
        if not key_fits(self._key(sk)):
            return None
        response = self.client.get_item(TableName=self.table, Key=self._key(sk), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query(self, **arguments: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table, **arguments):
            yield from page.get("Items", [])

    def _put(self, record: UserRecord) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(USER_PREFIX + record.id),
            "id": {"S": record.id},
            "doc": {"S": json.dumps(record.document, separators=(",", ":"), sort_keys=True)},
            "user_name": {"S": record.user_name},
            "user_name_key": {"S": record.user_name_key},
            "user_list_pk": {"S": self.tenant},
            "active": {"BOOL": record.active},
            "version": {"N": str(record.version)},
            "created": {"S": record.created},
            "last_modified": {"S": record.last_modified},
            "allow_sso_login": {"BOOL": record.allow_sso_login},
            "auto_assign_roles": {"BOOL": record.auto_assign_roles},
        }
        if record.external_id is not None:
            item["external_id"] = {"S": record.external_id}
            item["external_id_key"] = {"S": f"{self.tenant}#{record.external_id}"}
        if record.password_hash is not None:
            item["password_hash"] = {"S": record.password_hash}
        check_item(item, "user", {"user_name_key": "userName", "external_id_key": "externalId"})
        return {"TableName": self.table, "Item": item}

    def _claim(self, record: UserRecord) -> dict[str, Any]:
        item = {
            **self._key(USER_NAME_PREFIX + record.user_name_key),
            "user_id": {"S": record.id},
            "user_name": {"S": record.user_name},
        }
        check_item(item, "user", {"sk": "userName"})
        return {"TableName": self.table, "Item": item}

    def _release(self, record: UserRecord) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": self._key(USER_NAME_PREFIX + record.user_name_key),
            "ConditionExpression": "user_id = :id",
            "ExpressionAttributeValues": {":id": {"S": record.id}},
        }

    @staticmethod
    def _record(item: dict[str, Any]) -> UserRecord:
        return UserRecord(
            id=item["id"]["S"],
            document=json.loads(item["doc"]["S"]),
            user_name=item["user_name"]["S"],
            user_name_key=item["user_name_key"]["S"],
            external_id=item["external_id"]["S"] if "external_id" in item else None,
            active=item["active"]["BOOL"],
            version=int(item["version"]["N"]),
            created=item["created"]["S"],
            last_modified=item["last_modified"]["S"],
            password_hash=item["password_hash"]["S"] if "password_hash" in item else None,
            allow_sso_login=item.get("allow_sso_login", {}).get("BOOL", False),
            auto_assign_roles=item.get("auto_assign_roles", {}).get("BOOL", False),
        )
