"""The credentials table: service accounts, their credentials, and the one-active-credential lock.

Items (all keyed by ``pk`` alone):
- ``account#<tenant>``: the tenant's SCIM service account and its permissions.
- ``client#<client id>``: a credential: tenant, keyed hash of the secret, created, revoked.
- ``active#<tenant>``: which credential is active; its conditional put enforces
  "at most one active credential per tenant".
- ``issued#<tenant>``: the set of every client ID ever issued to the tenant, for listing.
- ``refused#<client id>#<hour>``: how many requests presented the client ID with a wrong secret
  (or after its revocation) in that UTC hour (``YYYY-MM-DDTHH``); ``expires_at`` lets DynamoDB's TTL
  remove it after two days. A credential's ``last_used`` is set on its ``client#`` item.

This module must not import scim2 or pydantic: the authorizer reads it on every cold start.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chalicelib.store.batch import batch_get
from chalicelib.store.dynamodb_types import DynamoDBClient, Item

REFUSALS_KEPT_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True)
class ServiceAccount:
    tenant: str
    account_id: str
    name: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class StoredCredential:
    client_id: str
    tenant: str
    account_id: str
    description: str
    secret_hash: str
    created: str
    revoked: str | None
    last_used: str | None = None


class ActiveCredentialExists(Exception):
    """The tenant already has an active credential."""


class ServiceAccountExists(Exception):
    """The tenant already has a SCIM service account."""


def _account_item(account: ServiceAccount) -> Item:
    item: Item = {
        "pk": {"S": f"account#{account.tenant}"},
        "tenant": {"S": account.tenant},
        "account_id": {"S": account.account_id},
        "name": {"S": account.name},
    }
    if account.permissions:
        item["permissions"] = {"SS": sorted(account.permissions)}
    return item


CREDENTIAL_PREFIX = "client#"


def credential_of(item: Item) -> StoredCredential:
    """A ``client#`` item as a credential (also how the change stream reads one)."""
    return StoredCredential(
        client_id=item["client_id"]["S"],
        tenant=item["tenant"]["S"],
        account_id=item["account_id"]["S"],
        description=item["description"]["S"],
        secret_hash=item["secret_hash"]["S"],
        created=item["created"]["S"],
        revoked=item["revoked"]["S"] if "revoked" in item else None,
        last_used=item["last_used"]["S"] if "last_used" in item else None,
    )


