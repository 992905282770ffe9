"""Each deployed Lambda's role allows every AWS call the function makes, and nothing it does not make.

The functions, their roles, policy files and log groups are named by Chalice's own rules applied to
``.chalice/config.json`` (:func:`infra.iam.stage_functions`; ``tests/test_deploy.py`` checks them
against a real ``chalice deploy``). The calls are recorded while a representative IdP session runs
the stage (:mod:`tests.aws_calls`), with region and account, and decided by IAM's matching rules
(:mod:`infra.iam`). The session includes the One Model platform's calls on the management API
(``/admin/v1``, IAM-authorized, served by the routes' function): credentials, role mappings,
password policies, the role source, the trail's reads; and each table's stream function publishing
what that session wrote (provisioning events).
"""

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from chalicelib.store.tables import table_definitions
from infra.iam import StageFunction, action_matches, allows, listed, resource_matches, stage_functions, statements
from infra.templates import settings_for
from tests.aws_calls import (
    ACCOUNT,
    AUTHORIZER,
    REGION,
    ROUTES,
    STREAM_FUNCTIONS,
    TRANSACT_ITEM_ACTIONS,
    Call,
    stage_calls,
    table_arn,
)
from tests.conftest import PROJECT_DIR

CHALICE_DIR = PROJECT_DIR / ".chalice"
STORE_DIR = PROJECT_DIR / "chalicelib" / "store"
# Every stage with its own policies is one `make deploy` can release: a stage added later is checked as well.
DEPLOYED_STAGES = sorted(
    name
    for name, stage in json.loads((CHALICE_DIR / "config.json").read_text())["stages"].items()
    if "iam_policy_file" in stage
)
# The store modules no Lambda runs whole: credentials.py is the authorizer's and the management API's (whose calls
# the session records) and the admin CLI's (its Scan, for `credentials list --all`, is the CLI's only); tables.py
# creates tables for tests and `make run` only; rekey.py and invariants.py are the operators' (python -m admin names
# rekey, python -m admin check), run with their own credentials.
NOT_ROUTE_MODULES = {"credentials.py", "tables.py", "rekey.py", "invariants.py"}
_MODEL = botocore.session.get_session().get_service_model("dynamodb")
OPERATIONS = {xform_name(name): name for name in _MODEL.operation_names}
TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}
DATA_ACTIONS = [f"dynamodb:{name}" for name in _MODEL.operation_names] + [
    f"dynamodb:{action}" for action in TRANSACT_ITEM_ACTIONS.values()
]
FUNCTIONS = [ROUTES, AUTHORIZER, *STREAM_FUNCTIONS]
READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
# The tables each table's stream function reads to say a user's roles before and after a change.
ROLE_READS = {
    "users": {"groups", "role_mappings"},
    "groups": {"users", "groups", "role_mappings"},
    "role_mappings": {"users", "groups", "role_mappings"},
    "credentials": set(),
}


@pytest.fixture(scope="module")
def calls() -> dict[str, dict[str, set[Call]]]:
    """What each function of each deployed stage asks IAM for during a representative session."""
    return {stage: stage_calls(stage) for stage in DEPLOYED_STAGES}


def _functions(stage: str) -> dict[str, StageFunction]:
    return stage_functions(stage)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_chalice_names_each_function_its_role_policy_file_and_log_group(stage: str) -> None:
    # What `chalice deploy` makes (tests/test_deploy.py compares a real deploy with this): the routes are the API
    # handler, named after the app and stage alone, and its log group is Lambda's, /aws/lambda/<function>.
    named = {
        name: (function.function_name, function.role_name, function.policy_file.name, function.log_group)
        for name, function in _functions(stage).items()
    }
    assert named == {
        ROUTES: (
            f"onemodel-scim-{stage}",
            f"onemodel-scim-{stage}-api_handler",
            f"policy-{stage}.json",
            f"/aws/lambda/onemodel-scim-{stage}",
        ),
        AUTHORIZER: (
            f"onemodel-scim-{stage}-scim_auth",
            f"onemodel-scim-{stage}-scim_auth",
            f"policy-{stage}-authorizer.json",
            f"/aws/lambda/onemodel-scim-{stage}-scim_auth",
        ),
        # app.py's stream functions, one per streamed table (provisioning events), each with its own role
        **{
            name: (
                f"onemodel-scim-{stage}-{name}",
                f"onemodel-scim-{stage}-{name}",
                f"policy-{stage}-{name}.json",
                f"/aws/lambda/onemodel-scim-{stage}-{name}",
            )
            for name in STREAM_FUNCTIONS
        },
    }


