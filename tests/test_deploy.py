"""The release, tried from the outside: real ``chalice deploy --stage dev`` against moto's server on 127.0.0.1.

``make test-deploy`` runs this module (``.ci/run`` calls it after ``make test``): Chalice downloads the
Linux builds of the requirements from PyPI to package the Lambdas, so it is not part of the offline
``make test``. As operators do: ``make deploy-infra`` (moto's CloudFormation skips the secrets, which
the test then creates, and the alarms, which tests/test_infra.py checks) with the stack's stream ARNs,
bus and queues committed into the stage, a plain ``chalice deploy`` (the stream functions included)
from one clone with ``.chalice/deployed/dev.json`` committed, ``make deploy`` from a second, fresh
clone (the same API and functions, the gateway responses, the guardrails and the release record), a
third release with a bigger function, ``make rollback`` back to the second release, and at the
end ``make destroy``.
Between them a tenant is created; at the end its limits are set with ``admin limits``. The plain deploy
serves every IdP (no API key required anywhere); ``make deploy`` turns the per-tenant limits on (moto
stores usage plans and keys and reads them back; it enforces nothing).
"""

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import IAMAuthorizer

from app import app
from chalicelib.auth.tenant_limits import UNAUTHENTICATED, usage_key
from chalicelib.config import STREAM_VARIABLES
from chalicelib.events import RETRY_ATTEMPTS, STREAM_BATCH_SIZE
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from chalicelib.stage_runtime import read_config, stage_python_version
from infra import deploy_lock, events_stack, guardrails
from infra.iam import stage_functions
from tests.aws_calls import log_calls
from tests.conftest import PROJECT_DIR
from tests.helpers import free_port
from tests.moto_api_gateway import chalice_swagger_imports, method_updates
from tests.moto_cloudformation import change_set_outputs, termination_protection
from tests.test_iam_policy import denied_calls, unused_grants

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("SCIM_DEPLOY_TEST") != "1", reason="run by `make test-deploy`: packaging downloads from PyPI"
    ),
    # moto's CloudFormation skips the secrets (_create_infra creates them from the template's own definitions)
    # and the alarms (which no release step reads).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS..(SecretsManager|CloudWatch|SNS)..:UserWarning"),
]
STAGE = "dev"
REGION = "us-east-1"
FUNCTIONS = {"api_handler": "onemodel-scim-dev", "scim_auth": "onemodel-scim-dev-scim_auth"}
# app.py's stream functions: invoked by Lambda's event source mappings, never by API Gateway.
STREAM_FUNCTIONS = {f"{table}_changes": f"onemodel-scim-dev-{table}_changes" for table in STREAM_VARIABLES}
ALL_FUNCTIONS = {**FUNCTIONS, **STREAM_FUNCTIONS}
POLICY_FILES = {
    "api_handler": "policy-dev.json",
    "scim_auth": "policy-dev-authorizer.json",
    **{name: f"policy-dev-{name}.json" for name in STREAM_FUNCTIONS},
}
# make test-deploy runs this module on the dev stage's Python, as make deploy would; chalice refuses any other.
STAGE_PYTHON = stage_python_version(read_config(PROJECT_DIR), STAGE)
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
STAGE_VARIABLES = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"][STAGE][
    "environment_variables"
]
# API Gateway gives up on an integration after 29 s; a Lambda running longer only costs money.
API_GATEWAY_TIMEOUT_SECONDS = 29


