"""What `make deploy-infra` puts on AWS, and what `make deploy` adds after `chalice deploy`, checked offline.

No AWS call is made: cfn-lint validates the stack against its bundled resource schemas, and the
Makefile's targets run against a fake AWS CLI that records what it is asked. The release itself
(`chalice deploy` against moto's server) is tests/test_deploy.py's.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from moto import mock_aws

from chalicelib.gateway_responses import GATEWAY_RESPONSES, SCIM_ERROR_SCHEMA, WWW_AUTHENTICATE
from chalicelib.metrics import NAMESPACE
from chalicelib.stage_secrets import DEV_DEFAULTS
from chalicelib.store.tables import TIME_TO_LIVE, table_definitions
from infra import events_stack, release, rest_api, stream_release, templates
from infra.infra_stack import deploy_infra
from infra.templates import SECRETS, TEMPLATES, render, settings_for
from tests.conftest import PROJECT_DIR
from tests.moto_cloudformation import change_set_outputs, termination_protection

DEPLOYED_STAGES = ["dev", "prod"]
# API Gateway gives up on an integration after 29 s; a Lambda running longer only costs money.
API_GATEWAY_TIMEOUT_SECONDS = 29
LINT_CONFIG = ManualArgs(
    regions=["us-east-1", "eu-west-1"],
    include_checks=["I"],
    # Date-based (the python3.11 runtime is deprecated on 2027-06-30): an unchanged build must not start failing.
    ignore_checks=["W2531", "E2531", "E2533"],
)
FAKE_AWS_CLI = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
"""


def _lint(template: str) -> list[str]:
    return [f"{match.rule.id} line {match.linenumber}: {match.message}" for match in lint(template, config=LINT_CONFIG)]


def _stage_config(stage: str) -> dict[str, Any]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stage_config: dict[str, Any] = config["stages"][stage]
    return stage_config


def _stage_environment(stage: str) -> dict[str, str]:
    environment: dict[str, str] = _stage_config(stage)["environment_variables"]
    return environment


def _project_copy(destination: Path) -> Path:
    """The files `chalice package` and the Makefile read, with no requirement to download."""
    ignore = shutil.ignore_patterns("__pycache__")
    for directory in ("chalicelib", "infra"):
        shutil.copytree(PROJECT_DIR / directory, destination / directory, ignore=ignore)
    (destination / ".chalice").mkdir()
    for path in (PROJECT_DIR / ".chalice").glob("*.json"):
        shutil.copy(path, destination / ".chalice")
    for name in ("app.py", "Makefile"):
        shutil.copy(PROJECT_DIR / name, destination)
    (destination / "requirements.txt").write_text("")
    # The virtualenv running these tests, whichever Python it is (CI runs them on several).
    (destination / ".venv").symlink_to(Path(sys.prefix))
    return destination


def _environment(**extra: str) -> dict[str, str]:
    # An outer make's variables (`make test-all VENV=...`) would reach the copy's make through MAKEFLAGS.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON", "VENV"}
    }
    return {**inherited, "AWS_DEFAULT_REGION": "us-east-1", **extra}


@pytest.mark.parametrize("file_name", TEMPLATES)
def test_committed_templates_are_what_the_code_generates(file_name: str) -> None:
    committed = (PROJECT_DIR / "infra" / file_name).read_text()
    assert committed == render(TEMPLATES[file_name]()), "run `make templates` and commit infra/"


def test_infra_stack_passes_cfn_lint() -> None:
    assert _lint((PROJECT_DIR / "infra" / "stack.json").read_text()) == []


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_infra_tables_are_the_code_tables_under_the_names_the_stage_uses(stage: str) -> None:
    resources = templates.stack_template()["Resources"]
    tables = {
        name: resource
        for name, resource in resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table" and name != "DeployLockTable"
    }
    expected = table_definitions(settings_for(_stage_environment(stage)))
    assert len(tables) == len(expected) == 5
    for name, definition in expected.items():
        table = tables[templates._camel(name) + "Table"]
        properties = dict(table["Properties"])
        assert properties.pop("TableName")["Fn::Sub"].replace("${Stage}", stage) == definition.pop("TableName")
        assert properties.pop("BillingMode") == definition.pop("BillingMode") == "PAY_PER_REQUEST"
        assert properties.pop("PointInTimeRecoverySpecification") == {"PointInTimeRecoveryEnabled": True}
        assert properties.pop("SSESpecification") == {"SSEEnabled": True}
        assert properties.pop("DeletionProtectionEnabled") is True
        if name in TIME_TO_LIVE:
            assert properties.pop("TimeToLiveSpecification") == {"AttributeName": TIME_TO_LIVE[name], "Enabled": True}
        if "StreamSpecification" in definition:  # CloudFormation enables a stream by its view type alone
            stream = definition.pop("StreamSpecification")
            assert properties.pop("StreamSpecification") == {"StreamViewType": stream["StreamViewType"]}
        assert properties == definition
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_activity_entries_expire_after_the_stage_retention_by_dynamodb_ttl() -> None:
    activity = templates.stack_template()["Resources"]["ActivityTable"]["Properties"]
    assert activity["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {index["IndexName"] for index in activity["GlobalSecondaryIndexes"]} == {
        "byResource",
        "byError",
        "byIgnored",
    }


