"""The hand-written IAM policies of .chalice/ grant what the code calls, on the stage's tables, and nothing more.

Two Lambdas, two roles: the routes (``policy-<stage>.json``) reach users, groups and role mappings,
and for the management API (``/admin/v1``, IAM-authorized) the credentials and the trail's reads;
the authorizer (``policy-<stage>-authorizer.json``) only reads credentials and notes their use.
"""

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from chalicelib.auth.authorizer import authenticate
from chalicelib.config import settings
from chalicelib.store import connection
from chalicelib.store.tables import table_definitions
from infra.templates import settings_for
from tests.conftest import PROJECT_DIR, Scim, Tenant, user_body

CHALICE_DIR = PROJECT_DIR / ".chalice"
STORE_DIR = PROJECT_DIR / "chalicelib" / "store"
DEPLOYED_STAGES = ["dev", "prod"]
# The store modules no route runs: tables creates tables for tests and `make run` only; rekey.py is the
# operators' migration (python -m admin names rekey), run with their own credentials.
NOT_ROUTE_MODULES = {"tables.py", "rekey.py"}
_MODEL = botocore.session.get_session().get_service_model("dynamodb")
OPERATIONS = {xform_name(name): name for name in _MODEL.operation_names}
# IAM has no action for a transaction: each of its items needs the action of that kind of write or read.
TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
DYNAMODB_ARN = "arn:aws:dynamodb:*:*:table/"
# The routes add to the trail and read it (the management API's /activity), never change or delete an entry.
APPEND_ONLY_TABLES = {"activity"}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((CHALICE_DIR / "config.json").read_text())
    return config


def _stage(stage: str) -> dict[str, Any]:
    stage_config: dict[str, Any] = _config()["stages"][stage]
    return stage_config


