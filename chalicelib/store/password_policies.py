"""A tenant's password policy, kept beside its role mappings (the tenant's product settings).

Item (in the role_mappings table): ``pk`` is the tenant, ``sk = settings#passwordPolicy``, with
``min_length``, ``max_length`` and ``min_character_classes``. No item: the stage's default applies.
Role mappings are ``csr#`` items of the same table, so neither reads the other.
"""

from dataclasses import dataclass

from chalicelib.store.items import ItemConverter
from chalicelib.store.table import TenantTable

SORT_KEY = "settings#passwordPolicy"


@dataclass(frozen=True)
class StoredPasswordPolicy:
    min_length: int
    max_length: int
    min_character_classes: int


POLICY_ITEM = ItemConverter(StoredPasswordPolicy)


class PasswordPolicyTable(TenantTable):
    """The password policy of one tenant."""

    def get(self) -> StoredPasswordPolicy | None:
        item = self.get_item(SORT_KEY)
        return None if item is None else POLICY_ITEM.record(item)

    def put(self, policy: StoredPasswordPolicy) -> None:
        self.client.put_item(TableName=self.table, Item={**self.key(SORT_KEY), **POLICY_ITEM.item(policy)})

    def delete(self) -> bool:
        """Back to the stage's default; whether the tenant had a policy of its own."""
        response = self.client.delete_item(TableName=self.table, Key=self.key(SORT_KEY), ReturnValues="ALL_OLD")
        return "Attributes" in response
