"""What `make deploy-infra` and `make deploy` put on AWS, checked offline: generated, linted, packaged, wired.

No AWS call is made: cfn-lint validates the templates against its bundled resource schemas, `chalice
package` builds the API's SAM template (from a copy of the project with no requirements to download,
so it needs no network; only the code zip differs from a real deploy), and the Makefile's targets run
against a fake AWS CLI that records what it is asked.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from chalicelib.gateway_responses import GATEWAY_RESPONSES, SCIM_ERROR_SCHEMA, WWW_AUTHENTICATE
from chalicelib.metrics import NAMESPACE
from chalicelib.store.tables import TIME_TO_LIVE, table_definitions
from infra import templates
from infra.templates import SECRETS, TEMPLATES, render, settings_for
from tests.conftest import PROJECT_DIR

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
def option(name):
    return args[args.index(name) + 1] if name in args else None
if args[:2] == ["cloudformation", "describe-stacks"]:
    query = option("--query")
    outputs = {{
        "ArtifactsBucket": "scim-dev-infra-artifactsbucket-1a2b3c",
        "EndpointURL": "https://abc123.execute-api.us-east-1.amazonaws.com/api/",
        "RestAPIId": "abc123",
    }}
    print(next((value for key, value in outputs.items() if repr(key) in query), "None"))
elif args[:2] == ["cloudformation", "package"]:
    template = json.load(open(option("--template-file")))
    for resource in template["Resources"].values():
        if "CodeUri" in resource.get("Properties", {{}}):
            resource["Properties"]["CodeUri"] = f"s3://{{option('--s3-bucket')}}/{{option('--s3-prefix')}}/code.zip"
    json.dump(template, open(option("--output-template-file"), "w"))
elif args[:2] == ["cloudformation", "deploy"]:
    kept = os.path.join(os.environ["FAKE_AWS_TEMPLATES"], option("--stack-name") + ".json")
    with open(option("--template-file")) as source, open(kept, "w") as target:
        target.write(source.read())
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
    (destination / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return destination


def _environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **extra}


@pytest.fixture(scope="module", params=DEPLOYED_STAGES)
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(stage, Chalice's SAM template merged with infra/api.json), as `make deploy` builds it."""
    stage: str = request.param
    project = _project_copy(tmp_path_factory.mktemp(f"project-{stage}"))
    subprocess.run(
        [PROJECT_DIR / ".venv/bin/chalice", "package", "--stage", stage, "--merge-template", "infra/api.json", "out"],
        cwd=project,
        env=_environment(),
        check=True,
        capture_output=True,
    )
    return stage, (project / "out" / "sam.json").read_text()


@pytest.mark.parametrize("file_name", TEMPLATES)
def test_committed_templates_are_what_the_code_generates(file_name: str) -> None:
    committed = (PROJECT_DIR / "infra" / file_name).read_text()
    assert committed == render(TEMPLATES[file_name]()), "run `make templates` and commit infra/"


def test_infra_stack_passes_cfn_lint() -> None:
    assert _lint((PROJECT_DIR / "infra" / "stack.json").read_text()) == []


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_infra_tables_are_the_code_tables_under_the_names_the_stage_uses(stage: str) -> None:
    resources = templates.stack_template()["Resources"]
    tables = {name: resource for name, resource in resources.items() if resource["Type"] == "AWS::DynamoDB::Table"}
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
        assert properties == definition
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_activity_entries_expire_after_the_stage_retention_by_dynamodb_ttl() -> None:
    activity = templates.stack_template()["Resources"]["ActivityTable"]["Properties"]
    assert activity["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {index["IndexName"] for index in activity["GlobalSecondaryIndexes"]} == {"byResource", "byError"}


def test_alarms_watch_5xx_503_and_authorizer_errors_of_the_stage_and_notify_the_alarm_topic() -> None:
    resources = templates.stack_template()["Resources"]
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
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


def test_every_alarm_has_its_section_in_the_readme() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    for alarm in templates.ALARMS:
        assert f"scim-<stage>-{alarm.logical_id.removesuffix('Alarm')}" in readme, alarm.logical_id


def test_every_dev_default_secret_of_the_config_is_generated_per_stage_and_never_set_in_the_repo() -> None:
    # config.py falls back to a DEV_* constant for each secret setting; AWS must never run on one.
    tree = ast.parse((PROJECT_DIR / "chalicelib" / "config.py").read_text())
    with_dev_default = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[1], ast.Name)
        and node.args[1].id.startswith("DEV_")
    }
    assert {secret.variable for secret in SECRETS} == with_dev_default
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for stage in config["stages"].values():
        assert not with_dev_default & set(stage.get("environment_variables", {}))
    stack = templates.stack_template()["Resources"]
    for secret in SECRETS:
        assert stack[secret.logical_id]["Properties"]["Name"] == {"Fn::Sub": secret.secret_name}
        assert "SecretString" not in stack[secret.logical_id]["Properties"]


def test_packaged_api_passes_cfn_lint(packaged: tuple[str, str]) -> None:
    _, template = packaged
    assert _lint(template) == []