def _policy(file_name: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((CHALICE_DIR / file_name).read_text())
    return policy


def _route_policy(stage: str) -> dict[str, Any]:
    return _policy(_stage(stage)["iam_policy_file"])


def _authorizer_policy(stage: str) -> dict[str, Any]:
    return _policy(_stage(stage)["lambda_functions"]["scim_auth"]["iam_policy_file"])


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _is_client(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "client" in name


def _client_calls(path: Path) -> Iterator[str]:
    """The DynamoDB operations a module calls on a boto3 client, paginators included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_client(node.func.value)):
            continue
        if node.func.attr == "get_paginator":
            argument = node.args[0]
            assert isinstance(argument, ast.Constant), f"{path}: a paginator named by a variable hides the operation"
            yield OPERATIONS[argument.value]
        elif node.func.attr in OPERATIONS:
            yield OPERATIONS[node.func.attr]


def _transact_item_actions(path: Path) -> set[str]:
    return {
        TRANSACT_ITEM_ACTIONS[key.value]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_ACTIONS
    }


def actions_called(modules: list[Path]) -> set[str]:
    """The IAM actions that the DynamoDB calls of these modules need."""
    operations = {operation for path in modules for operation in _client_calls(path)}
    actions = operations - TRANSACTIONS
    if operations & TRANSACTIONS:
        # Transaction items are often built by helpers apart from the call, so look at every module.
        actions |= {action for path in modules for action in _transact_item_actions(path)}
    return actions


def route_modules() -> list[Path]:
    return sorted(path for path in STORE_DIR.glob("*.py") if path.name not in NOT_ROUTE_MODULES)


def _logical_tables(stage_settings: Any) -> dict[str, str]:
    return {definition["TableName"]: name for name, definition in table_definitions(stage_settings).items()}


def grants(policy: dict[str, Any], stage: str) -> set[tuple[str, str, bool]]:
    """Each DynamoDB (action, logical table, on its indexes?) a policy allows, for a stage's table names."""
    tables = _logical_tables(settings_for(_stage(stage)["environment_variables"]))
    allowed = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        for action in _listed(statement["Action"]):
            if not action.startswith("dynamodb:"):
                continue
            for resource in _listed(statement["Resource"]):
                assert resource.startswith(DYNAMODB_ARN), resource
                table, _, index = resource.removeprefix(DYNAMODB_ARN).partition("/index/")
                assert table in tables, f"{resource} is no table of stage {stage}"
                assert index in ("", "*"), resource
                allowed.add((action.removeprefix("dynamodb:"), tables[table], index == "*"))
    return allowed


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_route_policy_grants_exactly_the_actions_the_store_calls(stage: str) -> None:
    granted = {action for action, _, _ in grants(_route_policy(stage), stage)}
    called = actions_called(route_modules())
    assert granted == called, (
        f"Update .chalice/policy-{stage}.json: the store calls {sorted(called - granted)} without a grant, "
        f"and is granted {sorted(granted - called)} it never calls"
    )


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_route_policy_reaches_its_tables_and_queries_only_their_indexes(stage: str) -> None:
    granted = grants(_route_policy(stage), stage)
    definitions = table_definitions(settings())
    scim_tables = {name: definition for name, definition in definitions.items() if name not in APPEND_ONLY_TABLES}
    assert {(table, on_index) for _, table, on_index in granted if table not in APPEND_ONLY_TABLES} == {
        *((name, False) for name in scim_tables),
        *((name, True) for name, definition in scim_tables.items() if definition.get("GlobalSecondaryIndexes")),
    }
    assert {action for action, _, on_index in granted if on_index} == {"Query"}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_route_policy_can_only_add_to_the_activity_trail_and_read_it_never_change_or_delete_it(stage: str) -> None:
    granted = grants(_route_policy(stage), stage)
    assert {grant for grant in granted if grant[1] == "activity"} == {
        ("PutItem", "activity", False),
        ("Query", "activity", False),
        ("Query", "activity", True),
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_authorizer_policy_only_reads_the_credentials_table_and_notes_their_use(stage: str) -> None:
    assert grants(_authorizer_policy(stage), stage) == {
        ("GetItem", "credentials", False),
        ("UpdateItem", "credentials", False),
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_both_roles_write_only_their_own_stages_logs(stage: str) -> None:
    for policy in (_route_policy(stage), _authorizer_policy(stage)):
        logs = [statement for statement in policy["Statement"] if _listed(statement["Action"])[0].startswith("logs:")]
        assert len(logs) == 1
        assert sorted(_listed(logs[0]["Action"])) == [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
        # CloudFormation names each function <stack>-<logical id>-<suffix>; the stack is onemodel-scim-<stage>.
        for resource in _listed(logs[0]["Resource"]):
            assert resource.startswith(f"arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-{stage}-"), resource


def test_policy_actions_exist_in_iam() -> None:
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    known = load_resource(AdditionalSpecs, "Policies.json")
    for path in sorted(CHALICE_DIR.glob("policy-*.json")):
        for statement in _policy(path.name)["Statement"]:
            for action in _listed(statement["Action"]):
                service, _, name = action.partition(":")
                assert name.lower() in known[service]["Actions"], f"{path.name}: no IAM action {action}"


def test_only_the_store_calls_dynamodb() -> None:
    for path in (PROJECT_DIR / "chalicelib").rglob("*.py"):
        if path.parent != STORE_DIR:
            assert not set(_client_calls(path)), path


def test_create_table_is_never_called_by_a_lambda() -> None:
    assert "CreateTable" not in actions_called(route_modules())


class Recorder:
    """Each DynamoDB (action, logical table, on an index?) the code asks for, as IAM would authorise it."""

    def __init__(self) -> None:
        self.tables = _logical_tables(settings())
        self.calls: set[tuple[str, str, bool]] = set()

    def __call__(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        operation = model.name
        if operation in ("BatchGetItem", "BatchWriteItem"):
            self.calls |= {(operation, self.tables[table], False) for table in params["RequestItems"]}
        elif operation in TRANSACTIONS:
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                self.calls.add((TRANSACT_ITEM_ACTIONS[kind], self.tables[body["TableName"]], False))
        else:
            self.calls.add((operation, self.tables[params["TableName"]], "IndexName" in params))


@pytest.fixture
def recorder(aws: None) -> Iterator[Recorder]:
    recorder = Recorder()
    events = connection.dynamodb(settings()).meta.events
    events.register("provide-client-params.dynamodb.*", recorder)
    yield recorder
    events.unregister("provide-client-params.dynamodb.*", recorder)


def _bearer(tenant: Tenant) -> str:
    return f"Bearer {tenant.client_id}.{tenant.client_secret}"


def test_what_the_authorizer_calls_its_policy_allows(tenant: Tenant, recorder: Recorder) -> None:
    # Given a valid, a wrong and an unknown credential
    presented = [tenant.authorization, _bearer(tenant), f"Bearer {tenant.client_id}.wrong", "Bearer scim-nobody.x"]
    # When the authorizer decides on each
    decisions = [authenticate(header) for header in presented]
    # Then it asked DynamoDB only for what the authorizer role grants
    assert [decision is not None for decision in decisions] == [True, True, False, False]
    assert recorder.calls
    assert recorder.calls - grants(_authorizer_policy("dev"), "dev") == set()


def test_what_a_provisioning_session_calls_its_policies_allow(scim: Scim, recorder: Recorder) -> None:
    # Given an IdP that creates, finds, updates and groups a user, then tears down
    user = scim.post("/Users", user_body("ada@example.com", externalId="00u-ada"))
    assert user.status_code == 201, user.json
    user_id = user.json["id"]
    steps = [
        scim.get('/Users?filter=userName eq "ada@example.com"'),
        scim.get('/Users?filter=externalId eq "00u-ada"'),
        scim.patch(
            f"/Users/{user_id}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "name.givenName", "value": "Augusta"}],
            },
        ),
    ]
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Finance",
            "members": [{"value": user_id}],
        },
    )
    assert group.status_code == 201, group.json
    group_id = group.json["id"]
    steps += [
        scim.get(f"/Users/{user_id}"),
        scim.get(f'/Users?filter=groups.value eq "{group_id}"'),
        scim.patch(
            f"/Groups/{group_id}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Remove", "path": "members", "value": [{"value": user_id}]}],
            },
        ),
        scim.delete(f"/Groups/{group_id}"),
        scim.delete(f"/Users/{user_id}"),
    ]
    assert all(200 <= step.status_code < 300 for step in steps), [(step.status_code, step.json) for step in steps]
    # Then the routes asked only for what the route role grants, and the authorizer for what its role grants
    route_calls = {call for call in recorder.calls if call[1] != "credentials"}
    authorizer_calls = recorder.calls - route_calls
    assert route_calls - grants(_route_policy("dev"), "dev") == set(), "not granted by .chalice/policy-dev.json"
    assert authorizer_calls - grants(_authorizer_policy("dev"), "dev") == set(), "not granted to the authorizer"


