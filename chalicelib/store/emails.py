"""Email pointers in the users table: which users have an address, for ``emails.value eq`` and
``emails[type eq "work"].value eq`` (how Okta and Entra ID can match users), read by key, never by scan.

Items (``pk`` is the tenant):
- ``sk = email#<address key>#<user id>``: a pointer, holding ``user_id``. Written in the user's own
  transaction (:mod:`.users`), so a strongly consistent query of ``email#<key>#`` names every user
  with that address. The key is the address in lower case (``caseExact`` is false for ``emails.value``):
  a pointer may name more users than match (a prefix, a former address left by a backfill racing a
  write), never fewer, and the search's filter decides.
- ``sk = emailAny#<user id>``: a user with more than :data:`MAX_POINTED_EMAILS` distinct addresses (a
  user may carry 100), so its transaction stays small: a candidate for every lookup.
- ``sk = index#emails``: the tenant's mark. ``complete`` once every user has its pointers: a tenant made
  since the pointers exist starts complete; an older one gets them from ``python -m admin emails
  backfill`` (resumable: ``after`` is the last user done). Until then a lookup reads every user.
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chalicelib.store.batch import batch_write
from chalicelib.store.dynamodb_types import DeleteTypeDef, Item, PutTypeDef, WriteRequestTypeDef
from chalicelib.store.table import TenantTable, pages

EMAIL_PREFIX = "email#"
ANY_EMAIL_PREFIX = "emailAny#"
MARK = "index#emails"
COMPLETE = "complete"
MAX_POINTED_EMAILS = 10
# An address longer than this is keyed by its digest, so every pointer's key fits DynamoDB's 1,024 bytes.
MAX_KEYED_BYTES = 512
# Tenants whose mark a reader of this container saw complete: a mark never goes back.
_complete: set[tuple[str, str]] = set()


def email_key(address: str) -> str:
    lowered = address.lower()
    encoded = lowered.encode("utf-8", "surrogatepass")
    return lowered if len(encoded) <= MAX_KEYED_BYTES else "sha256:" + hashlib.sha256(encoded).hexdigest()


def pointer_keys(user_id: str, document: Mapping[str, Any]) -> list[str]:
    """The sort keys of a user's pointers, from its SCIM document's ``emails``."""
    emails = document.get("emails")
    entries = emails if isinstance(emails, list) else []
    addresses = {
        email_key(entry["value"])
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("value"), str) and entry["value"]
    }
    if len(addresses) > MAX_POINTED_EMAILS:
        return [ANY_EMAIL_PREFIX + user_id]
    return sorted(f"{EMAIL_PREFIX}{key}#{user_id}" for key in addresses)


class EmailPointers(TenantTable):
    """The email pointers and mark of one tenant."""

    def puts(self, user_id: str, keys: Iterable[str]) -> list[PutTypeDef]:
        return [{"TableName": self.table, "Item": {**self.key(sk), "user_id": {"S": user_id}}} for sk in keys]

    def deletes(self, keys: Iterable[str]) -> list[DeleteTypeDef]:
        return [{"TableName": self.table, "Key": self.key(sk)} for sk in keys]

    def holders(self, address: str) -> list[str]:
        """The ids of the users that may have this address: one strongly consistent query of its pointers."""
        return self._ids(f"{EMAIL_PREFIX}{email_key(address)}#")

    def any_holders(self) -> list[str]:
        """The users with too many addresses to point at each: candidates for every address (usually none)."""
        return self._ids(ANY_EMAIL_PREFIX)

    def _ids(self, prefix: str) -> list[str]:
        return [item["user_id"]["S"] for item in self.starting_with(prefix)]

    def complete(self) -> bool:
        """Whether every user of the tenant has its pointers (read once per container, then remembered)."""
        if (self.table, self.tenant) in _complete:
            return True
        mark = self.get_item(MARK)
        if mark is None or mark.get("state", {}).get("S") != COMPLETE:
            return False
        _complete.add((self.table, self.tenant))
        return True

    def mark_complete(self) -> None:
        self.client.put_item(TableName=self.table, Item={**self.key(MARK), "state": {"S": COMPLETE}})

    def backfill(
        self,
        users_prefix: str,
        documents: Callable[[Item], tuple[str, Mapping[str, Any]]],
        progress: Callable[[int, int], None],
    ) -> int:
        """Write the pointers of every user a page at a time, noting after each page the last user done, then
        mark the tenant complete; a run stopped half-way resumes after the last page it noted. Returns how many
        users this run covered. Pointers are idempotent puts: a user written meanwhile wrote its own.
        """
        mark = self.get_item(MARK) or {}
        if mark.get("state", {}).get("S") == COMPLETE:
            return 0
        after = mark.get("after", {}).get("S")
        total = self.count_starting_with(users_prefix)
        done = self._count_through(users_prefix, after) if after else 0
        covered = 0
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": self.tenant}, ":p": {"S": users_prefix}},
            "ConsistentRead": True,
            "Limit": 100,
        }
        if after:
            arguments["ExclusiveStartKey"] = self.key(after)
        for page in pages(self.client, **arguments):
            users = page.get("Items", [])
            requests: list[WriteRequestTypeDef] = []
            for item in users:
                user_id, document = documents(item)
                puts = self.puts(user_id, pointer_keys(user_id, document))
                requests += [{"PutRequest": {"Item": put["Item"]}} for put in puts]
            batch_write(self.client, self.table, requests)
            if users:
                last = users[-1]["sk"]["S"]
                self.client.put_item(TableName=self.table, Item={**self.key(MARK), "after": {"S": last}})
                covered += len(users)
                progress(done + covered, total)
        self.mark_complete()
        return covered

    def _count_through(self, users_prefix: str, after: str) -> int:
        """How many users a previous run covered: those up to ``after`` in key order (a counting query)."""
        counted = pages(
            self.client,
            TableName=self.table,
            Select="COUNT",
            KeyConditionExpression="pk = :t AND sk BETWEEN :p AND :after",
            ExpressionAttributeValues={":t": {"S": self.tenant}, ":p": {"S": users_prefix}, ":after": {"S": after}},
        )
        return sum(page["Count"] for page in counted)


def moved(old: Sequence[str], new: Sequence[str]) -> tuple[list[str], list[str]]:
    """The pointers a user write deletes and puts: only those whose address left or came."""
    old_keys, new_keys = set(old), set(new)
    return [key for key in old if key not in new_keys], [key for key in new if key not in old_keys]