def test_alarms_watch_5xx_503_and_authorizer_errors_of_the_stage_and_notify_the_alarm_topic() -> None:
    resources = templates.stack_template()["Resources"]
    alarms = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and name in {alarm.logical_id for alarm in templates.ALARMS}
    }
    watched: dict[str, set[str]] = {}
    for name, alarm in alarms.items():
        stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        metrics = stats or [{k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")}]
        for metric in metrics:
            assert metric["Namespace"] == NAMESPACE
            assert metric["Dimensions"] == [{"Name": "Stage", "Value": {"Ref": "Stage"}}]
        watched[name] = {metric["MetricName"] for metric in metrics}
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert watched == {
        "ServerErrorRateAlarm": {"ServerErrors", "Requests"},
        "UnavailableRateAlarm": {"Unavailable", "Requests"},
        "AuthorizerErrorsAlarm": {"AuthorizerErrors"},
        "ActivityWriteFailuresAlarm": {"ActivityWriteFailures"},
    }
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_every_alarm_has_its_row_in_the_runbook() -> None:
    runbook = (PROJECT_DIR / "docs" / "operations" / "runbook.md").read_text()
    for alarm in templates.ALARMS:
        assert f"scim-<stage>-{alarm.logical_id.removesuffix('Alarm')}" in runbook, alarm.logical_id


def test_every_dev_default_secret_is_generated_per_stage_and_no_stage_sets_a_secret_value() -> None:
    # stage_secrets falls back to a dev-only default for each secret; AWS must never run on one.
    assert {secret.name for secret in SECRETS} == set(DEV_DEFAULTS)
    stack = templates.stack_template()["Resources"]
    for secret in SECRETS:
        properties = stack[secret.logical_id]["Properties"]
        assert properties["Name"] == {"Fn::Sub": f"scim-${{Stage}}/{secret.name}"}
        assert "SecretString" not in properties and properties["GenerateSecretString"]["PasswordLength"] >= 64
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for name, stage in config["stages"].items():
        variables = stage.get("environment_variables", {})
        assert not {"CREDENTIAL_HASH_KEY", "CURSOR_SECRET"} & set(variables), name
        assert not set(DEV_DEFAULTS.values()) & set(variables.values()), name
        if name in DEPLOYED_STAGES:
            # The Lambdas read scim-<stage>/<secret> at run time, and never the dev defaults.
            assert variables["SECRETS_PREFIX"] == variables["TABLE_PREFIX"] == f"scim-{name}"
            assert "SCIM_DEV_SECRETS" not in variables
        else:
            assert "SECRETS_PREFIX" not in variables


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_lambda_of_a_deployed_stage_runs_with_its_own_policy_and_limits(stage: str) -> None:
    config = _stage_config(stage)
    assert config["autogen_policy"] is False
    assert config["iam_policy_file"] == f"policy-{stage}.json"
    assert config["lambda_timeout"] <= API_GATEWAY_TIMEOUT_SECONDS
    authorizer = config["lambda_functions"]["scim_auth"]
    assert authorizer["iam_policy_file"] == f"policy-{stage}-authorizer.json"
    assert authorizer["lambda_timeout"] <= API_GATEWAY_TIMEOUT_SECONDS
    assert min(config["lambda_memory_size"], authorizer["lambda_memory_size"]) >= 512


def test_gateway_responses_are_scim_errors_and_the_401_challenges(tmp_path: Path) -> None:
    requests = {request["responseType"]: request for request in rest_api.gateway_response_requests("abc123")}
    assert set(requests) == set(GATEWAY_RESPONSES)
    assert set(GATEWAY_RESPONSES) == {"UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "QUOTA_EXCEEDED"}
    for response_type, expected in GATEWAY_RESPONSES.items():
        request = requests[response_type]
        assert request["statusCode"] == str(expected.status)
        headers = {
            name.removeprefix("gatewayresponse.header."): value.strip("'")
            for name, value in request["responseParameters"].items()
        }
        assert headers == expected.headers
        assert set(request["responseTemplates"]) == {"application/json", "application/scim+json"}
        for body in request["responseTemplates"].values():
            error = json.loads(body)
            assert error["schemas"] == [SCIM_ERROR_SCHEMA] and error["status"] == str(expected.status)
    challenge = requests["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"]
    assert requests["UNAUTHORIZED"]["statusCode"] == "401"
    assert challenge == f"'{WWW_AUTHENTICATE}'"


def _run_make(project: Path, tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "aws").write_text(FAKE_AWS_CLI.format(python=sys.executable))
    (fake / "aws").chmod(0o755)
    (tmp_path / "deployed").mkdir(exist_ok=True)
    log = tmp_path / "aws.log"
    environment = _environment(
        PATH=f"{fake}{os.pathsep}{os.environ['PATH']}",
        FAKE_AWS_LOG=str(log),
        FAKE_AWS_TEMPLATES=str(tmp_path / "deployed"),
    )
    # -o: the shared virtualenv is up to date (never reinstall it from the copy's empty requirements), and the
    # bytecode step is tested on its own (tests/test_bytecode.py).
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/bin/.runtime",
            "-o",
            ".venv/bin/.dev",
            "-o",
            "bytecode",
            *arguments,
        ],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


# moto's CloudFormation creates neither secrets, alarms nor queue policies (tests/test_deploy.py creates the secrets).
@pytest.mark.filterwarnings("ignore:Tried to parse AWS..(SecretsManager|CloudWatch|SQS)..:UserWarning")
def test_make_deploy_infra_deploys_the_generated_stack_for_the_stage_and_protects_it() -> None:
    with mock_aws(), termination_protection():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        assert deploy_infra(cloudformation, "prod") == "created"
        (stack,) = cloudformation.describe_stacks(StackName="scim-prod-infra")["Stacks"]
        assert stack["EnableTerminationProtection"] is True
        assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
            "Stage": "prod",
            "ManagementCallerArn": "",
            "ApiId": "*",
            events_stack.RETENTION_PARAMETER: str(events_stack.DEFAULT_RETENTION_DAYS),
        }
        assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]} == {"app": "onemodel-scim", "stage": "prod"}
        template = cloudformation.get_template(StackName="scim-prod-infra")["TemplateBody"]
        template = template if isinstance(template, dict) else json.loads(template)
        assert template == templates.stack_template()
        tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
        assert "scim-prod-deploy-lock" in tables and "scim-prod-users" in tables
        # Inline, the template must stay under CloudFormation's TemplateBody limit.
        assert len(templates.compact(templates.stack_template()).encode()) < 51_200
        assert deploy_infra(cloudformation, "prod") in ("unchanged", "updated")