def test_policies_name_each_table_exactly() -> None:
    # A wildcard in a table name could reach another stage's tables.
    for path in CHALICE_DIR.glob("policy-*.json"):
        for statement in _policy(path.name)["Statement"]:
            for resource in _listed(statement["Resource"]):
                table = resource.removeprefix(DYNAMODB_ARN).partition("/")[0]
                assert not resource.startswith(DYNAMODB_ARN) or not set(table) & set("*?"), resource


# Secrets Manager appends six random characters to a secret's ARN; "-??????" matches them and no other secret.
# The routes hash a credential the management API generates, so they read the hash key too.
SECRET_READERS = {"routes": ["cursor-secret", "credential-hash-key"], "authorizer": ["credential-hash-key"]}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("role", SECRET_READERS)
def test_each_role_reads_exactly_its_stage_secrets(stage: str, role: str) -> None:
    policy = _route_policy(stage) if role == "routes" else _authorizer_policy(stage)
    secret_statements = [
        statement
        for statement in policy["Statement"]
        if any(action.startswith("secretsmanager:") for action in _listed(statement["Action"]))
    ]
    assert [(_listed(s["Action"]), _listed(s["Resource"])) for s in secret_statements] == [
        (
            ["secretsmanager:GetSecretValue"],
            [f"arn:aws:secretsmanager:*:*:secret:scim-{stage}/{name}-??????" for name in SECRET_READERS[role]],
        )
    ]
    services = {
        action.partition(":")[0] for statement in policy["Statement"] for action in _listed(statement["Action"])
    }
    assert services == {"dynamodb", "logs", "secretsmanager"}


def test_what_a_management_session_calls_the_route_policy_allows(chalice_client: Any, recorder: Recorder) -> None:
    from tests.test_management_api import Admin

    admin = Admin(chalice_client)
    # Given the platform onboarding a tenant and managing it through /admin/v1
    steps = [
        admin.post("/tenants", {"tenant": "initech", "actor": "a"}),
        admin.post("/tenants/initech/credentials", {"actor": "a"}),
        admin.get("/tenants/initech/credentials"),
        admin.put("/tenants/initech/role-mappings/Finance", {"dataAccessRoles": ["X"], "actor": "a"}),
        admin.put("/tenants/initech/password-policy", {"minLength": 8, "actor": "a"}),
        admin.put("/tenants/initech/role-source", {"source": "saml-attribute", "attribute": "roles", "actor": "a"}),
        admin.post("/tenants/initech/sign-in", {"userName": "nobody@example.com"}),
        admin.get("/tenants/initech/status"),
        admin.get("/tenants/initech/activity?errors=true"),
        admin.get("/tenants/initech/activity?user=nobody"),
    ]
    client_id = steps[1].json["clientId"]
    steps.append(admin.delete(f"/tenants/initech/credentials/{client_id}?actor=a"))
    assert all(200 <= step.status_code < 300 for step in steps), [(step.status_code, step.json) for step in steps]
    # Then every call is one the route role grants
    assert recorder.calls - grants(_route_policy("dev"), "dev") == set(), "not granted by .chalice/policy-dev.json"
