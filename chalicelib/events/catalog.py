"""The events, their names and payloads, and the EventBridge envelope they travel in.

Each event names its SCIM event URI where the SCIM events profile has one (draft-ietf-scim-events-16,
published as RFC 9967, §2.4 "Provisioning Events"): ``prov:create:notice``, ``prov:patch:notice``
(with the changed attributes), ``prov:delete``, ``prov:activate``, ``prov:deactivate``; a user revived by a
create of its userName (a rehire) is the create it answered, ``prov:create:notice``. Where the
profile has none (a user's effective roles, a credential's revocation) ``scimEvent`` is null. The
profile's Security Event Token (a signed JWT) is not used: EventBridge's envelope carries the event,
and the bus's resource policy and IAM decide who reads it. docs/reference/events.md says more.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SOURCE = "onemodel.scim"
"""The ``Source`` of every event on the bus."""
SCHEMA_VERSION = 1
SCIM_EVENT = "urn:ietf:params:scim:event:prov:"

USER_CREATED = "UserCreated"
USER_UPDATED = "UserUpdated"
USER_DEACTIVATED = "UserDeactivated"
USER_REACTIVATED = "UserReactivated"
USER_DELETED = "UserDeleted"
USER_REVIVED = "UserRevived"
USER_ROLES_CHANGED = "UserRolesChanged"
GROUP_CREATED = "GroupCreated"
GROUP_RENAMED = "GroupRenamed"
GROUP_DELETED = "GroupDeleted"
CREDENTIAL_REVOKED = "CredentialRevoked"

SCIM_EVENTS: Mapping[str, str | None] = {
    USER_CREATED: SCIM_EVENT + "create:notice",
    USER_UPDATED: SCIM_EVENT + "patch:notice",
    USER_DEACTIVATED: SCIM_EVENT + "deactivate",
    USER_REACTIVATED: SCIM_EVENT + "activate",
    USER_DELETED: SCIM_EVENT + "delete",
    USER_REVIVED: SCIM_EVENT + "create:notice",
    USER_ROLES_CHANGED: None,
    GROUP_CREATED: SCIM_EVENT + "create:notice",
    GROUP_RENAMED: SCIM_EVENT + "patch:notice",
    GROUP_DELETED: SCIM_EVENT + "delete",
    CREDENTIAL_REVOKED: None,
}
"""Every event this service publishes (its ``DetailType``), with its SCIM event URI."""


@dataclass(frozen=True)
class Event:
    """One domain event, about one resource of one tenant.

    ``sequence`` orders the events of one resource: the version of the item whose change the event
    reports (users and groups count every write); for an event derived from another item's change
    (``UserRolesChanged``, ``CredentialRevoked``), the change's time in epoch milliseconds.
    ``stream_sequence`` is the stream record's own number (ordered within one table's stream shard,
    up to 40 digits, hence a string).
    """

    name: str
    tenant: str
    resource_type: str
    resource_id: str
    sequence: int
    time: datetime
    idempotency_id: str
    stream_sequence: str
    user_name: str | None = None
    display_name: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def detail(self) -> dict[str, Any]:
        """The event's payload (EventBridge's ``Detail``), as docs/reference/events/<name>.json describes it."""
        detail: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "eventId": self.idempotency_id,
            "scimEvent": SCIM_EVENTS[self.name],
            "tenant": self.tenant,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "sequence": self.sequence,
            "streamSequence": self.stream_sequence,
            "time": self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if self.user_name is not None:
            detail["userName"] = self.user_name
        if self.display_name is not None:
            detail["displayName"] = self.display_name
        detail.update(self.data)
        return detail

    def entry(self, bus: str) -> dict[str, Any]:
        """The ``PutEvents`` entry for the stage's bus."""
        return {
            "Source": SOURCE,
            "DetailType": self.name,
            "Detail": json.dumps(self.detail(), separators=(",", ":"), sort_keys=True),
            "EventBusName": bus,
            "Time": self.time,
            "Resources": [],
        }


def idempotency_id(stream_event_id: str, name: str, resource_id: str) -> str:
    """The same for every delivery of the same change: the stream record's id, the event, its resource."""
    digest = hashlib.sha256(f"{stream_event_id}\x1f{name}\x1f{resource_id}".encode()).hexdigest()
    return digest[:32]