def test_packaged_api_answers_refused_credentials_with_401_a_challenge_and_a_scim_error(
    packaged: tuple[str, str],
) -> None:
    _, template = packaged
    definition = json.loads(template)["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = definition["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(GATEWAY_RESPONSES) >= {"UNAUTHORIZED", "ACCESS_DENIED"}
    for response_type, expected in GATEWAY_RESPONSES.items():
        response = responses[response_type]
        assert response["statusCode"] == str(expected.status)
        headers = {
            name.removeprefix("gatewayresponse.header."): value.strip("'")
            for name, value in response["responseParameters"].items()
        }
        assert headers == expected.headers
        for body in response["responseTemplates"].values():
            error = json.loads(body)
            assert error["schemas"] == [SCIM_ERROR_SCHEMA] and error["status"] == str(expected.status)
    for refused in ("UNAUTHORIZED", "ACCESS_DENIED"):
        challenge = responses[refused]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"]
        assert responses[refused]["statusCode"] == "401"
        assert challenge == f"'{WWW_AUTHENTICATE}'"
        assert 'Basic realm="SCIM"' in challenge


def test_packaged_api_gets_each_secret_from_secrets_manager_at_deploy_time(packaged: tuple[str, str]) -> None:
    stage, template = packaged
    resources = json.loads(template)["Resources"]
    for secret in SECRETS:
        for function in secret.functions:
            variables = resources[function]["Properties"]["Environment"]["Variables"]
            assert variables[secret.variable] == {"Fn::Sub": "{{resolve:secretsmanager:" + secret.secret_name + "}}"}
            assert variables["TABLE_PREFIX"] == f"scim-{stage}"


def test_packaged_api_runs_each_lambda_with_its_own_policy_and_limits(packaged: tuple[str, str]) -> None:
    stage, template = packaged
    resources = json.loads(template)["Resources"]
    chalice_dir = PROJECT_DIR / ".chalice"
    for function, policy_file in (
        ("APIHandler", f"policy-{stage}.json"),
        ("ScimAuth", f"policy-{stage}-authorizer.json"),
    ):
        properties = resources[function]["Properties"]
        role = resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert [policy["PolicyDocument"] for policy in role["Policies"]] == [
            json.loads((chalice_dir / policy_file).read_text())
        ]
        assert properties["Timeout"] <= API_GATEWAY_TIMEOUT_SECONDS
        assert properties["MemorySize"] >= 512


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
    # -o: the shared virtualenv is up to date; never reinstall it from the copy's empty requirements.
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/bin/.runtime", *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_make_deploy_infra_deploys_the_generated_stack_for_the_stage_and_protects_it(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    result, calls = _run_make(project, tmp_path, "deploy-infra", "STAGE=prod")
    assert result.returncode == 0, result.stderr
    deploy, protect = calls
    assert deploy[:2] == ["cloudformation", "deploy"]
    assert deploy[deploy.index("--stack-name") + 1] == "scim-prod-infra"
    assert deploy[deploy.index("--template-file") + 1] == "infra/stack.json"
    assert deploy[deploy.index("--parameter-overrides") + 1] == "Stage=prod"
    assert protect == [
        "cloudformation",
        "update-termination-protection",
        "--enable-termination-protection",
        "--stack-name",
        "scim-prod-infra",
    ]


def test_make_deploy_packages_the_api_and_deploys_it_as_one_stack(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    result, calls = _run_make(project, tmp_path, "deploy", "STAGE=dev")
    assert result.returncode == 0, result.stderr
    assert [call[:2] for call in calls] == [
        ["cloudformation", "describe-stacks"],
        ["cloudformation", "package"],
        ["cloudformation", "deploy"],
        ["cloudformation", "describe-stacks"],
    ]
    deploy = calls[2]
    assert deploy[deploy.index("--stack-name") + 1] == "onemodel-scim-dev"
    assert deploy[deploy.index("--parameter-overrides") + 1] == "Stage=dev"
    assert {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} <= set(deploy)
    assert result.stdout.strip().splitlines()[-1] == (
        "SCIM_BASE_URL=https://abc123.execute-api.us-east-1.amazonaws.com/api/scim/v2"
    )
    deployed = (tmp_path / "deployed" / "onemodel-scim-dev.json").read_text()
    resources = json.loads(deployed)["Resources"]
    assert resources["APIHandler"]["Properties"]["CodeUri"].startswith("s3://scim-dev-infra-artifactsbucket-1a2b3c/")
    assert "x-amazon-apigateway-gateway-responses" in resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert _lint(deployed) == []


@pytest.mark.parametrize("stage", ["", "local", "test"])
def test_make_deploy_refuses_a_stage_without_its_own_policies(stage: str, tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    result, calls = _run_make(project, tmp_path, "deploy", f"STAGE={stage}")
    assert result.returncode != 0
    assert "usage: make deploy STAGE=dev|prod" in result.stderr
    assert calls == []


def test_make_flush_auth_cache_ends_the_authorizer_cache_of_the_stages_api(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    result, calls = _run_make(project, tmp_path, "flush-auth-cache", "STAGE=prod")
    assert result.returncode == 0, result.stderr
    describe, flush = calls
    assert describe[describe.index("--stack-name") + 1] == "onemodel-scim-prod"
    assert flush == ["apigateway", "flush-stage-authorizers-cache", "--stage-name", "api", "--rest-api-id", "abc123"]
    assert _stage_config("prod")["api_gateway_stage"] == "api"