class CredentialStore:
    """Reads and writes the credentials table, in the domain's words."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.table = table_name

    def get_service_account(self, tenant: str) -> ServiceAccount | None:
        item = self._get(f"account#{tenant}")
        if item is None:
            return None
        return ServiceAccount(
            tenant=item["tenant"]["S"],
            account_id=item["account_id"]["S"],
            name=item["name"]["S"],
            permissions=frozenset(item.get("permissions", {}).get("SS", [])),
        )

    def put_service_account(self, account: ServiceAccount) -> None:
        """Store the tenant's service account, replacing any (a change of its permissions)."""
        self.client.put_item(TableName=self.table, Item=_account_item(account))

    def insert_service_account(self, account: ServiceAccount) -> None:
        """Store the tenant's first service account.

        :raises ServiceAccountExists: When the tenant has one: replacing it would silently
            invalidate the tenant's active credential, which names the account it was issued to.
        """
        try:
            self.client.put_item(
                TableName=self.table, Item=_account_item(account), ConditionExpression="attribute_not_exists(pk)"
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ServiceAccountExists(account.tenant) from None
            raise

    def get_credential(self, client_id: str) -> StoredCredential | None:
        item = self._get(f"client#{client_id}")
        return None if item is None else credential_of(item)

    def active_credentials(self) -> list[StoredCredential]:
        """Every tenant's active credential, by tenant: a scan of the table, for an operator's full listing."""
        client_ids = []
        options: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :active)",
            "ProjectionExpression": "client_id",
            "ExpressionAttributeValues": {":active": {"S": "active#"}},
        }
        while True:
            page = self.client.scan(**options)
            client_ids += [item["client_id"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            options["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items = batch_get(self.client, self.table, [{"pk": {"S": f"client#{client_id}"}} for client_id in client_ids])
        return sorted((credential_of(item) for item in items), key=lambda credential: credential.tenant)

    def active_client_id(self, tenant: str) -> str | None:
        item = self._get(f"active#{tenant}")
        return item["client_id"]["S"] if item else None

    def insert_active_credential(self, credential: StoredCredential) -> None:
        """Store a new credential as the tenant's active one, in one transaction.

        :raises ActiveCredentialExists: When the tenant has an active credential.
        """
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": {"S": f"active#{credential.tenant}"},
                                "client_id": {"S": credential.client_id},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": f"issued#{credential.tenant}"}},
                            "UpdateExpression": "ADD client_ids :id",
                            "ExpressionAttributeValues": {":id": {"SS": [credential.client_id]}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": {"S": f"client#{credential.client_id}"},
                                "client_id": {"S": credential.client_id},
                                "tenant": {"S": credential.tenant},
                                "account_id": {"S": credential.account_id},
                                "description": {"S": credential.description},
                                "secret_hash": {"S": credential.secret_hash},
                                "created": {"S": credential.created},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise ActiveCredentialExists(credential.tenant) from None
            raise

    def mark_revoked(self, credential: StoredCredential, revoked_at: str) -> None:
        """Revoke a credential and free the tenant's active slot, in one transaction."""
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": f"client#{credential.client_id}"}},
                        "UpdateExpression": "SET revoked = :at",
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked)",
                        "ExpressionAttributeValues": {":at": {"S": revoked_at}},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": f"active#{credential.tenant}"}},
                        "ConditionExpression": "client_id = :id",
                        "ExpressionAttributeValues": {":id": {"S": credential.client_id}},
                    }
                },
            ]
        )

    def tenants(self) -> list[str]:
        """Every tenant with a service account, sorted: one Scan of the table (a few items per tenant)."""
        found: list[str] = []
        parameters: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :account)",
            "ProjectionExpression": "tenant",
            "ExpressionAttributeValues": {":account": {"S": "account#"}},
        }
        for page in self.client.get_paginator("scan").paginate(**parameters):
            found.extend(item["tenant"]["S"] for item in page["Items"])
        return sorted(found)

    def credentials_of(self, tenant: str) -> list[StoredCredential]:
        """Every credential ever issued to the tenant, oldest first."""
        item = self._get(f"issued#{tenant}")
        client_ids = item["client_ids"]["SS"] if item else []
        found = [self.get_credential(client_id) for client_id in client_ids]
        return sorted((c for c in found if c is not None), key=lambda c: c.created)

    def mark_used(self, client_id: str, at: str, unless_since: str) -> None:
        """Set the credential's last use to ``at``, unless another writer set one at or after ``unless_since``."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"client#{client_id}"}},
                UpdateExpression="SET last_used = :at",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used) OR last_used < :since)",
                ExpressionAttributeValues={":at": {"S": at}, ":since": {"S": unless_since}},
            )
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def add_refusals(self, client_id: str, hour: str, count: int, now_epoch: int) -> None:
        """Count ``count`` refused attempts of a credential in the UTC hour ``hour``: one UpdateItem."""
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"refused#{client_id}#{hour}"}},
            UpdateExpression="ADD refused :n SET expires_at = :e",
            ExpressionAttributeValues={
                ":n": {"N": str(count)},
                ":e": {"N": str(now_epoch + REFUSALS_KEPT_SECONDS)},
            },
        )

    def refusals(self, client_id: str, hours: Sequence[str]) -> int:
        """Refused attempts of a credential in these UTC hours: one BatchGetItem."""
        keys: list[Item] = [{"pk": {"S": f"refused#{client_id}#{hour}"}} for hour in hours]
        return sum(int(item["refused"]["N"]) for item in batch_get(self.client, self.table, keys))

    def _get(self, pk: str) -> Item | None:
        response = self.client.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        return response.get("Item")
