"""Releases and guardrails offline: the deploy lock, the record, the stage's limits, the alarms, make's order.

Each piece runs against moto in-process; the whole release (``chalice deploy`` and ``make rollback``
against moto's server) is tests/test_deploy.py's.
"""

import hashlib
import io
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import STREAM_VARIABLES
from chalicelib.store.streams import STREAMED_TABLES
from infra import aws_alarms, deploy_lock, guardrails, release, release_record, stage_release, templates
from infra.infra_stack import deploy_infra
from tests.conftest import PROJECT_DIR
from tests.moto_cloudformation import termination_protection

REGION = "us-east-1"
MAKE_SKIPPING_INSTALLS = ["make", "-n", "--no-print-directory", "-o", ".venv/bin/.runtime", "-o", ".venv/bin/.dev"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _lock_table(stage: str = "dev") -> Any:
    definition = templates.stack_template()["Resources"]["DeployLockTable"]["Properties"]
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=f"scim-{stage}-deploy-lock",
        KeySchema=definition["KeySchema"],
        AttributeDefinitions=definition["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_a_second_release_of_a_stage_is_refused_while_the_first_holds_the_lock(aws: None) -> None:
    client = _lock_table()
    first = deploy_lock.acquire(client, "dev", "arn:aws:iam::1:user/ana", "commit abc", now=1000)
    with pytest.raises(deploy_lock.StageLocked, match=r"released by arn:aws:iam::1:user/ana \(commit abc\)"):
        deploy_lock.acquire(client, "dev", "arn:aws:iam::1:user/bo", "commit def", now=1001)
    # Another stage's release is not held up.
    _lock_table("prod")
    deploy_lock.acquire(client, "prod", "bo", "commit def", now=1001).release()
    first.release()
    deploy_lock.acquire(client, "dev", "bo", "commit def", now=1002).release()


def test_an_expired_lock_is_taken_over_and_its_late_holder_cannot_free_the_new_one(aws: None) -> None:
    client = _lock_table()
    crashed = deploy_lock.acquire(client, "dev", "ana", "commit abc", now=1000)
    later = 1000 + deploy_lock.LOCK_MINUTES * 60 + 1
    taken = deploy_lock.acquire(client, "dev", "bo", "commit def", now=later)
    crashed.release()  # the first deploy wakes up and finishes: the lock stays bo's
    with pytest.raises(deploy_lock.StageLocked, match="released by bo"):
        deploy_lock.acquire(client, "dev", "cy", "commit 123", now=later + 1)
    taken.release()


def test_a_stage_without_its_lock_table_names_the_command_that_creates_it(aws: None) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    with pytest.raises(deploy_lock.NoLockTable, match=r"make deploy-infra STAGE=dev"):
        deploy_lock.acquire(client, "dev", "ana", "commit abc")
    assert deploy_lock.holder(client, "dev") is None


def test_the_preflight_names_a_release_in_progress(aws: None) -> None:
    client = _lock_table()
    deploy_lock.acquire(client, "dev", "ana", "commit abc")
    problems = release.preflight("dev")
    assert any(problem.startswith("stage dev is being released by ana (commit abc)") for problem in problems)


def test_the_infra_stack_owns_the_lock_table_with_expiry_and_nothing_to_keep() -> None:
    table = templates.stack_template()["Resources"]["DeployLockTable"]
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["TableName"] == {"Fn::Sub": "scim-${Stage}-deploy-lock"}
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def _repository(tmp_path: Path) -> Path:
    identity = ["-c", "user.name=Operator", "-c", "user.email=ops@example.com"]
    (tmp_path / "requirements.txt").write_text("chalice==1.34.0\n")
    for arguments in (["init", "--quiet"], ["add", "."], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *identity, *arguments], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


def test_prod_is_released_only_from_a_clean_tree_and_dev_records_that_it_was_not(tmp_path: Path) -> None:
    project = _repository(tmp_path)
    assert stage_release.refusal_for_dirty_tree(project, "prod") is None
    (project / "requirements.txt").write_text("chalice==1.34.0\nrequests\n")
    (project / "new.py").write_text("")
    refusal = stage_release.refusal_for_dirty_tree(project, "prod")
    assert refusal == "prod is released only from a clean tree (commit or stash: requirements.txt, new.py)"
    assert stage_release.refusal_for_dirty_tree(project, "dev") is None
    assert release_record.uncommitted_changes(project)


def test_each_release_is_appended_with_commit_lock_time_and_operator(tmp_path: Path) -> None:
    project = _repository(tmp_path)
    commit = release_record.head_commit(project)
    lock = release_record.lock_sha256(project)
    assert lock == hashlib.sha256(b"chalice==1.34.0\n").hexdigest()
    first = release_record.next_record(project, "prod", commit, lock, "arn:aws:iam::1:user/ana")
    release_record.append_release(project, "prod", first)
    second = release_record.next_record(project, "prod", commit, lock, "bo", rollback_to=1)
    release_record.append_release(project, "prod", second)
    saved = json.loads((project / ".chalice" / "deployed" / "prod.releases.json").read_text())["releases"]
    assert [entry["number"] for entry in saved] == [1, 2]
    assert saved[0] | {"deployed_at": "t"} == {
        "number": 1,
        "commit": commit,
        "lock_sha256": lock,
        "deployed_at": "t",
        "operator": "arn:aws:iam::1:user/ana",
        "dirty": False,
        "rollback_to": None,
    }
    assert saved[1]["rollback_to"] == 1
    assert second.tags()["scim:rollback-to"] == "1" and "scim:rollback-to" not in first.tags()


def test_the_operator_is_the_aws_identity(aws: None) -> None:
    assert release_record.operator(boto3.client("sts", region_name=REGION)).startswith("arn:aws:")


def _function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    created = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()}
    )
    arn: str = created["FunctionArn"]
    return arn


