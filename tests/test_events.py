"""Provisioning events: what the tables' streams give a consumer, through the consumer the stream functions run.

The stream is moto's (DynamoDB Streams read in-process), fed to the consumer by make run's local stream
function (devserver/streams.py), which retries and sets aside as Lambda does with make deploy's settings.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import jsonschema
import pytest

from chalicelib.config import settings
from chalicelib.events.catalog import SCIM_EVENTS, Event
from chalicelib.events.changes import EventBuilder
from chalicelib.events.consumer import StreamConsumer, stage_tables
from chalicelib.events.publishing import EventBridgePublisher, PublishFailed, QueueDeadLetters
from chalicelib.store.connection import dynamodb
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.streams import table_names
from devserver.streams import STREAMS_CONFIG, LocalStreamFunction, StreamPoller, StreamTail
from tests.conftest import PROJECT_DIR, Scim, Tenant, user_body
from tests.helpers import CORE_GROUP, ONEMODEL_USER, patch_body

SCHEMAS_DIR = PROJECT_DIR / "docs" / "reference" / "events"
PASSWORD = "Correct-Horse-Battery-9"


@dataclass
class Recorded:
    """A publisher that keeps what it was given; ``fail`` decides, per event, that PutEvents fails."""

    events: list[Event] = field(default_factory=list)
    calls: int = 0
    fail: Any = None

    def publish(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.fail is not None and any(self.fail(event) for event in events):
            raise PublishFailed("injected")
        self.events += events


@dataclass
class Stream:
    poller: StreamPoller
    published: Recorded
    dead_letters_url: str
    sqs: Any

    def deliver(self, rounds: int = 1) -> list[Event]:
        for _ in range(rounds):
            self.poller.poll()
        return self.published.events

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.dead_letters_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def of_user(self, user_id: str) -> list[Event]:
        return [event for event in self.published.events if event.resource_id == user_id]


def _aws(service: str, **options: Any) -> Any:
    return boto3.session.Session().client(service, region_name="us-east-1", **options)


@pytest.fixture
def stream(scim: Scim) -> Iterator[Stream]:
    config = settings()
    client = dynamodb(config)
    sqs = _aws("sqs")
    dead_letters_url = sqs.create_queue(QueueName="scim-test-events-dead-letters")["QueueUrl"]
    dead_letters = QueueDeadLetters(sqs, dead_letters_url)
    published = Recorded()
    names = table_names(config)
    tail = StreamTail(_aws("dynamodbstreams", config=STREAMS_CONFIG), client, list(names))
    for arn in tail.arns:  # what earlier tests of this module wrote is not this test's
        tail.read(arn)
    consumer = StreamConsumer(names, EventBuilder(stage_tables(config)), published, dead_letters)
    functions = {arn: LocalStreamFunction(consumer, dead_letters) for arn in tail.arns}
    yield Stream(StreamPoller(tail, functions), published, dead_letters_url, sqs)


def _group(name: str, *member_ids: str) -> dict[str, Any]:
    members = [{"value": member_id} for member_id in member_ids]
    return {"schemas": [CORE_GROUP], "displayName": name, "members": members}


def _replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def _mappings(tenant: Tenant) -> RoleMappingTable:
    return RoleMappingTable(dynamodb(settings()), settings().role_mappings_table, tenant.name)


def _payloads(events: Sequence[Event]) -> str:
    return json.dumps([event.entry("bus") for event in events], default=str)


def test_the_issue_scenario_gives_each_event_once_in_order_with_the_mapped_roles(
    scim: Scim, tenant: Tenant, stream: Stream
) -> None:
    # Given a group mapped to One Model roles
    _mappings(tenant).put(RoleMapping("Finance", ("finance-data",), ("dashboards",)))
    group = scim.post("/Groups", _group("Finance"))
    # When a user is created, added to it, deactivated through SCIM, and the mapping changes with the CLI's call,
    # each write's events delivered before the next write (the streams of different tables are read apart)
    user = scim.post("/Users", user_body(password=PASSWORD)).json
    stream.deliver()
    add = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    assert scim.patch(f"/Groups/{group.json['id']}", add).status_code in (200, 204)
    stream.deliver()
    assert scim.patch(f"/Users/{user['id']}", patch_body(_replace("active", False))).status_code == 200
    stream.deliver()
    _mappings(tenant).put(RoleMapping("Finance", ("finance-data", "payroll"), ("dashboards",)))
    stream.deliver()

    # Then the user's events are these four, once each, in order
    events = stream.of_user(user["id"])
    assert [event.name for event in events] == [
        "UserCreated",
        "UserRolesChanged",
        "UserDeactivated",
        "UserRolesChanged",
    ]
    added, changed = events[1].detail(), events[3].detail()
    assert added["roles"]["before"] == {
        "customerSuppliedRoles": [],
        "dataAccessRoles": [],
        "applicationAccessRoles": [],
    }
    assert added["roles"]["after"] == {
        "customerSuppliedRoles": ["Finance"],
        "dataAccessRoles": ["finance-data"],
        "applicationAccessRoles": ["dashboards"],
    }
    assert added["cause"] == "Membership"
    assert changed["roles"]["before"]["dataAccessRoles"] == ["finance-data"]
    assert changed["roles"]["after"]["dataAccessRoles"] == ["finance-data", "payroll"]
    assert changed["cause"] == "RoleMapping" and changed["customerSuppliedRole"] == "Finance"
    assert all(event.tenant == "acme" and event.user_name == "bjensen@example.com" for event in events)
    assert len({event.idempotency_id for event in events}) == 4
    # Sequences stay exact in a JSON reader that keeps numbers as doubles (JavaScript); the stream's own is a string.
    assert all(0 < event.sequence < 2**53 and event.detail()["streamSequence"].isdigit() for event in events)
    assert [event.name for event in stream.published.events if event.resource_type == "Group"] == ["GroupCreated"]
    # and no password, hash or client secret in any payload
    assert PASSWORD not in _payloads(stream.published.events)
    assert "argon2" not in _payloads(stream.published.events)
    assert tenant.client_secret not in _payloads(stream.published.events)


def test_a_scim_delete_deactivates_then_deletes_and_a_rehire_revives_the_same_user(
    scim: Scim, tenant: Tenant, stream: Stream
) -> None:
    # Given a user in a mapped group
    _mappings(tenant).put(RoleMapping("Finance", ("finance-data",), ()))
    user = scim.post("/Users", user_body()).json
    scim.post("/Groups", _group("Finance", user["id"]))
    stream.deliver()
    # When the IdP deletes it, then creates its userName again (a rehire)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    deleted = [event.name for event in stream.deliver() if event.resource_id == user["id"]]
    rehired = scim.post("/Users", {**user_body(), "title": "Analyst"})
    assert rehired.status_code == 201 and rehired.json["id"] == user["id"]
    stream.deliver(rounds=2)

    # Then the delete is a deactivation, then a deletion (prov:delete); the rehire revives the same user, active,
    # with its new attributes, and out of the group it was in
    events = stream.of_user(user["id"])
    names = [event.name for event in events]
    assert names[: len(deleted)] == deleted
    assert deleted[-2:] == ["UserDeactivated", "UserDeleted"]
    assert events[len(deleted) - 1].detail()["scimEvent"] == "urn:ietf:params:scim:event:prov:delete"
    revived = names[len(deleted) :]
    assert revived[:2] == ["UserRevived", "UserReactivated"]
    assert revived.count("UserRevived") == 1 and "UserUpdated" in revived
    roles = [event.detail() for event in events[len(deleted) :] if event.name == "UserRolesChanged"]
    assert roles[-1]["roles"]["after"]["customerSuppliedRoles"] == []
    assert roles[-1]["roles"]["before"]["customerSuppliedRoles"] == ["Finance"]
    # A reactivation of a deleted user ends its deletion too (Entra ID's restore)
    scim.delete(f"/Users/{user['id']}")
    stream.deliver()
    scim.patch(f"/Users/{user['id']}", patch_body(_replace("active", True)))
    assert [event.name for event in stream.deliver()[-2:]] == ["UserRevived", "UserReactivated"]


def _extension(scim: Scim, user_id: str) -> dict[str, list[str]]:
    shown = scim.get(f"/Users/{user_id}").json[ONEMODEL_USER]
    keys = ("customerSuppliedRoles", "dataAccessRoles", "applicationAccessRoles")
    return {key: shown.get(key, []) for key in keys}  # an empty list is left out of a SCIM answer


def test_direct_grants_and_the_role_source_move_roles_as_a_scim_get_shows_them(
    scim: Scim, tenant: Tenant, stream: Stream
) -> None:
    from chalicelib.store.role_catalogue import DeclaredRole, RoleCatalogueTable
    from chalicelib.store.role_sources import RoleSource, RoleSourceTable

    table = settings().role_mappings_table
    _mappings(tenant).put(RoleMapping("Finance", ("Payroll",), ("Dashboards",)))
    catalogue = RoleCatalogueTable(dynamodb(settings()), table, tenant.name)
    catalogue.declare(DeclaredRole("Auditor", "application", "", "2026-01-02T03:04:05+00:00"))
    role_source = RoleSourceTable(dynamodb(settings()), table, tenant.name)

    seen = len(stream.deliver())

    def roles_changed() -> list[dict[str, Any]]:
        """The UserRolesChanged published since the last call."""
        nonlocal seen
        events = stream.deliver()[seen:]
        seen += len(events)
        return [event.detail() for event in events if event.name == "UserRolesChanged"]

    # A user created with a direct grant, then put in a mapped group, then the grant withdrawn
    user = scim.post("/Users", user_body(roles=[{"value": "auditor"}])).json
    (granted,) = roles_changed()
    assert (granted["cause"], granted["roles"]["after"]["applicationAccessRoles"]) == ("DirectGrant", ["Auditor"])
    assert granted["roles"]["before"]["applicationAccessRoles"] == []
    group = scim.post("/Groups", _group("Finance", user["id"])).json
    (member,) = roles_changed()
    assert member["roles"]["after"] == _extension(scim, user["id"])
    assert member["roles"]["after"]["applicationAccessRoles"] == ["Auditor", "Dashboards"]
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "remove", "path": "roles"}))
    (withdrawn,) = roles_changed()
    assert withdrawn["cause"] == "DirectGrant" and withdrawn["roles"]["after"] == _extension(scim, user["id"])

    # The tenant's roles come from a SAML attribute: decided at each sign-in, and no group change moves them
    role_source.put(RoleSource("saml-attribute", "memberOf"))
    (switched,) = roles_changed()
    assert (switched["cause"], switched["roleSource"], switched["roles"]["after"]) == (
        "RoleSource",
        "saml-attribute",
        None,
    )
    assert switched["roles"]["before"]["dataAccessRoles"] == ["Payroll"]
    scim.patch(f"/Groups/{group['id']}", patch_body({"op": "remove", "path": f'members[value eq "{user["id"]}"]'}))
    role_source.put(RoleSource("saml-attribute", "groups"))  # the attribute alone: the same source
    assert roles_changed() == []

    # and from SCIM groups again: the roles its groups and grants give now
    role_source.put(RoleSource())
    (back,) = roles_changed()
    assert (back["roleSource"], back["roles"]["before"]) == ("scim-groups", None)
    assert (
        back["roles"]["after"]
        == _extension(scim, user["id"])
        == {
            "customerSuppliedRoles": [],
            "dataAccessRoles": [],
            "applicationAccessRoles": [],
        }
    )
    for detail in (granted, member, withdrawn, switched, back):
        jsonschema.validate(detail, _schema("UserRolesChanged"), cls=jsonschema.Draft202012Validator)


def test_user_updates_name_their_changed_paths_and_never_a_value(scim: Scim, stream: Stream) -> None:
    user = scim.post("/Users", user_body()).json
    changes = patch_body(_replace("name.givenName", "Babs"), _replace("password", PASSWORD), _replace("active", False))
    scim.patch(f"/Users/{user['id']}", changes)
    scim.patch(f"/Users/{user['id']}", patch_body(_replace("active", True)))
    events = stream.deliver()
    assert [(e.name, e.sequence) for e in events] == [
        ("UserCreated", 1),
        ("UserDeactivated", 2),
        ("UserUpdated", 2),
        ("UserReactivated", 3),
    ]
    assert events[2].detail()["changedAttributes"] == ["name.givenName", "password"]
    assert events[2].detail()["scimEvent"] == "urn:ietf:params:scim:event:prov:patch:notice"
    assert PASSWORD not in _payloads(events) and "argon2" not in _payloads(events)


def test_a_group_renamed_or_deleted_changes_its_members_roles(scim: Scim, tenant: Tenant, stream: Stream) -> None:
    _mappings(tenant).put(RoleMapping("Sales", ("sales-data",), ()))
    stream.deliver()
    user = scim.post("/Users", user_body()).json
    group = scim.post("/Groups", _group("Sales", user["id"])).json
    stream.deliver()  # a fan-out reads the group's members when it runs: each write is delivered before the next
    scim.patch(f"/Groups/{group['id']}", patch_body(_replace("displayName", "Sales EMEA")))
    stream.deliver()
    scim.patch(f"/Groups/{group['id']}", patch_body(_replace("displayName", "Sales")))
    stream.deliver()
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    events = stream.deliver()

    names = [(event.name, event.resource_type) for event in events if event.name != "UserCreated"]
    assert names == [
        ("GroupCreated", "Group"),
        ("UserRolesChanged", "User"),  # created with the user in it
        ("GroupRenamed", "Group"),
        ("UserRolesChanged", "User"),  # Sales -> Sales EMEA: the mapping no longer applies
        ("GroupRenamed", "Group"),
        ("UserRolesChanged", "User"),
        ("GroupDeleted", "Group"),
        ("UserRolesChanged", "User"),  # its membership went with it
    ]
    roles = [event.detail()["roles"] for event in events if event.name == "UserRolesChanged"]
    assert [r["after"]["dataAccessRoles"] for r in roles] == [["sales-data"], [], ["sales-data"], []]
    assert roles[-1]["before"]["customerSuppliedRoles"] == ["Sales"]
    assert [event.detail()["cause"] for event in events if event.name == "UserRolesChanged"] == [
        "GroupCreated",
        "GroupRenamed",
        "GroupRenamed",
        "GroupDeleted",
    ]


def test_a_revoked_credential_is_an_event_without_its_secret_or_hash(tenant: Tenant, stream: Stream) -> None:
    from chalicelib.auth.credentials import revoke_credential
    from chalicelib.store.credentials import CredentialStore

    store = CredentialStore(dynamodb(settings()), settings().credentials_table)
    stored = store.get_credential(tenant.client_id)
    assert stored is not None
    revoke_credential(store, tenant.client_id)
    (event,) = stream.deliver()
    assert (event.name, event.resource_type, event.resource_id, event.tenant) == (
        "CredentialRevoked",
        "Credential",
        tenant.client_id,
        "acme",
    )
    assert tenant.client_secret not in _payloads([event]) and stored.secret_hash not in _payloads([event])


def test_a_failing_publish_is_retried_then_set_aside_and_later_records_still_go_out(scim: Scim, stream: Stream) -> None:
    # Given a bus that refuses every event about the first user
    first = scim.post("/Users", user_body("first@example.com")).json
    stream.published.fail = lambda event: event.resource_id == first["id"]
    # When more users are created meanwhile; the IdP's requests are answered as always
    later = [scim.post("/Users", user_body(f"u{n}@example.com")) for n in range(3)]
    assert [response.status_code for response in later] == [201, 201, 201]
    # Then nothing goes out while the record is retried (the stream is ordered) ...
    assert stream.deliver() == []
    assert stream.deliver(rounds=2) == []
    # ... and after the last retry it is set aside on the dead-letter queue, and the later records go out, once each
    events = stream.deliver()
    assert [event.detail()["userName"] for event in events] == [f"u{n}@example.com" for n in range(3)]
    (dead,) = stream.dead_letters()
    assert (dead["table"], dead["reason"]) == ("users", "retries exhausted")
    assert dead["eventID"] and dead["sequenceNumber"]
    stream.deliver()
    assert len(stream.published.events) == 3


def test_a_publish_that_fails_once_is_delivered_on_the_retry_in_order(scim: Scim, stream: Stream) -> None:
    failures = iter([True])
    stream.published.fail = lambda event: next(failures, False)
    ids = [scim.post("/Users", user_body(f"u{n}@example.com")).json["id"] for n in range(3)]
    assert stream.deliver() == []
    assert [event.resource_id for event in stream.deliver()] == ids
    assert stream.dead_letters() == []


def test_a_malformed_record_is_set_aside_at_once_and_blocks_nothing(scim: Scim, stream: Stream) -> None:
    (function, *_) = stream.poller.functions.values()
    user = scim.post("/Users", user_body()).json
    good = stream.poller.tail.read(next(iter(stream.poller.functions)))
    poison = {**good[0], "eventID": "poison-1", "dynamodb": {**good[0]["dynamodb"], "NewImage": {"pk": {"S": "acme"}}}}
    function.feed([poison, *good])
    assert [event.name for event in stream.published.events] == ["UserCreated"]
    assert stream.published.events[0].resource_id == user["id"]
    (dead,) = stream.dead_letters()
    assert dead["eventID"] == "poison-1" and dead["reason"].startswith("unreadable stream record")
    # The set-aside message says where the record was, never what it held.
    assert "acme" not in json.dumps(dead)


def test_events_go_to_the_stage_bus_in_the_eventbridge_envelope(scim: Scim, stream: Stream) -> None:
    # Given the stage's bus with a rule that sends deactivations to a queue (docs/reference/events.md's example)
    events_client, sqs = _aws("events"), stream.sqs
    events_client.create_event_bus(Name="scim-test-events")
    queue = sqs.create_queue(QueueName="deactivations")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["onemodel.scim"], "detail-type": ["UserDeactivated"]}
    events_client.put_rule(Name="deactivations", EventBusName="scim-test-events", EventPattern=json.dumps(pattern))
    events_client.put_targets(Rule="deactivations", EventBusName="scim-test-events", Targets=[{"Id": "q", "Arn": arn}])
    user = scim.post("/Users", user_body()).json
    scim.delete(f"/Users/{user['id']}")
    # When the recorded events are published by the stage's publisher
    EventBridgePublisher(events_client, "scim-test-events").publish(stream.deliver())
    # Then the rule's queue holds the deactivation, in EventBridge's envelope
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert (envelope["source"], envelope["detail-type"]) == ("onemodel.scim", "UserDeactivated")
    assert envelope["detail"]["resourceId"] == user["id"] and envelope["detail"]["active"] is False


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / f"{name}.json").read_text())
    return schema


def test_every_event_has_a_published_schema_that_its_payloads_meet(scim: Scim, tenant: Tenant, stream: Stream) -> None:
    from chalicelib.auth.credentials import revoke_credential
    from chalicelib.store.credentials import CredentialStore

    _mappings(tenant).put(RoleMapping("Ops", ("ops-data",), ()))
    user = scim.post("/Users", user_body()).json
    group = scim.post("/Groups", _group("Ops", user["id"])).json
    scim.patch(f"/Users/{user['id']}", patch_body(_replace("title", "Ops")))
    scim.delete(f"/Users/{user['id']}")
    scim.patch(f"/Users/{user['id']}", patch_body(_replace("active", True)))
    scim.patch(f"/Groups/{group['id']}", patch_body(_replace("displayName", "Ops 2")))
    scim.delete(f"/Groups/{group['id']}")
    revoke_credential(CredentialStore(dynamodb(settings()), settings().credentials_table), tenant.client_id)
    events = stream.deliver()

    assert {event.name for event in events} == set(SCIM_EVENTS)
    assert {path.stem for path in SCHEMAS_DIR.glob("*.json")} == set(SCIM_EVENTS)
    for event in events:
        schema = _schema(event.name)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(event.detail(), schema, cls=jsonschema.Draft202012Validator)


def test_a_schema_refuses_a_payload_with_a_secret_in_it() -> None:
    """The schemas can fail: a payload with a field they do not define is refused."""
    detail = {
        "schemaVersion": 1,
        "eventId": "0" * 32,
        "scimEvent": "urn:ietf:params:scim:event:prov:create:notice",
        "tenant": "acme",
        "resourceType": "User",
        "resourceId": "u1",
        "sequence": 1,
        "streamSequence": "1100000000017454423009",
        "time": "2026-12-04T05:00:00.000Z",
        "userName": "bjensen",
        "active": True,
    }
    jsonschema.validate(detail, _schema("UserCreated"), cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**detail, "password": PASSWORD}, _schema("UserCreated"), cls=jsonschema.Draft202012Validator
        )