def denied_calls(policy: dict[str, Any], made: set[Call]) -> list[Call]:
    return sorted(call for call in made if not allows(policy, *call))


def unused_grants(policy: dict[str, Any], made: set[Call]) -> list[tuple[str, str]]:
    """Each (action, resource) a statement allows that no call needs: a policy broader than the code."""
    unused = []
    for statement in statements(policy):
        assert statement.effect == "Allow" and not (statement.not_action or statement.not_resource), statement
        for action in statement.actions:
            for resource in statement.resources:
                if not any(action_matches(action, a) and resource_matches(resource, r) for a, r in made):
                    unused.append((action, resource))
    return unused


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_a_function_makes_is_allowed_by_its_role(
    calls: dict[str, dict[str, set[Call]]], stage: str, function: str
) -> None:
    made = calls[stage][function]
    policy = _functions(stage)[function].policy()
    assert denied_calls(policy, made) == [], f"denied by {_functions(stage)[function].policy_file.name}"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_grant_of_a_role_is_used_by_its_function(
    calls: dict[str, dict[str, set[Call]]], stage: str, function: str
) -> None:
    policy = _functions(stage)[function].policy()
    assert unused_grants(policy, calls[stage][function]) == [], f"never needed: {_functions(stage)[function]}"


def _inventory(calls: dict[str, dict[str, set[Call]]]) -> set[str]:
    """Every resource of every deployed stage: what the functions reach, and every table and index."""
    resources = {arn for by_function in calls.values() for made in by_function.values() for _, arn in made}
    for stage in DEPLOYED_STAGES:
        environment = json.loads((CHALICE_DIR / "config.json").read_text())["stages"][stage]["environment_variables"]
        for definition in table_definitions(settings_for(environment)).values():
            resources.add(table_arn(definition["TableName"]))
            for index in definition.get("GlobalSecondaryIndexes", []):
                resources.add(table_arn(definition["TableName"], index["IndexName"]))
    return resources


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_grant_reaches_a_resource_of_another_function_or_stage(
    calls: dict[str, dict[str, set[Call]]], stage: str, function: str
) -> None:
    # A wildcard broader than the name it stands for (onemodel-scim-dev-* for the routes' own log group) reaches
    # the other function's log group, another stage's table, a future function: only what this function uses.
    policy = _functions(stage)[function].policy()
    own = {arn for _, arn in calls[stage][function]}
    reached = {
        arn
        for statement in statements(policy)
        for pattern in statement.resources
        for arn in _inventory(calls)
        if resource_matches(pattern, arn)
    }
    assert sorted(reached - own) == []


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_routes_never_change_the_trail_and_never_scan_credentials(stage: str) -> None:
    # The trail: added to by every request, read by the management API's /activity; no entry changed or deleted.
    policy = _functions(stage)[ROUTES].policy()
    environment = json.loads((CHALICE_DIR / "config.json").read_text())["stages"][stage]["environment_variables"]
    config = settings_for(environment)
    trail = {action for action in DATA_ACTIONS if allows(policy, action, table_arn(config.activity_table))}
    assert trail == {"dynamodb:PutItem", "dynamodb:Query"}
    # Credentials: the management API generates, lists and revokes them, one tenant at a time, never all at once.
    credentials = {action for action in DATA_ACTIONS if allows(policy, action, table_arn(config.credentials_table))}
    assert "dynamodb:Scan" not in credentials and "dynamodb:DeleteTable" not in credentials
    assert credentials <= {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_authorizer_reads_credentials_and_notes_their_use_and_nothing_else_of_dynamodb(stage: str) -> None:
    policy = _functions(stage)[AUTHORIZER].policy()
    environment = json.loads((CHALICE_DIR / "config.json").read_text())["stages"][stage]["environment_variables"]
    config = settings_for(environment)
    for logical, definition in table_definitions(config).items():
        allowed = {action for action in DATA_ACTIONS if allows(policy, action, table_arn(definition["TableName"]))}
        assert allowed == ({"dynamodb:GetItem", "dynamodb:UpdateItem"} if logical == "credentials" else set())


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_role_reads_exactly_its_stage_secrets(calls: dict[str, dict[str, set[Call]]], stage: str) -> None:
    # The routes hash the credentials the management API generates with the authorizer's key.
    expected = {
        ROUTES: [CREDENTIAL_HASH_KEY, CURSOR_SECRET],
        AUTHORIZER: [CREDENTIAL_HASH_KEY],
        **{name: [] for name in STREAM_FUNCTIONS},
    }
    for function, names in expected.items():
        secrets = {arn for action, arn in calls[stage][function] if action.startswith("secretsmanager:")}
        assert sorted(arn.split(":")[-1][: -len("-XXXXXX")] for arn in secrets) == [f"scim-{stage}/{n}" for n in names]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("function", sorted(STREAM_FUNCTIONS))
def test_a_stream_function_reads_its_own_stream_never_writes_a_table_publishes_and_sets_aside_in_its_stage(
    calls: dict[str, dict[str, set[Call]]], stage: str, function: str
) -> None:
    policy = _functions(stage)[function].policy()
    environment = json.loads((CHALICE_DIR / "config.json").read_text())["stages"][stage]["environment_variables"]
    definitions = table_definitions(settings_for(environment))
    own = definitions[STREAM_FUNCTIONS[function]]["TableName"]
    for logical, definition in definitions.items():
        stream = table_arn(definition["TableName"]) + "/stream/2026-12-04T00:00:00.000"
        readable = allows(policy, "dynamodb:GetRecords", stream)
        assert readable == (definition["TableName"] == own), stream
        allowed = {action for action in DATA_ACTIONS if allows(policy, action, table_arn(definition["TableName"]))}
        # Roles depend on groups, memberships, mappings, the role source and direct grants: the changes of those
        # read what else a user's roles come from (a user's own change carries the user), and never write.
        assert allowed <= READS, (logical, allowed)
        assert bool(allowed) == (logical in ROLE_READS[STREAM_FUNCTIONS[function]]), logical
    assert allows(policy, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/scim-{stage}-events")
    assert not allows(policy, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")
    assert allows(policy, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-{stage}-events-dead-letters")
    services = {action.partition(":")[0] for action, _ in calls[stage][function]}
    assert services == {"dynamodb", "events", "sqs", "logs"}


def test_the_recorded_arns_carry_region_and_account() -> None:
    # Wildcards in a policy's region and account must be decided against real ones, as IAM does.
    assert table_arn("t").split(":")[3:5] == [REGION, ACCOUNT]


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


def route_modules() -> list[Path]:
    return sorted(path for path in STORE_DIR.glob("*.py") if path.name not in NOT_ROUTE_MODULES)


def test_the_session_makes_every_kind_of_call_the_routes_store_code_holds(
    calls: dict[str, dict[str, set[Call]]],
) -> None:
    # A store call the session never makes would go unchecked, and be denied on AWS: extend tests/aws_calls.py.
    operations = {operation for path in route_modules() for operation in _client_calls(path)}
    written = set(operations - TRANSACTIONS)
    if operations & TRANSACTIONS:
        written |= {action for path in route_modules() for action in _transact_item_actions(path)}
    made = {action.removeprefix("dynamodb:") for action, _ in calls["dev"][ROUTES] if action.startswith("dynamodb:")}
    assert written - made == set()


def test_only_the_store_calls_dynamodb() -> None:
    for path in (PROJECT_DIR / "chalicelib").rglob("*.py"):
        if path.parent != STORE_DIR:
            assert not set(_client_calls(path)), path


def test_policy_actions_exist_in_iam() -> None:
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    known = load_resource(AdditionalSpecs, "Policies.json")
    for path in sorted(CHALICE_DIR.glob("policy-*.json")):
        for statement in json.loads(path.read_text())["Statement"]:
            for action in listed(statement["Action"]):
                service, _, name = action.partition(":")
                assert name.lower() in known[service]["Actions"], f"{path.name}: no IAM action {action}"


def test_policies_name_each_table_and_log_group_exactly() -> None:
    # A wildcard in a table's or a log group's name could reach another stage's or another function's.
    for path in CHALICE_DIR.glob("policy-*.json"):
        for statement in json.loads(path.read_text())["Statement"]:
            for resource in listed(statement["Resource"]):
                name = resource.split(":", 5)[5]
                if resource.startswith("arn:aws:dynamodb:"):
                    assert not set(name.removeprefix("table/").partition("/")[0]) & set("*?"), resource
                if resource.startswith("arn:aws:logs:"):
                    assert not set(name.removeprefix("log-group:").removesuffix(":*")) & set("*?"), resource