def test_the_functions_carry_the_release_they_run(aws: None, tmp_path: Path) -> None:
    arn = _function("onemodel-scim-dev")
    lambda_client = boto3.client("lambda", region_name=REGION)
    assert release_record.running_release(lambda_client, arn) == {}
    record = release_record.ReleaseRecord(3, "c0ffee", "ab" * 32, "2026-12-04T05:00:00Z", "ana")
    release_record.tag_functions(lambda_client, [arn], record)
    assert release_record.running_release(lambda_client, arn) == {
        "release": "3",
        "commit": "c0ffee",
        "lock-sha256": "ab" * 32,
        "deployed-at": "2026-12-04T05:00:00Z",
        "operator": "ana",
    }


def test_permissions_for_another_rest_api_are_removed_and_the_stage_apis_kept(aws: None) -> None:
    # A stage whose API was deleted and created again keeps the old API's permission on its functions.
    _function("onemodel-scim-dev")
    lambda_client = boto3.client("lambda", region_name=REGION)
    for sid, api in (("old", "oldapi1"), ("current", "newapi2"), ("authorizer", "newapi2")):
        lambda_client.add_permission(
            FunctionName="onemodel-scim-dev",
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{REGION}:123456789012:{api}/*",
        )
    removed = guardrails.remove_stale_permissions(lambda_client, ["onemodel-scim-dev"], "newapi2")
    assert removed == ["onemodel-scim-dev: old (API oldapi1)"]
    policy = json.loads(lambda_client.get_policy(FunctionName="onemodel-scim-dev")["Policy"])
    assert sorted(statement["Sid"] for statement in policy["Statement"]) == ["authorizer", "current"]


def test_both_functions_log_groups_keep_the_stage_retention(aws: None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/aws/lambda/onemodel-scim-dev")  # Lambda made it on a first request
    names = ["onemodel-scim-dev", "onemodel-scim-dev-scim_auth"]
    guardrails.apply_log_retention(logs, names, guardrails.stage_guardrails("dev").log_retention_days)
    groups = {group["logGroupName"]: group.get("retentionInDays") for group in logs.describe_log_groups()["logGroups"]}
    assert groups == {"/aws/lambda/onemodel-scim-dev": 30, "/aws/lambda/onemodel-scim-dev-scim_auth": 30}


def test_stage_throttling_and_the_stage_api_name_are_set_on_the_rest_api(aws: None) -> None:
    apigateway = boto3.client("apigateway", region_name=REGION)
    api = apigateway.create_rest_api(name="onemodel-scim")["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName="api")
    settings = guardrails.stage_guardrails("prod")
    guardrails.apply_stage_throttling(apigateway, api, "api", settings)
    guardrails.name_the_api(apigateway, api, guardrails.stage_api_name("onemodel-scim", "prod"))
    method_settings = apigateway.get_stage(restApiId=api, stageName="api")["methodSettings"]["*/*"]
    assert method_settings["throttlingRateLimit"] == settings.throttle_rate_limit == 100
    assert method_settings["throttlingBurstLimit"] == settings.throttle_burst_limit == 200
    assert apigateway.get_rest_api(restApiId=api)["name"] == "onemodel-scim-prod"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"log_retention_days": 31, "throttle_rate_limit": 1, "throttle_burst_limit": 1}, "log_retention_days"),
        ({"throttle_rate_limit": 0, "throttle_burst_limit": 1}, "must be positive"),
        ({"throttle_rate_limit": 1, "throttle_burst_limit": 1, "rate": 5}, "unknown settings"),
    ],
)
def test_stage_settings_out_of_range_are_refused_before_a_release(
    settings: dict[str, Any], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "stages.json"
    path.write_text(json.dumps({"dev": settings}))
    with pytest.raises(ValueError, match=message):
        guardrails.stage_guardrails("dev", path)
    with pytest.raises(ValueError, match="no stage 'qa'"):
        guardrails.stage_guardrails("qa", path)


def test_the_log_retention_defaults_to_30_days(tmp_path: Path) -> None:
    path = tmp_path / "stages.json"
    path.write_text(json.dumps({"dev": {"throttle_rate_limit": 1, "throttle_burst_limit": 2}}))
    assert guardrails.stage_guardrails("dev", path).log_retention_days == 30


def _alarms() -> dict[str, dict[str, Any]]:
    resources = templates.stack_template()["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_both_functions_alarm_on_errors_throttles_and_a_p99_near_their_timeout() -> None:
    alarms = _alarms()
    config = aws_alarms.chalice_config()
    mapping = templates.stack_template()["Mappings"][aws_alarms.TIMEOUTS]
    for function, name in (
        ("RoutesFunction", "onemodel-scim-${Stage}"),
        ("AuthorizerFunction", "onemodel-scim-${Stage}-scim_auth"),
    ):
        for metric in ("Errors", "Throttles", "Duration"):
            alarm = alarms[f"{function}{metric}Alarm"]
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Fn::Sub": name}}]
            assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        duration = alarms[f"{function}DurationAlarm"]
        assert duration["ExtendedStatistic"] == "p99"
        assert duration["Threshold"] == {"Fn::FindInMap": [aws_alarms.TIMEOUTS, {"Ref": "Stage"}, function]}
    for stage in ("dev", "prod"):
        routes, authorizer = (
            config["stages"][stage]["lambda_timeout"],
            config["stages"][stage]["lambda_functions"]["scim_auth"]["lambda_timeout"],
        )
        assert mapping[stage] == {"RoutesFunction": routes * 800, "AuthorizerFunction": authorizer * 800}


def test_api_5xx_and_latency_alarms_watch_the_api_make_deploy_names_for_the_stage() -> None:
    alarms = _alarms()
    for logical_id, metric, statistic in (
        ("Api5XXErrorAlarm", "5XXError", "Sum"),
        ("ApiLatencyAlarm", "Latency", "p99"),
    ):
        alarm = alarms[logical_id]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApiGateway", metric)
        assert alarm.get("Statistic", alarm.get("ExtendedStatistic")) == statistic
        assert alarm["Dimensions"] == [
            {"Name": "ApiName", "Value": {"Fn::Sub": "onemodel-scim-${Stage}"}},
            {"Name": "Stage", "Value": "api"},
        ]
    assert guardrails.stage_api_name("onemodel-scim", "dev") == "onemodel-scim-dev"


def test_every_table_alarms_on_throttled_requests_of_every_operation_the_code_makes() -> None:
    resources = templates.stack_template()["Resources"]
    tables = [
        name for name, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table" and name != "DeployLockTable"
    ]
    alarms = _alarms()
    used = set()
    for root in ("chalicelib", "admin"):
        for source in (PROJECT_DIR / root).rglob("*.py"):
            text = source.read_text()
            used |= {operation for operation in aws_alarms.TABLE_OPERATIONS if _snake(operation) + "(" in text}
    assert used == set(aws_alarms.TABLE_OPERATIONS)
    for table in tables:
        alarm = alarms[f"{table}ThrottledAlarm"]
        metrics = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        assert {m["MetricName"] for m in metrics} == {"ThrottledRequests"}
        assert {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Operation"} == used
        assert {json.dumps(d["Value"]) for m in metrics for d in m["Dimensions"] if d["Name"] == "TableName"} == {
            json.dumps(resources[table]["Properties"]["TableName"])
        }
        assert len(alarm["Metrics"]) <= 10  # CloudWatch's limit on an alarm's metrics


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _make_dry_run(*arguments: str) -> list[str]:
    # Without an outer make's flags (CI passes another VENV): this make reads the Makefile as an operator's does.
    environment = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON", "VENV")
    }
    return subprocess.run(
        [*MAKE_SKIPPING_INSTALLS, *arguments],
        cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip


def test_make_deploy_checks_before_compiling_the_bytecode() -> None:
    # make deploy finds the stage's Python, then makes the release with it
    deploy = "\n".join(_make_dry_run("deploy", "STAGE=dev"))
    assert "-m infra.stage_python dev" in deploy and "release STAGE=dev" in deploy
    steps = _make_dry_run("release", "STAGE=dev")
    commands = [line.split("/python ", 1)[1] for line in steps if "/python -m " in line]
    assert commands == [
        "-m infra.release preflight dev",
        "-m infra.bytecode --stage dev",
        "-m infra.release deploy dev",
    ]


def test_make_destroy_refuses_prod_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert release.main(["destroy", "prod"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "make destroy: refused for prod; a production stage is removed by hand, resource by resource"
    ]


def test_a_rollback_needs_a_previous_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _repository(tmp_path)
    assert stage_release.rollback(project, "dev") == 1
    assert capsys.readouterr().err == "make rollback: .chalice/deployed/dev.releases.json records no previous release\n"


def test_every_alarm_of_the_stack_is_in_the_guardrails_page() -> None:
    page = (PROJECT_DIR / "docs" / "operations" / "guardrails.md").read_text()
    for logical_id, alarm in _alarms().items():
        name = alarm["AlarmName"]["Fn::Sub"].removeprefix("scim-${Stage}-")
        assert f"-{name}`" in page, logical_id


@pytest.mark.filterwarnings("ignore:Tried to parse AWS..(SecretsManager|CloudWatch)..:UserWarning")
def test_make_destroy_removes_a_dev_stage_whose_stack_is_protected(aws: None, tmp_path: Path) -> None:
    with termination_protection():
        deploy_infra(boto3.client("cloudformation", region_name=REGION), "dev")
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        for name in ("credential-hash-key", "cursor-secret"):
            secretsmanager.create_secret(Name=f"scim-dev/{name}", SecretString="x" * 64)
        secretsmanager.create_secret(Name="scim-prod/cursor-secret", SecretString="y" * 64)
        logs = boto3.client("logs", region_name=REGION)
        streams = [f"onemodel-scim-dev-{table}_changes" for table in STREAM_VARIABLES]
        guardrails.apply_log_retention(logs, ["onemodel-scim-dev", "onemodel-scim-dev-scim_auth", *streams], 30)
        sqs = boto3.client("sqs", region_name=REGION)
        assert sqs.get_queue_url(QueueName="scim-dev-events-dead-letters")["QueueUrl"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.update_table(TableName="scim-dev-users", DeletionProtectionEnabled=True)
        # Given a stage deployed with no API yet (chalice delete is test_deploy.py's)
        assert stage_release.destroy(tmp_path, "dev") == 0
        assert dynamodb.list_tables()["TableNames"] == []
        assert [s["Name"] for s in secretsmanager.list_secrets()["SecretList"]] == ["scim-prod/cursor-secret"]
        assert logs.describe_log_groups()["logGroups"] == []
        # The events' dead-letter queue, which the stack keeps (DeletionPolicy Retain), goes too.
        assert sqs.list_queues().get("QueueUrls", []) == []
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        assert {s["StackStatus"] for s in cloudformation.list_stacks()["StackSummaries"]} == {"DELETE_COMPLETE"}


def test_a_failed_chalice_deploy_records_nothing_and_frees_the_lock(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _repository(tmp_path)
    client = _lock_table()

    def failing_chalice(project_dir: Path, *arguments: str) -> None:
        assert deploy_lock.holder(client, "dev") is not None  # chalice runs under the lock
        raise subprocess.CalledProcessError(2, ["chalice", *arguments])

    monkeypatch.setattr(stage_release, "chalice", failing_chalice)
    assert stage_release.release(project, "dev") == 1
    assert "make deploy: chalice deploy failed (exit 2)" in capsys.readouterr().err
    assert deploy_lock.holder(client, "dev") is None
    assert release_record.read_releases(project, "dev") == []


def test_make_releases_lists_the_record_and_says_when_the_functions_run_another(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _repository(tmp_path)
    arn = _function("onemodel-scim-dev")
    deployed = {"resources": [{"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": arn}]}
    (project / ".chalice" / "deployed").mkdir(parents=True)
    (project / ".chalice" / "deployed" / "dev.json").write_text(json.dumps(deployed))
    lambda_client = boto3.client("lambda", region_name=REGION)
    for number, rollback_to in ((1, None), (2, None), (3, 1)):
        record = release_record.ReleaseRecord(number, f"{number}" * 40, "ab" * 32, "t", "ana", rollback_to=rollback_to)
        release_record.append_release(project, "dev", record)
    release_record.tag_functions(lambda_client, [arn], record)
    assert stage_release.show_releases(project, "dev") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "release\tcommit\tlock_sha256\tdeployed_at\toperator\tnote"
    assert out[3] == "3\t333333333333\tabababababab\tt\tana\trollback to 1"
    assert out[4] == "onemodel-scim-dev runs release 3"
    # A plain chalice deploy since: Chalice removed the tags it did not set.
    lambda_client.untag_resource(Resource=arn, TagKeys=list(record.tags()))
    assert stage_release.show_releases(project, "dev") == 1
    captured = capsys.readouterr()
    assert "onemodel-scim-dev runs release unrecorded (a plain chalice deploy)" in captured.out
    assert "the functions do not run release 3" in captured.err


def test_make_deploy_gives_each_deployed_stream_mapping_its_retries_and_dead_letter_queue(
    aws: None, tmp_path: Path
) -> None:
    from chalicelib.events import RETRY_ATTEMPTS
    from infra import stream_release

    # Given a stream function with the event source a plain chalice deploy makes, recorded in the deployed state
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    stream = dynamodb.create_table(
        TableName="scim-dev-users",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    lambda_client = boto3.client("lambda", region_name=REGION)
    arn = _function("onemodel-scim-dev-users_changes")
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=arn, BatchSize=10, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    (tmp_path / ".chalice" / "deployed").mkdir(parents=True)
    deployed = {"resources": [{"name": "users_changes-dynamodb-event-source", "resource_type": "dynamodb_event",
                               "event_uuid": uuid}]}  # fmt: skip
    (tmp_path / ".chalice" / "deployed" / "dev.json").write_text(json.dumps(deployed))
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="scim-dev-events-dead-letters")["QueueUrl"]
    variables = {"USERS_STREAM_ARN": stream, "EVENTS_DEAD_LETTER_QUEUE_URL": queue}
    mappings = stream_release.deployed_mappings(tmp_path, "dev")

    # When the release sets what Chalice cannot
    said = stream_release.apply_stream_failures(lambda_client, sqs, mappings, variables)

    # Then the mapping reports failed records, splits a failing batch, retries, then sends to the queue
    mapping = lambda_client.get_event_source_mapping(UUID=uuid)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["BisectBatchOnFunctionError"], mapping["MaximumRetryAttempts"]) == (True, RETRY_ATTEMPTS)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    assert said == f"1 stream mappings: {RETRY_ATTEMPTS} retries, then the dead-letter queue"
    # and a stage with more streams than deployed mappings, or with none of its queue, is refused, not half-wired
    with pytest.raises(stream_release.StreamsNotWired, match="1 stream mappings deployed for 2 streams"):
        stream_release.apply_stream_failures(lambda_client, sqs, mappings, {**variables, "GROUPS_STREAM_ARN": stream})
    with pytest.raises(stream_release.StreamsNotWired, match="EVENTS_DEAD_LETTER_QUEUE_URL"):
        stream_release.apply_stream_failures(lambda_client, sqs, mappings, {"USERS_STREAM_ARN": stream})
    # A rollback to a release from before the events deploys none, and expects none
    assert stream_release.apply_stream_failures(lambda_client, sqs, [], variables, expected=False) == (
        "no stream functions"
    )


def test_every_stream_function_alarms_on_errors_and_on_falling_behind_its_stream() -> None:
    alarms = _alarms()
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    streamed = sorted(name for name in config["stages"]["dev"]["lambda_functions"] if name.endswith("_changes"))
    found = sorted(
        alarm["Dimensions"][0]["Value"]["Fn::Sub"].removeprefix("onemodel-scim-${Stage}-")
        for alarm in alarms.values()
        if alarm.get("MetricName") == "IteratorAge"
    )
    assert found == streamed == sorted(f"{table}_changes" for table in STREAMED_TABLES)
    for table in STREAMED_TABLES:
        name = "".join(part.title() for part in table.split("_")) + "ChangesFunction"
        dimensions = [{"Name": "FunctionName", "Value": {"Fn::Sub": f"onemodel-scim-${{Stage}}-{table}_changes"}}]
        behind, errors = alarms[f"{name}IteratorAgeAlarm"], alarms[f"{name}ErrorsAlarm"]
        assert (behind["Namespace"], behind["Statistic"], behind["Threshold"]) == ("AWS/Lambda", "Maximum", 300_000)
        assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == ("Errors", "Sum", 1)
        assert behind["Dimensions"] == errors["Dimensions"] == dimensions
        assert behind["AlarmActions"] == errors["AlarmActions"] == [{"Ref": "AlarmTopic"}]
