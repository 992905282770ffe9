"""The release, tried from the outside: real ``chalice deploy --stage dev`` against moto's server on 127.0.0.1.

``make test-deploy`` runs this module (``.ci/run`` calls it after ``make test``): Chalice downloads the
Linux builds of the requirements from PyPI to package the Lambdas, so it is not part of the offline
``make test``. Given the infra stack's tables and secrets, an operator's clone deploys with plain
``chalice deploy``, commits ``.chalice/deployed/dev.json``, and a second operator deploys from a fresh
clone with ``make deploy``: the same API and functions are updated, and the gateway responses stay.
"""

import fnmatch
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from app import app
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from infra.release import RELEASE_PYTHON
from tests.conftest import PROJECT_DIR
from tests.moto_api_gateway import chalice_swagger_imports

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
POLICY_FILES = {"api_handler": "policy-dev.json", "scim_auth": "policy-dev-authorizer.json"}
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
    """What two operators' releases left on the embedded AWS, and what they printed."""

    endpoint: str
    secret_values: dict[str, str]
    imported: list[dict[str, Any]]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    first_deployed: dict[str, Any]
    second_deployed: dict[str, Any]

    def client(self, service: str) -> Any:
        return _aws(self.endpoint, service)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
    # The clone's virtualenv is the project's; -o below keeps make from reinstalling it (runtime and dev requirements).
    (destination / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return destination


def _run(cwd: Path, environment: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def _create_infra(endpoint: str) -> dict[str, str]:
    """infra/stack.json through moto's CloudFormation, and its secrets (which moto's CloudFormation skips)."""
    template = json.loads((PROJECT_DIR / "infra" / "stack.json").read_text())
    secrets_client = _aws(endpoint, "secretsmanager")
    _aws(endpoint, "cloudformation").create_stack(
        StackName=f"scim-{STAGE}-infra",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
    )
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


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
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
    with chalice_swagger_imports() as imported:
        server.start()
        try:
            secret_values = _create_infra(endpoint)
            work = tmp_path_factory.mktemp("release")
            origin = _origin(work / "origin")

            # Given the first operator's clone, when they release with plain `chalice deploy`
            first_clone = _clone(origin, work / "first")
            first = _run(first_clone, environment, str(PROJECT_DIR / ".venv/bin/chalice"), "deploy", "--stage", STAGE)
            assert first.returncode == 0, first.stdout + first.stderr
            deployed_file = first_clone / ".chalice" / "deployed" / f"{STAGE}.json"
            first_deployed = json.loads(deployed_file.read_text())
            # and commit the deployed state, as docs/operations/deploy.md says
            _git(first_clone, "add", ".chalice/deployed")
            _git(first_clone, "commit", "--quiet", "-m", "deployed dev")
            _git(first_clone, "push", "--quiet", "origin", "HEAD:main")

            # When a second operator releases from a fresh clone with `make deploy`
            second_clone = _clone(origin, work / "second")
            second = _run(
                second_clone, environment, "make", "--no-print-directory", "-o", ".venv/bin/.runtime",
                "-o", ".venv/bin/.dev", "deploy", f"STAGE={STAGE}",
            )  # fmt: skip
            assert second.returncode == 0, second.stdout + second.stderr
            second_deployed = json.loads((second_clone / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
            yield Release(endpoint, secret_values, imported, first, second, first_deployed, second_deployed)
        finally:
            server.stop()


def _resource(deployed: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(resource for resource in deployed["resources"] if resource["name"] == name)
    return found


def test_a_second_deploy_from_a_fresh_clone_updates_the_same_api_and_functions(release: Release) -> None:
    first, second = release.first_deployed, release.second_deployed
    assert _resource(second, "rest_api")["rest_api_id"] == _resource(first, "rest_api")["rest_api_id"]
    for name in FUNCTIONS:
        assert _resource(second, name)["lambda_arn"] == _resource(first, name)["lambda_arn"]
    assert len(release.client("apigateway").get_rest_apis()["items"]) == 1
    assert sorted(f["FunctionName"] for f in release.client("lambda").list_functions()["Functions"]) == sorted(
        FUNCTIONS.values()
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
    for function in FUNCTIONS.values():
        configuration = lambda_client.get_function_configuration(FunctionName=function)
        variables = configuration["Environment"]["Variables"]
        assert variables == STAGE_VARIABLES
        assert variables["SECRETS_PREFIX"] == "scim-dev"  # names the secrets; holds none
        for value in release.secret_values.values():
            assert value not in json.dumps(configuration)
        # The runtime follows the deploying interpreter: the release Python, the one CI tests on.
        assert configuration["Runtime"] == f"python{RELEASE_PYTHON}"
        assert configuration["Timeout"] <= API_GATEWAY_TIMEOUT_SECONDS
        assert configuration["MemorySize"] >= 512


def test_each_role_grants_its_tables_and_exactly_its_secrets(release: Release) -> None:
    iam = release.client("iam")
    secrets = {entry["Name"]: entry["ARN"] for entry in release.client("secretsmanager").list_secrets()["SecretList"]}
    # The routes hash the credentials the management API generates: they read the hash key too.
    expected_secret = {
        "api_handler": {"scim-dev/cursor-secret", "scim-dev/credential-hash-key"},
        "scim_auth": {"scim-dev/credential-hash-key"},
    }
    for name in FUNCTIONS:
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
            assert resource.startswith(("arn:aws:dynamodb:*:*:table/scim-dev-", "arn:aws:logs:", "arn:aws:secretsm"))


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