@pytest.mark.filterwarnings("ignore:Tried to parse AWS..(SecretsManager|CloudWatch|SQS)..:UserWarning")
def test_make_deploy_infra_passes_the_archive_retention_and_writes_the_stack_outputs_into_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a copy of the project's stage configuration
    (tmp_path / ".chalice").mkdir()
    shutil.copy(PROJECT_DIR / ".chalice" / "config.json", tmp_path / ".chalice" / "config.json")
    monkeypatch.setattr(release, "PROJECT_DIR", tmp_path)
    with mock_aws(), termination_protection(), change_set_outputs():
        # When make deploy-infra runs for prod
        assert release.main(["deploy-infra", "prod"]) == 0
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        (stack,) = cloudformation.describe_stacks(StackName="scim-prod-infra")["Stacks"]
    # Then the stack keeps prod's events the days prod says
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters[events_stack.RETENTION_PARAMETER] == _stage_environment("prod")["EVENTS_ARCHIVE_RETENTION_DAYS"]
    # and the stack's stream ARNs, bus and queues are the stage's environment, where chalice deploy reads them
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    written = json.loads((tmp_path / ".chalice" / "config.json").read_text())["stages"]["prod"]["environment_variables"]
    for key, variable in events_stack.STAGE_OUTPUTS.items():
        assert written[variable] == outputs[key] != ""
    assert ":table/scim-prod-users/stream/" in written["USERS_STREAM_ARN"]
    assert written["EVENT_BUS_NAME"] == "scim-prod-events"
    assert stream_release.missing_variables(written) == []


