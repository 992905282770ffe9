"""Every AWS call a deployed stage's Lambdas make while an IdP provisions, as IAM authorises it: (action, ARN).

A representative session (the authorizer deciding valid, wrong and unknown credentials; the routes
creating, finding, changing, grouping and removing users and groups, paging with a cursor; then the
One Model platform on the management API: tenants, credentials, role mappings, the role catalogue, the
password policy, the role source, status, activity and sign-in decisions) runs
the real stage of ``.chalice/config.json`` through ``chalice.test.Client`` under moto, with the
stage's tables and secrets. Then each table's stream function handles every record that session
wrote to its stream, publishing to the stage's bus. Every botocore API call made meanwhile, by any
client, is recorded and attributed to the function that made it; the Lambda service's own calls
with the function's role are added: for its logs, and for a stream function, reading its stream and
sending a record that failed its retries to the dead-letter queue (the on-failure destination).
``python -m tests.aws_calls <stage>`` prints the same as JSON, for the deploy test, which runs it
apart from its own moto server.
"""

import base64
import contextvars
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
import botocore.client

# The same test environment as the offline suite (tables and region), before the app reads it.
import tests.conftest  # noqa: F401
from chalicelib import stage_secrets
from chalicelib.auth.credentials import create_service_account, generate_credential
from chalicelib.config import STREAM_VARIABLES
from chalicelib.events import consumer, publishing
from chalicelib.resources.user_groups import MAPPINGS_READ_WHOLE
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from chalicelib.store import connection
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from chalicelib.store.tables import create_tables
from devserver.streams import STREAMS_CONFIG, StreamTail
from infra.events_stack import DEAD_LETTERS_QUEUE
from infra.iam import StageFunction, stage_functions
from infra.stream_release import DEAD_LETTER_QUEUE_VARIABLE
from infra.templates import settings_for
from tests.conftest import PROJECT_DIR, SCIM
from tests.helpers import CORE_GROUP, CORE_USER, patch_body

ROUTES = "api_handler"
AUTHORIZER = "scim_auth"
# moto's account; the deploy test's server uses the same one.
ACCOUNT = "123456789012"
REGION = "us-east-1"
# IAM authorises each item of a transaction as the write or read of its kind; there is no action for the call.
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# What the Lambda service does with the function's role to keep its logs (CloudWatch Logs authorises a group as
# <group ARN>:* and a stream by its own ARN).
LAMBDA_LOG_CALLS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
# What the Lambda service does with a stream function's role to read its stream (Lambda's event source mapping).
LAMBDA_STREAM_CALLS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
# Each streamed table's function, by Chalice's name for it (app.py).
STREAM_FUNCTIONS = {f"{table}_changes": table for table in STREAM_VARIABLES}

Call = tuple[str, str]
_function: contextvars.ContextVar[str] = contextvars.ContextVar("function", default=ROUTES)


def table_arn(table: str, index: str | None = None) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}" + (f"/index/{index}" if index else "")


def log_calls(function: StageFunction, region: str = REGION, account: str = ACCOUNT) -> set[Call]:
    group = f"arn:aws:logs:{region}:{account}:log-group:{function.log_group}"
    stream = f"{group}:log-stream:2026/12/04/[$LATEST]0123456789abcdef0123456789abcdef"
    return {
        ("logs:CreateLogGroup", f"{group}:*"),
        ("logs:CreateLogStream", f"{group}:*"),
        ("logs:PutLogEvents", stream),
    }


def queue_arn(url_or_name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url_or_name.rsplit('/', 1)[-1]}"


def stream_service_calls(stream_arn: str, dead_letters_arn: str) -> set[Call]:
    """The Lambda service's calls with a stream function's role: its stream read, a failed record's place sent on."""
    return {(action, stream_arn) for action in LAMBDA_STREAM_CALLS} | {("sqs:SendMessage", dead_letters_arn)}