def _aws(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@dataclass
class Release:
    """What the operators' releases left on the embedded AWS, and what they printed."""

    endpoint: str
    environment: dict[str, str]
    clone: Path
    secret_values: dict[str, str]
    imported: list[dict[str, Any]]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    first_deployed: dict[str, Any]
    second_deployed: dict[str, Any]
    commits: list[str]
    memory_after_third: int
    rollback: subprocess.CompletedProcess[str]
    plain: dict[str, Any]
    """What the plain ``chalice deploy`` left: the API's key source, and which methods require an API key."""
    limits_set: subprocess.CompletedProcess[str]
    stage_variables: dict[str, str]
    """The stage's environment once ``make deploy-infra`` wrote the stack's outputs into it (committed)."""

    def client(self, service: str) -> Any:
        return _aws(self.endpoint, service)


def _git(cwd: Path, *arguments: str) -> str:
    identity = ["-c", "user.name=Operator", "-c", "user.email=ops@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *identity, *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _origin(destination: Path) -> Path:
    """The repository as an operator clones it: every file git tracks (or would), committed."""
    files = _git(PROJECT_DIR, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in files:
        source = PROJECT_DIR / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    _git(destination, "init", "--quiet")
    _git(destination, "add", "--all")
    _git(destination, "commit", "--quiet", "-m", "the release")
    _git(destination, "config", "receive.denyCurrentBranch", "updateInstead")
    return destination


def _clone(origin: Path, destination: Path) -> Path:
    _git(origin.parent, "clone", "--quiet", str(origin), str(destination))
    # The clone's virtualenv is the one running these tests (the stage's Python); -o below keeps make from
    # reinstalling it (runtime and dev requirements).
    (destination / ".venv").symlink_to(sys.prefix)
    # A symlink is not the directory .gitignore names: without this the tree would count as changed.
    with (destination / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".venv\n")
    return destination


def _run(cwd: Path, environment: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def _make(cwd: Path, environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return _run(
        cwd, environment, "make", "--no-print-directory", "-o", ".venv/bin/.runtime", "-o", ".venv/bin/.dev", *arguments
    )


def _api_keys_required(endpoint: str, api_id: str) -> dict[str, Any]:
    apigateway = _aws(endpoint, "apigateway")
    return {
        "apiKeySource": apigateway.get_rest_api(restApiId=api_id).get("apiKeySource"),
        "required": {
            (resource["path"], method)
            for resource in apigateway.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
            for method, details in resource.get("resourceMethods", {}).items()
            if details.get("apiKeyRequired")
        },
    }


def _create_secrets(endpoint: str) -> dict[str, str]:
    """infra/stack.json's secrets, which moto's CloudFormation skips, as AWS would generate them."""
    template = json.loads((PROJECT_DIR / "infra" / "stack.json").read_text())
    secrets_client = _aws(endpoint, "secretsmanager")
    values = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        properties = resource["Properties"]
        name = properties["Name"]["Fn::Sub"].replace("${Stage}", STAGE)
        generate = properties["GenerateSecretString"]
        value = secrets_client.get_random_password(
            PasswordLength=generate["PasswordLength"], ExcludePunctuation=generate["ExcludePunctuation"]
        )["RandomPassword"]
        secrets_client.create_secret(Name=name, SecretString=value, Description=properties["Description"])
        values[name] = value
    return values


def _create_dead_letters_alarm(endpoint: str) -> None:
    """infra/stack.json's alarm on the events' dead-letter queue, which moto's CloudFormation skips, on the stack's
    topic."""
    template = json.loads((PROJECT_DIR / "infra" / "stack.json").read_text())
    topic = _aws(endpoint, "sns").create_topic(
        Name=template["Resources"]["AlarmTopic"]["Properties"]["TopicName"]["Fn::Sub"].replace("${Stage}", STAGE)
    )["TopicArn"]
    alarm = dict(template["Resources"][events_stack.DEAD_LETTERS_ALARM]["Properties"])
    queue = template["Resources"][events_stack.DEAD_LETTERS]["Properties"]["QueueName"]["Fn::Sub"]
    alarm.update(
        AlarmName=alarm["AlarmName"]["Fn::Sub"].replace("${Stage}", STAGE),
        Dimensions=[{"Name": "QueueName", "Value": queue.replace("${Stage}", STAGE)}],
        AlarmActions=[topic],
        OKActions=[topic],
    )
    _aws(endpoint, "cloudwatch").put_metric_alarm(**alarm)


def _commit_deployed_state(clone: Path, message: str) -> None:
    _git(clone, "add", ".chalice/deployed")
    _git(clone, "commit", "--quiet", "-m", message)
    _git(clone, "push", "--quiet", "origin", "HEAD:main")


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    from moto.server import ThreadedMotoServer

    assert RUNNING_PYTHON == STAGE_PYTHON, f"stage {STAGE} deploys from Python {STAGE_PYTHON}: run `make test-deploy`"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SCIM_", "DYNAMODB_", "SECRETS_")) and key != "TABLE_PREFIX"
    }
    environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    with chalice_swagger_imports() as imported, termination_protection(), change_set_outputs(), method_updates():
        server.start()
        try:
            work = tmp_path_factory.mktemp("release")
            origin = _origin(work / "origin")

            # Given the first operator's clone, the stage's stack from `make deploy-infra`
            first_clone = _clone(origin, work / "first")
            infra = _make(first_clone, environment, "deploy-infra", f"STAGE={STAGE}")
            assert infra.returncode == 0, infra.stdout + infra.stderr
            # with the stack's stream ARNs, bus and queues written into the stage, committed as make deploy-infra says
            _git(first_clone, "commit", "--quiet", "-am", "make deploy-infra STAGE=dev")
            config = json.loads((first_clone / ".chalice" / "config.json").read_text())
            deployed_variables = config["stages"][STAGE]["environment_variables"]
            secret_values = _create_secrets(endpoint)
            _create_dead_letters_alarm(endpoint)

            # When they release with plain `chalice deploy`
            chalice = str(Path(sys.executable).with_name("chalice"))
            first = _run(first_clone, environment, chalice, "deploy", "--stage", STAGE)
            assert first.returncode == 0, first.stdout + first.stderr
            first_deployed = json.loads((first_clone / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
            plain = _api_keys_required(endpoint, _resource(first_deployed, "rest_api")["rest_api_id"])
            # A tenant onboarded on the stage before make deploy ever ran (its key exists, in no plan yet)
            admin = [sys.executable, "-m", "admin", "--stage", STAGE]
            created = _run(first_clone, environment, *admin, "tenant", "create", "acme")
            assert created.returncode == 0, created.stdout + created.stderr
            # and commit the deployed state, as docs/operations/deploy.md says
            _commit_deployed_state(first_clone, "deployed dev")
            # An API deleted earlier left its permission on the routes function.
            _aws(endpoint, "lambda").add_permission(
                FunctionName=FUNCTIONS["api_handler"], StatementId="deleted-api", Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:{REGION}:123456789012:gone00/*",
            )  # fmt: skip

            # When a second operator releases from a fresh clone with `make deploy`
            second_clone = _clone(origin, work / "second")
            commits = [_git(second_clone, "rev-parse", "HEAD").strip()]
            second = _make(second_clone, environment, "deploy", f"STAGE={STAGE}")
            assert second.returncode == 0, second.stdout + second.stderr
            second_deployed = json.loads((second_clone / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
            _commit_deployed_state(second_clone, "release 1 of dev")

            # and a third release changes the routes function's configuration
            config_path = second_clone / ".chalice" / "config.json"
            config = json.loads(config_path.read_text())
            config["stages"][STAGE]["lambda_memory_size"] += 512
            config_path.write_text(json.dumps(config, indent=2) + "\n")
            _git(second_clone, "commit", "--quiet", "-am", "bigger routes function")
            commits.append(_git(second_clone, "rev-parse", "HEAD").strip())
            # (the bytecode of this commit is the second release's: only the configuration changed)
            third = _make(second_clone, environment, "-o", "bytecode", "deploy", f"STAGE={STAGE}")
            assert third.returncode == 0, third.stdout + third.stderr
            memory_after_third = _aws(endpoint, "lambda").get_function_configuration(
                FunctionName=FUNCTIONS["api_handler"]
            )["MemorySize"]
            _commit_deployed_state(second_clone, "release 2 of dev")

            # Then `make rollback` deploys the previous recorded release again
            rollback = _make(second_clone, environment, "rollback", f"STAGE={STAGE}")
            assert rollback.returncode == 0, rollback.stdout + rollback.stderr
            # and an operator gives the tenant limits of its own
            limits_set = _run(
                second_clone, environment, *admin, "limits", "set", "acme", "--rate", "5", "--burst", "10"
            )
            yield Release(
                endpoint, environment, second_clone, secret_values, imported, first, second, first_deployed,
                second_deployed, commits, memory_after_third, rollback, plain, limits_set, deployed_variables,
            )  # fmt: skip
        finally:
            server.stop()


def _resource(deployed: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(resource for resource in deployed["resources"] if resource["name"] == name)
    return found


def test_a_second_deploy_from_a_fresh_clone_updates_the_same_api_and_functions(release: Release) -> None:
    first, second = release.first_deployed, release.second_deployed
    assert _resource(second, "rest_api")["rest_api_id"] == _resource(first, "rest_api")["rest_api_id"]
    for name in ALL_FUNCTIONS:
        assert _resource(second, name)["lambda_arn"] == _resource(first, name)["lambda_arn"]
    assert len(release.client("apigateway").get_rest_apis()["items"]) == 1
    assert sorted(f["FunctionName"] for f in release.client("lambda").list_functions()["Functions"]) == sorted(
        ALL_FUNCTIONS.values()
    )
    assert "Updating lambda function" in release.second.stdout
    assert "Creating Rest API" not in release.second.stdout


def test_every_scim_route_has_the_authorizer_admin_routes_iam_and_service_provider_config_none(
    release: Release,
) -> None:
    apigateway = release.client("apigateway")
    api_id = _resource(release.second_deployed, "rest_api")["rest_api_id"]
    (authorizer,) = apigateway.get_authorizers(restApiId=api_id)["items"]
    assert authorizer["type"] == "TOKEN"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert _resource(release.second_deployed, "scim_auth")["lambda_arn"] in authorizer["authorizerUri"]
    methods = {
        (resource["path"], method): details
        for resource in apigateway.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
        for method, details in resource.get("resourceMethods", {}).items()
    }
    expected = {(path, method) for path, entries in app.routes.items() for method in entries}
    assert set(methods) == expected
    for (path, method), details in methods.items():
        if path == "/scim/v2/ServiceProviderConfig":
            assert details["authorizationType"] == "NONE", (path, method)
        elif path.startswith("/admin/v1/"):
            # The management API: SigV4, execute-api:Invoke for the platform's role (infra/stack.json).
            assert (details["authorizationType"], details.get("authorizerId")) == ("AWS_IAM", None), (path, method)
        else:
            assert (details["authorizationType"], details.get("authorizerId")) == ("CUSTOM", authorizer["id"]), (
                path,
                method,
            )
    # What API Gateway was asked to build: the decision is cached 60 s per Authorization header.
    scheme = release.imported[-1]["securityDefinitions"]["scim_auth"]
    assert scheme["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == 60


def test_the_lambdas_hold_no_secret_and_name_the_stage_secrets(release: Release) -> None:
    lambda_client = release.client("lambda")
    for function in ALL_FUNCTIONS.values():
        configuration = lambda_client.get_function_configuration(FunctionName=function)
        variables = configuration["Environment"]["Variables"]
        assert variables == release.stage_variables
        assert variables["SECRETS_PREFIX"] == "scim-dev"  # names the secrets; holds none
        for value in release.secret_values.values():
            assert value not in json.dumps(configuration)
        # The runtime follows the deploying interpreter: the stage's Python, found by make deploy.
        assert configuration["Runtime"] == f"python{STAGE_PYTHON}"
        if function in FUNCTIONS.values():  # a stream function answers no request
            assert configuration["Timeout"] <= API_GATEWAY_TIMEOUT_SECONDS
        assert configuration["MemorySize"] >= 512


def test_each_role_grants_its_tables_and_exactly_its_secrets(release: Release) -> None:
    iam = release.client("iam")
    secrets = {entry["Name"]: entry["ARN"] for entry in release.client("secretsmanager").list_secrets()["SecretList"]}
    # The routes hash the credentials the management API generates: they read the hash key too.
    expected_secret = {
        "api_handler": {"scim-dev/cursor-secret", "scim-dev/credential-hash-key"},
        "scim_auth": {"scim-dev/credential-hash-key"},
        **{name: set() for name in STREAM_FUNCTIONS},  # the stream functions read no secret
    }
    for name in ALL_FUNCTIONS:
        role_name = _resource(release.second_deployed, f"{name}_role")["role_name"]
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == json.loads((PROJECT_DIR / ".chalice" / POLICY_FILES[name]).read_text())
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
        resources = [resource for statement in document["Statement"] for resource in statement["Resource"]]
        reachable = {secret for secret, arn in secrets.items() if any(fnmatch.fnmatch(arn, r) for r in resources)}
        assert reachable == expected_secret[name]
        for resource in resources:
            assert resource.startswith(
                (
                    "arn:aws:dynamodb:*:*:table/scim-dev-",
                    "arn:aws:logs:",
                    "arn:aws:secretsm",
                    "arn:aws:events:*:*:event-bus/scim-dev-events",
                    "arn:aws:sqs:*:*:scim-dev-events-dead-letters",
                )
            )


def test_make_deploy_leaves_the_two_gateway_responses_in_place(release: Release) -> None:
    apigateway = release.client("apigateway")
    api_id = _resource(release.second_deployed, "rest_api")["rest_api_id"]
    responses = {item["responseType"]: item for item in apigateway.get_gateway_responses(restApiId=api_id)["items"]}
    assert set(responses) == set(GATEWAY_RESPONSES)
    for response_type, expected in GATEWAY_RESPONSES.items():
        response = responses[response_type]
        assert response["statusCode"] == str(expected.status)
        assert {
            name.removeprefix("gatewayresponse.header."): value.strip("'")
            for name, value in response["responseParameters"].items()
        } == expected.headers
        assert set(response["responseTemplates"].values()) == {expected.body}
    assert release.second.stdout.strip().splitlines()[-1].startswith("SCIM_BASE_URL=https://")
    assert release.second.stdout.strip().splitlines()[-1].endswith("/api/scim/v2")


def test_each_stream_has_its_function_retrying_then_setting_records_aside(release: Release) -> None:
    lambda_client, sqs = release.client("lambda"), release.client("sqs")
    dead_letters = release.stage_variables["EVENTS_DEAD_LETTER_QUEUE_URL"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for table, variable in STREAM_VARIABLES.items():
        function_arn = _resource(release.second_deployed, f"{table}_changes")["lambda_arn"]
        (mapping,) = lambda_client.list_event_source_mappings(FunctionName=function_arn)["EventSourceMappings"]
        assert mapping["EventSourceArn"] == release.stage_variables[variable]
        assert (mapping["State"], mapping["BatchSize"]) == ("Enabled", STREAM_BATCH_SIZE)
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        # What plain chalice deploy leaves at Lambda's defaults, make deploy (and make rollback) set:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == RETRY_ATTEMPTS
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": dead_letters_arn}}
    assert "4 stream mappings" in release.second.stderr and "4 stream mappings" in release.rollback.stderr


def test_the_stage_has_its_bus_archive_dead_letter_queue_and_its_alarm(release: Release) -> None:
    events = release.client("events")
    bus = events.describe_event_bus(Name=release.stage_variables["EVENT_BUS_NAME"])
    assert bus["Name"] == "scim-dev-events"
    (archive,) = events.list_archives(EventSourceArn=bus["Arn"])["Archives"]
    assert archive["RetentionDays"] == int(release.stage_variables["EVENTS_ARCHIVE_RETENTION_DAYS"])
    # (the archive adds a rule of its own to the bus)
    rules = {rule["Name"]: rule for rule in events.list_rules(EventBusName="scim-dev-events")["Rules"]}
    rule = rules["scim-dev-events-to-operators"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="scim-dev-events")["Targets"]
    assert target["Arn"].endswith(":scim-dev-events-operators")
    # (by name: moto's CloudFormation gives a queue's URL on AWS's host, its SQS on the endpoint's)
    queues = {url.rsplit("/", 1)[-1] for url in release.client("sqs").list_queues()["QueueUrls"]}
    for variable in ("EVENTS_DEAD_LETTER_QUEUE_URL", "EVENTS_OPERATOR_QUEUE_URL"):
        assert release.stage_variables[variable].rsplit("/", 1)[-1] in queues
    assert queues == {"scim-dev-events-dead-letters", "scim-dev-events-operators"}
    (alarm,) = release.client("cloudwatch").describe_alarms(AlarmNames=["scim-dev-EventsDeadLetters"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "scim-dev-events-dead-letters"}]
    assert alarm["AlarmActions"] == [release.client("sns").list_topics()["Topics"][0]["TopicArn"]]


def test_make_deploy_infra_creates_the_stage_stack_with_termination_protection(release: Release) -> None:
    (stack,) = release.client("cloudformation").describe_stacks(StackName=f"scim-{STAGE}-infra")["Stacks"]
    assert stack["EnableTerminationProtection"] is True
    tables = release.client("dynamodb").list_tables()["TableNames"]
    assert f"scim-{STAGE}-deploy-lock" in tables and f"scim-{STAGE}-users" in tables


def _releases(release: Release) -> list[dict[str, Any]]:
    path = release.clone / ".chalice" / "deployed" / f"{STAGE}.releases.json"
    releases: list[dict[str, Any]] = json.loads(path.read_text())["releases"]
    return releases


def test_each_make_deploy_is_recorded_and_make_rollback_restores_the_previous_release(release: Release) -> None:
    first, second = release.commits
    records = _releases(release)
    assert [(r["number"], r["commit"], r["rollback_to"], r["dirty"]) for r in records] == [
        (1, first, None, False),
        (2, second, None, False),
        (3, first, 1, False),
    ]
    lock = hashlib.sha256((PROJECT_DIR / "requirements.txt").read_bytes()).hexdigest()
    assert {r["lock_sha256"] for r in records} == {lock}
    assert {r["operator"] for r in records} == {"arn:aws:sts::123456789012:user/moto"}
    lambda_client = release.client("lambda")
    for name in ALL_FUNCTIONS.values():
        arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        tags = lambda_client.list_tags(Resource=arn)["Tags"]
        assert {key: tags[key] for key in tags if key.startswith("scim:")} | {"scim:deployed-at": "t"} == {
            "scim:release": "3",
            "scim:commit": first,
            "scim:lock-sha256": lock,
            "scim:deployed-at": "t",
            "scim:operator": "arn:aws:sts::123456789012:user/moto",
            "scim:rollback-to": "1",
        }
    # The third release's configuration is gone again, on the same API and functions.
    memory = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"][STAGE]["lambda_memory_size"]
    assert release.memory_after_third == memory + 512
    routes = lambda_client.get_function_configuration(FunctionName=FUNCTIONS["api_handler"])
    assert routes["MemorySize"] == memory
    deployed = json.loads((release.clone / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    assert (
        _resource(deployed, "rest_api")["rest_api_id"] == _resource(release.second_deployed, "rest_api")["rest_api_id"]
    )
    assert len(release.client("apigateway").get_rest_apis()["items"]) == 1
    assert "Updating lambda function" in release.rollback.stdout
    assert len(_git(release.clone, "worktree", "list").splitlines()) == 1  # its worktree is gone


def test_the_stage_keeps_its_guardrails_after_every_release(release: Release) -> None:
    settings = guardrails.stage_guardrails(STAGE)
    groups = {
        group["logGroupName"]: group.get("retentionInDays")
        for group in release.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    assert groups == {f"/aws/lambda/{name}": settings.log_retention_days for name in ALL_FUNCTIONS.values()}
    apigateway = release.client("apigateway")
    api_id = _resource(release.second_deployed, "rest_api")["rest_api_id"]
    throttling = apigateway.get_stage(restApiId=api_id, stageName="api")["methodSettings"]["*/*"]
    assert throttling["throttlingRateLimit"] == settings.throttle_rate_limit
    assert throttling["throttlingBurstLimit"] == settings.throttle_burst_limit
    # API Gateway's metrics, and so the alarms, are per API name: each stage's API has its own.
    assert apigateway.get_rest_api(restApiId=api_id)["name"] == f"onemodel-scim-{STAGE}"
    for name in FUNCTIONS.values():
        policy = json.loads(release.client("lambda").get_policy(FunctionName=name)["Policy"])
        sources = {s["Condition"]["ArnLike"]["AWS:SourceArn"].split(":")[5].split("/")[0] for s in policy["Statement"]}
        assert sources == {api_id}, name  # the deleted API's permission is gone
    assert "removed a permission for another REST API: onemodel-scim-dev: deleted-api (API gone00)" in (
        release.second.stderr
    )


def test_a_release_is_refused_while_another_holds_the_stage_lock(release: Release) -> None:
    lock = deploy_lock.acquire(release.client("dynamodb"), STAGE, "arn:aws:iam::1:user/ana", "commit abc")
    try:
        preflight = _make(release.clone, release.environment, "deploy-preflight", f"STAGE={STAGE}")
        assert preflight.returncode != 0
        assert "make deploy: stage dev is being released by arn:aws:iam::1:user/ana (commit abc)" in preflight.stderr
        deploy = _run(release.clone, release.environment, ".venv/bin/python", "-m", "infra.release", "deploy", STAGE)
        assert deploy.returncode == 1
        assert "Updating lambda function" not in deploy.stdout
    finally:
        lock.release()


def test_a_plain_chalice_deploy_requires_no_api_key_so_every_idp_is_served(release: Release) -> None:
    assert release.plain["apiKeySource"] in (None, "HEADER")
    assert release.plain["required"] == set()


def test_make_deploy_holds_every_scim_method_to_the_tenants_usage_plan(release: Release) -> None:
    apigateway = release.client("apigateway")
    api_id = _resource(release.second_deployed, "rest_api")["rest_api_id"]
    after = _api_keys_required(release.endpoint, api_id)

    assert after["apiKeySource"] == "AUTHORIZER"
    # The SCIM routes, behind the tenant's authorizer; the management API (IAM-signed by the platform) has no tenant.
    behind_the_authorizer = {
        (path, method)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if entry.authorizer and not isinstance(entry.authorizer, IAMAuthorizer)
    }
    assert after["required"] == behind_the_authorizer
    assert not any(path.startswith("/admin/v1/") for path, _ in after["required"])
    assert ("/scim/v2/ServiceProviderConfig", "GET") not in after["required"]
    # The step's own deployment, beside Chalice's and the gateway responses'.
    descriptions = [item.get("description") for item in apigateway.get_deployments(restApiId=api_id)["items"]]
    assert "make deploy: per-tenant limits" in descriptions


def test_make_deploy_puts_every_tenants_key_in_the_default_plan_and_admin_limits_gives_one_its_own(
    release: Release,
) -> None:
    apigateway = release.client("apigateway")
    api_id = _resource(release.second_deployed, "rest_api")["rest_api_id"]
    plans = {plan["name"]: plan for plan in apigateway.get_usage_plans()["items"]}
    assert set(plans) == {"onemodel-scim-dev-default", "onemodel-scim-dev-tenant-acme"}
    default, own = plans["onemodel-scim-dev-default"], plans["onemodel-scim-dev-tenant-acme"]
    assert "TENANT_RATE_LIMIT" not in STAGE_VARIABLES and "TENANT_BURST_LIMIT" not in STAGE_VARIABLES
    assert default["throttle"] == {"rateLimit": 50, "burstLimit": 100}  # the defaults of chalicelib/config.py
    assert default["apiStages"] == own["apiStages"] == [{"apiId": api_id, "stage": "api"}]
    assert own["throttle"] == {"rateLimit": 5, "burstLimit": 10}

    keys = {key["name"]: key for key in apigateway.get_api_keys(includeValues=True)["items"]}
    assert {name: key["value"] for name, key in keys.items()} == {
        "onemodel-scim-dev-acme": usage_key("dev", "acme"),
        f"onemodel-scim-dev-{UNAUTHENTICATED}": usage_key("dev", UNAUTHENTICATED),
    }
    in_default = {key["name"] for key in apigateway.get_usage_plan_keys(usagePlanId=default["id"])["items"]}
    in_own = {key["name"] for key in apigateway.get_usage_plan_keys(usagePlanId=own["id"])["items"]}
    assert (in_default, in_own) == ({f"onemodel-scim-dev-{UNAUTHENTICATED}"}, {"onemodel-scim-dev-acme"})
    assert release.limits_set.stdout.strip() == "acme: 5 requests/s, burst 10 (its own)"
    assert usage_key("dev", "acme") not in release.limits_set.stdout + release.limits_set.stderr


def _deployed_arn(arn: str, region: str, account: str, secrets: dict[str, str]) -> str:
    """A call's ARN recorded under the offline moto, as the deployed stage's: its region, account and secret."""
    parts = arn.split(":", 5)
    if parts[2] == "secretsmanager":
        return secrets[parts[5].removeprefix("secret:")[: -len("-XXXXXX")]]
    return ":".join([*parts[:3], region, account, parts[5]])


def test_each_deployed_function_is_allowed_exactly_the_calls_it_makes(release: Release, tmp_path: Path) -> None:
    # Given the functions, roles and log groups the offline IAM test derives from Chalice's rules
    offline = stage_functions(STAGE)
    lambda_client, iam = release.client("lambda"), release.client("iam")
    deployed = {f["FunctionName"]: f for f in lambda_client.list_functions()["Functions"]}
    assert sorted(deployed) == sorted(function.function_name for function in offline.values())
    secrets = {entry["Name"]: entry["ARN"] for entry in release.client("secretsmanager").list_secrets()["SecretList"]}
    # and the calls each makes during an IdP's session, recorded apart from this server (its own moto)
    recorded = tmp_path / "calls.json"
    session = subprocess.run(
        [sys.executable, "-m", "tests.aws_calls", STAGE, str(recorded)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert session.returncode == 0, session.stderr[-2000:]
    calls = json.loads(recorded.read_text())
    for name, function in offline.items():
        configuration = deployed[function.function_name]
        _, _, _, region, account, _ = configuration["FunctionArn"].split(":", 5)
        # When the deployed role is read back: the one Chalice's rules name, holding the policy file
        role_name = configuration["Role"].rsplit("/", 1)[1]
        assert role_name == function.role_name
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == function.policy()
        # Then every call, with the deployed region, account, secret ARNs and Lambda's log group, is allowed,
        made = {(action, _deployed_arn(arn, region, account, secrets)) for action, arn in calls[name]}
        assert made >= log_calls(function, region, account)
        assert denied_calls(document, made) == [], f"{function.function_name} ({role_name})"
        # and nothing else is
        assert unused_grants(document, made) == [], f"{function.function_name} ({role_name})"


def test_make_destroy_removes_the_dev_stage_last(release: Release) -> None:
    # Runs last: every other test reads the deployed stage.
    destroyed = _make(release.clone, release.environment, "destroy", f"STAGE={STAGE}")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert release.client("lambda").list_functions()["Functions"] == []
    assert release.client("apigateway").get_rest_apis()["items"] == []
    assert release.client("apigateway").get_usage_plans()["items"] == []
    assert release.client("apigateway").get_api_keys()["items"] == []
    assert release.client("dynamodb").list_tables()["TableNames"] == []
    assert release.client("secretsmanager").list_secrets()["SecretList"] == []
    assert release.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"] == []
    # The events' dead-letter queue outlives the stack (DeletionPolicy Retain): make destroy removes it too.
    queues = release.client("sqs").list_queues().get("QueueUrls", [])
    assert not [url for url in queues if url.endswith("/scim-dev-events-dead-letters")]
    stacks = release.client("cloudformation").list_stacks()["StackSummaries"]
    assert {stack["StackStatus"] for stack in stacks} == {"DELETE_COMPLETE"}