@pytest.mark.parametrize("stage", ["", "local", "test"])
def test_make_deploy_refuses_a_stage_without_its_own_policies(stage: str, tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    result, calls = _run_make(project, tmp_path, "deploy", f"STAGE={stage}")
    assert result.returncode != 0
    assert "usage: make deploy STAGE=dev|prod" in result.stderr
    assert calls == []


def _secret_problems(problems: list[str]) -> list[str]:
    # The release Python is the next test's; the other checks are tests/test_releases.py's.
    return [problem for problem in problems if "secret" in problem.lower()]


def test_make_deploy_stops_before_chalice_when_the_stage_has_no_stream_arns() -> None:
    # A stage whose infra predates the events: chalice deploy would make no stream function.
    with mock_aws():
        (problem,) = [problem for problem in release.preflight("dev") if "STREAM_ARN" in problem]
    assert "USERS_STREAM_ARN" in problem and "EVENTS_DEAD_LETTER_QUEUE_URL" in problem
    assert "make deploy-infra STAGE=dev" in problem


def test_make_deploy_stops_before_chalice_when_the_stage_has_no_secrets() -> None:
    with mock_aws():
        problems = _secret_problems(release.preflight("dev"))
        assert [problem.split(":")[0] for problem in problems] == [
            "secret scim-dev/credential-hash-key",
            "secret scim-dev/cursor-secret",
        ]
        assert all("make deploy-infra STAGE=dev" in problem for problem in problems)
        secretsmanager = boto3.client("secretsmanager", region_name="us-east-1")
        for name in ("credential-hash-key", "cursor-secret"):
            secretsmanager.create_secret(Name=f"scim-dev/{name}", SecretString="x" * 64)
        assert _secret_problems(release.preflight("dev")) == []
        assert _secret_problems(release.preflight("test")) == [
            "stage 'test' sets no SECRETS_PREFIX in .chalice/config.json"
        ]


def test_make_deploy_refuses_a_python_other_than_the_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chalice ships the Lambda runtime of the interpreter that deploys.
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    config = {"stages": {"dev": {**_stage_config("dev"), "python_version": "3.99"}}}
    monkeypatch.setattr(release, "read_config", lambda project_dir: config)
    with mock_aws():
        problems = release.preflight("dev")
    assert problems[0].startswith(f"Python {running}: stage dev runs on Python 3.99")


def test_the_gateway_responses_step_needs_the_shared_deployed_state(tmp_path: Path) -> None:
    with pytest.raises(rest_api.NotDeployed, match=r"\.chalice/deployed/dev\.json is missing"):
        rest_api.deployed_rest_api(tmp_path, "dev")
    (tmp_path / ".chalice" / "deployed").mkdir(parents=True)
    api = {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123", "rest_api_url": "https://x/api/"}
    (tmp_path / ".chalice" / "deployed" / "dev.json").write_text(json.dumps({"resources": [api]}))
    assert rest_api.deployed_rest_api(tmp_path, "dev")["rest_api_id"] == "abc123"


def test_events_have_a_bus_archive_dead_letters_with_an_alarm_and_an_operator_queue() -> None:
    template = templates.stack_template()
    resources = template["Resources"]
    bus = resources[events_stack.BUS]["Properties"]
    assert bus["Name"] == {"Fn::Sub": "scim-${Stage}-events"}
    archive = resources[events_stack.ARCHIVE]["Properties"]
    assert archive["SourceArn"] == {"Fn::GetAtt": [events_stack.BUS, "Arn"]}
    assert archive["RetentionDays"] == {"Ref": events_stack.RETENTION_PARAMETER}
    alarm = resources[events_stack.DEAD_LETTERS_ALARM]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        1,
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [events_stack.DEAD_LETTERS, "QueueName"]}}
    ]
    rule = resources[events_stack.OPERATORS_RULE]["Properties"]
    assert rule["EventBusName"] == bus["Name"]
    assert resources[events_stack.OPERATORS_RULE]["DependsOn"] == events_stack.BUS
    assert rule["Targets"] == [{"Id": "operators", "Arn": {"Fn::GetAtt": [events_stack.OPERATORS, "Arn"]}}]
    # Each streamed table has both images in its stream, and the stack exports the stream for the deploy.
    for name in ("users", "groups", "role_mappings", "credentials"):
        table = templates._camel(name) + "Table"
        assert resources[table]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert set(events_stack.STAGE_OUTPUTS) <= set(template["Outputs"])


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_deployed_stage_sets_its_event_archive_retention(stage: str) -> None:
    days = _stage_environment(stage)["EVENTS_ARCHIVE_RETENTION_DAYS"]
    assert int(days) >= 1