def authorized_calls(service: str, operation: str, params: dict[str, Any], secret_arns: dict[str, str]) -> set[Call]:
    """The (action, ARN) pairs IAM checks for one API call."""
    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", table_arn(table)) for table in params["RequestItems"]}
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return {
                (f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", table_arn(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            }
        return {(f"dynamodb:{operation}", table_arn(params["TableName"], params.get("IndexName")))}
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return {(f"events:{operation}", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}") for bus in buses}
    if service == "sqs" and operation == "SendMessage":
        return {(f"sqs:{operation}", queue_arn(params["QueueUrl"]))}
    if service == "secretsmanager" and operation == "GetSecretValue":
        secret = params["SecretId"]
        return {(f"secretsmanager:{operation}", secret if secret.startswith("arn:") else secret_arns[secret])}
    raise AssertionError(f"{service}:{operation} is not known to tests/aws_calls.py: say which resource IAM checks")


@contextmanager
def recording() -> Iterator[dict[str, list[tuple[str, str, dict[str, Any]]]]]:
    """Every botocore API call made inside, by the function running it: (service, operation, params)."""
    calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        calls[_function.get()].append((service, operation_name, json.loads(json.dumps(api_params, default=str))))
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = make_api_call
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


class StageSession:
    """The stage's tables and secrets under moto, a tenant with a credential issued under the stage's key, the app."""

    def __init__(self, client: Any, stage: str) -> None:
        self.client = client
        self.stage = stage
        environment = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"][stage]
        self.settings = settings_for({**environment["environment_variables"], "AWS_DEFAULT_REGION": REGION})
        create_tables(connection.dynamodb(self.settings), self.settings)
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        prefix = environment["environment_variables"]["SECRETS_PREFIX"]
        key = "the-stage-key-" + "k" * 40
        self.secrets.create_secret(Name=f"{prefix}/{CREDENTIAL_HASH_KEY}", SecretString=key)
        self.secrets.create_secret(Name=f"{prefix}/{CURSOR_SECRET}", SecretString="the-stage-cursor-secret")
        store = CredentialStore(connection.dynamodb(self.settings), self.settings.credentials_table)
        create_service_account(store, "acme")
        issued = generate_credential(store, key.encode(), "acme", "tests")
        self.client_id, self.client_secret = issued.client_id, issued.client_secret
        # More role mappings than a user read takes whole: it reads those of the user's groups by key.
        mappings = RoleMappingTable(connection.dynamodb(self.settings), self.settings.role_mappings_table, "acme")
        for number in range(MAPPINGS_READ_WHOLE + 1):
            mappings.put(RoleMapping(f"Role {number}", ("reader",), ()))

    def secret_arns(self) -> dict[str, str]:
        return {entry["Name"]: entry["ARN"] for entry in self.secrets.list_secrets()["SecretList"]}

    def manage(self, method: str, path: str, body: Any = None) -> Any:
        """A management API call, as API Gateway passes it once IAM has admitted the platform's signature."""
        payload = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        response = self.client.http.request(method, "/admin/v1" + path, headers=headers, body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response

    def request(self, method: str, path: str, body: Any = None, authorization: str | None = "valid") -> Any:
        headers = {"Content-Type": SCIM, "Accept": SCIM}
        secret = {"valid": self.client_secret, "wrong": "wrong"}.get(authorization or "")
        if secret is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{self.client_id}:{secret}".encode()).decode()
        elif authorization is not None:
            headers["Authorization"] = authorization
        payload = b"" if body is None else json.dumps(body).encode()
        response = self.client.http.request(method, "/scim/v2" + path, headers=headers, body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response


def provision(session: StageSession) -> list[Any]:
    """An IdP's representative traffic; returns every answer (the caller checks none failed unexpectedly)."""
    answers = [
        session.request("GET", "/ServiceProviderConfig", authorization=None),
        session.request("GET", "/Users", authorization="wrong"),
        session.request("GET", "/Users", authorization="Bearer scim-nobody.secret"),
        session.request("GET", "/Schemas"),
    ]
    users = []
    for name in ("ada", "grace"):
        body = {"schemas": [CORE_USER], "userName": f"{name}@example.com", "externalId": f"00u-{name}", "active": True}
        # A password is checked against the tenant's password policy, which is read from the role mappings table.
        created = session.request("POST", "/Users", {**body, "password": f"{name}-correct-horse-battery-42"})
        answers.append(created)
        users.append(created.json["id"])
    ada, grace = users
    group = session.request(
        "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": ada}]}
    )
    answers.append(group)
    group_id = group.json["id"]
    # An empty cursor asks for the first page by cursor (RFC 9865): the routes read the cursor secret to seal the next.
    first_page = session.request("GET", "/Users?count=1&cursor=")
    answers.append(first_page)
    cursor = (first_page.json or {}).get("nextCursor")
    answers += [
        session.request("GET", '/Users?filter=userName eq "ada@example.com"'),
        session.request("GET", '/Users?filter=externalId eq "00u-grace"'),
        session.request("GET", f'/Groups?filter=members.value eq "{ada}"'),
        session.request("GET", '/Groups?filter=externalId eq "missing"'),
        session.request("GET", f"/Users/{ada}"),
        session.request("GET", f"/Groups/{group_id}"),
        session.request("GET", f"/Users?count=1&cursor={cursor}" if cursor else "/Users?startIndex=2&count=1"),
        session.request("PATCH", f"/Users/{ada}", _patch("replace", "name.givenName", "Augusta")),
        # A new userName moves its claim: a delete and a put in one transaction.
        session.request("PATCH", f"/Users/{ada}", _patch("replace", "userName", "ada.lovelace@example.com")),
        session.request(
            "PUT", f"/Users/{grace}", {"schemas": [CORE_USER], "userName": "grace@example.com", "active": False}
        ),
        session.request("PATCH", f"/Groups/{group_id}", _patch("remove", f'members[value eq "{ada}"]')),
        session.request("PUT", f"/Groups/{group_id}", {"schemas": [CORE_GROUP], "displayName": "Finance EU"}),
        session.request("PATCH", f"/Groups/{group_id}", _patch("add", "members", [{"value": grace}])),
        session.request("GET", f"/Users/{grace}"),
        # A group deleted with members left: its memberships go in batches after it.
        session.request("DELETE", f"/Groups/{group_id}"),
        session.request("DELETE", f"/Users/{ada}"),
    ]
    return answers + manage(session, grace)


def manage(session: StageSession, user_id: str) -> list[Any]:
    """The One Model platform's representative calls on the management API (/admin/v1)."""
    # The routes' own Lambda reads the credential hash key to hash a credential it generates: not the authorizer's copy.
    stage_secrets.reset()
    actor = {"actor": "platform:tests"}
    member = {"value": user_id}
    answers = [
        session.manage("POST", "/tenants", {"tenant": "globex", **actor}),
        session.manage("GET", "/tenants/acme/credentials"),
    ]
    issued = session.manage("POST", "/tenants/globex/credentials", {"description": "Entra ID", **actor})
    answers += [
        issued,
        session.manage("DELETE", f"/tenants/globex/credentials/{issued.json['clientId']}?actor=platform:tests"),
        session.manage("PUT", "/tenants/acme/role-mappings/Finance", {"dataAccessRoles": ["Payroll"], **actor}),
        session.manage("GET", "/tenants/acme/role-mappings/Finance"),
        session.manage("GET", "/tenants/acme/role-mappings"),
        session.manage("DELETE", "/tenants/acme/role-mappings/Finance?actor=platform:tests"),
        # A mapping of a group with a member: its stream function reads the member's roles and publishes the change.
        session.request("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Auditors", "members": [member]}),
        session.manage("PUT", "/tenants/acme/role-mappings/Auditors", {"dataAccessRoles": ["Audit"], **actor}),
        session.manage("PUT", "/tenants/acme/role-catalogue/application/Auditor", {"description": "Reads", **actor}),
        session.manage("PUT", "/tenants/acme/role-catalogue/application/Auditor", {"description": "Reads", **actor}),
        session.manage("GET", "/tenants/acme/role-catalogue/application/auditor"),
        session.manage("GET", "/tenants/acme/role-catalogue"),
        # A direct grant, checked against the catalogue: the users' stream function reads the member's other roles.
        session.request("PATCH", f"/Users/{user_id}", _patch("add", "roles", [{"value": "Auditor"}])),
        session.manage("DELETE", "/tenants/acme/role-catalogue/application/Auditor?actor=platform:tests"),
        session.manage("PUT", "/tenants/acme/password-policy", {"minLength": 12, **actor}),
        session.manage("GET", "/tenants/acme/password-policy"),
        session.manage("GET", "/tenants/acme/status"),
        session.manage("GET", "/tenants/acme/activity?limit=2"),
        session.manage("GET", "/tenants/acme/activity?errors=true&limit=2"),
        session.manage("GET", "/tenants/acme/activity?ignored=true&limit=2"),
        session.manage("GET", f"/tenants/acme/activity?user={user_id}&limit=2"),
        session.manage("GET", "/tenants/acme/activity?group=Finance%20EU&limit=2"),
        session.manage("POST", "/tenants/acme/sign-in", {"userName": "grace@example.com"}),
        session.manage("PUT", "/tenants/acme/role-source", {"source": "saml-attribute", "attribute": "roles", **actor}),
        session.manage("GET", "/tenants/acme/role-source"),
        session.manage(
            "POST", "/tenants/acme/sign-in", {"userName": "grace@example.com", "samlAttributes": {"roles": ["Role 1"]}}
        ),
    ]
    return answers


def _patch(op: str, path: str, value: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": op, "path": path}
    if value is not None:
        operation["value"] = value
    return patch_body(operation)


def _forget_containers() -> None:
    """A fresh container for the session and after it: clients, secrets read, and the SCIM service built with them."""
    from chalicelib.scim.adapter import _api_for

    connection.reset()
    stage_secrets.reset()
    _api_for.cache_clear()
    publishing.reset()
    consumer._stage_consumer.cache_clear()


class StageStreams:
    """The stage's bus and dead-letter queue (the infra stack's), and each streamed table's stream from its start."""

    def __init__(self, session: StageSession) -> None:
        settings = session.settings
        self.variables = {
            **{name: value for name, value in os.environ.items() if name.startswith("AWS_")},
            **json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"][session.stage][
                "environment_variables"
            ],
        }
        boto3.client("events", region_name=REGION).create_event_bus(Name=settings.event_bus)
        queue = DEAD_LETTERS_QUEUE.replace("${Stage}", session.stage)
        self.variables[DEAD_LETTER_QUEUE_VARIABLE] = boto3.client("sqs", region_name=REGION).create_queue(
            QueueName=queue
        )["QueueUrl"]
        self.dead_letters_arn = queue_arn(queue)
        streams = boto3.client("dynamodbstreams", region_name=REGION, config=STREAMS_CONFIG)
        tables = {getattr(settings, f"{table}_table"): table for table in STREAM_VARIABLES}
        self.tail = StreamTail(streams, connection.dynamodb(settings), list(tables))
        self.arns = {tables[arn.split("/")[1]]: arn for arn in self.tail.arns}

    def records(self) -> dict[str, list[dict[str, Any]]]:
        """Every record written since, by table: what Lambda hands each stream function."""
        return {table: self.tail.read(arn) for table, arn in self.arns.items()}

    def deliver(self, records: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Each table's records to its stream function, in batches as Lambda gives them; each batch's response."""
        from chalicelib.events import STREAM_BATCH_SIZE
        from chalicelib.events.consumer import handle_stream_batch

        responses = []
        with mock.patch.dict(os.environ, self.variables):
            for function, table in STREAM_FUNCTIONS.items():
                token = _function.set(function)
                try:
                    for start in range(0, len(records[table]), STREAM_BATCH_SIZE):
                        responses.append(handle_stream_batch(records[table][start : start + STREAM_BATCH_SIZE]))
                finally:
                    _function.reset(token)
        return responses


def stage_calls(stage: str) -> dict[str, set[Call]]:
    """What each of the stage's functions asks IAM for during :func:`provision`, by Chalice's function name."""
    from chalice.test import Client
    from moto import mock_aws

    import app as app_module
    from devserver.gateway import emulate_gateway_responses

    functions = stage_functions(stage)
    decide = app_module.decide

    def decide_as_authorizer(authorization: str | None) -> Any:
        token = _function.set(AUTHORIZER)
        try:
            return decide(authorization)
        finally:
            _function.reset(token)

    with mock_aws():
        _forget_containers()
        try:
            app_module.decide = decide_as_authorizer
            with Client(app_module.app, stage_name=stage, project_dir=str(PROJECT_DIR)) as client:
                emulate_gateway_responses()
                session = StageSession(client, stage)
                streams = StageStreams(session)
                with recording() as recorded:
                    answers = provision(session)
                records = streams.records()
                with recording() as streamed:
                    responses = streams.deliver(records)
                # Every stream record published: a batch that failed would leave its calls out.
                assert all(response == {"batchItemFailures": []} for response in responses), responses
                assert all(records.values()), {table: len(found) for table, found in records.items()}
                # Two credentials refused, every other request served: a failed step would leave its calls out.
                statuses = [answer.status_code for answer in answers]
                assert statuses[1:3] == [401, 401], statuses
                assert all(200 <= status < 300 for status in statuses[:1] + statuses[3:]), [
                    (answer.status_code, answer.json) for answer in answers
                ]
                arns = session.secret_arns()
        finally:
            app_module.decide = decide
            _forget_containers()
    service_calls = {
        function: stream_service_calls(streams.arns[table], streams.dead_letters_arn)
        for function, table in STREAM_FUNCTIONS.items()
    }
    return {
        name: set().union(
            *(authorized_calls(*call, arns) for call in recorded[name] + streamed[name]),
            log_calls(functions[name]),
            service_calls.get(name, set()),
        )
        for name in functions
    }


def main(argv: list[str]) -> int:
    """``python -m tests.aws_calls <stage> <output.json>``: the app logs to stdout, so the calls go to a file."""
    stage, output = argv
    calls = {name: sorted(found) for name, found in stage_calls(stage).items()}
    with open(output, "w") as file:
        json.dump(calls, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
