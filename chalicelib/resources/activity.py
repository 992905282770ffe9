"""The activity table as the SCIM side reaches it: one tenant's trail, on the container's DynamoDB client.

The provisioning layer notes a write's changes as :class:`AttributeChange`; the adapter turns the
notes into an :class:`ActivityEntry` and writes it to :func:`tenant_trail`.
"""

from chalicelib.config import Settings
from chalicelib.store.activity import MAX_VALUE_CHARACTERS, ActivityEntry, ActivityTable, AttributeChange, now
from chalicelib.store.connection import dynamodb

__all__ = ["MAX_VALUE_CHARACTERS", "ActivityEntry", "ActivityTable", "AttributeChange", "now", "tenant_trail"]


def tenant_trail(settings: Settings, tenant: str) -> ActivityTable:
    """The tenant's trail, its entries kept for the stage's retention."""
    return ActivityTable(dynamodb(settings), settings.activity_table, tenant, settings.activity_retention_days)
