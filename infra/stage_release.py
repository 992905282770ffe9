"""A stage's release, rollback and removal: ``make deploy``, ``make rollback`` and ``make destroy``.

A release holds the stage's deploy lock (:mod:`infra.deploy_lock`) from before ``chalice deploy``
until its record is written, so two operators never deploy one stage at once. After Chalice it sets
the stream functions' retries and dead-letter queue (:mod:`infra.stream_release`), puts the gateway
responses and per-tenant limits (:mod:`infra.rest_api`), the stage's guardrails (:mod:`infra.guardrails`) and the record
(:mod:`infra.release_record`). A rollback deploys a recorded release's commit from a
clean ``git worktree`` of it, checked against its lock hash, with the stage's newest deployed state
(the REST API is found only by the id in ``.chalice/deployed/<stage>.json``).
"""

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from infra import deploy_lock, guardrails, stream_release
from infra.aws_alarms import FUNCTIONS, chalice_config
from infra.release_record import (
    ReleaseRecord,
    append_release,
    git,
    head_commit,
    lock_sha256,
    next_record,
    operator,
    read_releases,
    running_release,
    tag_functions,
    uncommitted_changes,
)

# A production release is always a commit anyone can check out again.
CLEAN_TREE_STAGES = ("prod",)
# `make destroy` removes a stage's data for good: never these.
PROTECTED_STAGES = ("prod",)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def deployed_file(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.json"


def deployed_functions(project_dir: Path, stage: str) -> list[str]:
    """The ARNs of the stage's functions, from the deployed state."""
    path = deployed_file(project_dir, stage)
    if not path.exists():
        return []
    resources = json.loads(path.read_text())["resources"]
    return [resource["lambda_arn"] for resource in resources if resource["resource_type"] == "lambda_function"]


def stage_tables(stage: str) -> list[str]:
    """The tables of the stage's infra stack, by the names the stage's functions use."""
    from chalicelib.store.tables import table_definitions
    from infra.templates import settings_for

    prefix = chalice_config()["stages"][stage]["environment_variables"]["TABLE_PREFIX"]
    definitions = table_definitions(settings_for({"TABLE_PREFIX": prefix}))
    return [definition["TableName"] for definition in definitions.values()] + [
        deploy_lock.LOCK_TABLE.format(stage=stage)
    ]


def refusal_for_dirty_tree(project_dir: Path, stage: str) -> str | None:
    if stage not in CLEAN_TREE_STAGES:
        return None
    changes = uncommitted_changes(project_dir)
    if not changes:
        return None
    shown = ", ".join(line[3:] for line in changes[:5]) + (" ..." if len(changes) > 5 else "")
    return f"{stage} is released only from a clean tree (commit or stash: {shown})"


def chalice(project_dir: Path, *arguments: str) -> None:
    executable = Path(sys.executable).with_name("chalice")
    subprocess.run([str(executable), *arguments], cwd=project_dir, check=True)


def finish_release(project_dir: Path, stage: str, record: ReleaseRecord) -> str:
    """Everything after ``chalice deploy``: the streams' failure handling, gateway responses, tenant limits,
    guardrails, record; the SCIM base URL.

    :raises stream_release.StreamsNotWired: Before anything else is changed.
    """
    from infra.rest_api import (
        api_gateway_stage,
        apply_gateway_responses,
        control_plane,
        deployed_rest_api,
        stage_variables,
        tenant_limits,
    )

    settings = guardrails.stage_guardrails(stage)
    api = deployed_rest_api(project_dir, stage)
    api_id, stage_name = api["rest_api_id"], api_gateway_stage(project_dir, stage)
    apigateway, lambda_client = control_plane(), boto3.client("lambda")
    mappings = stream_release.deployed_mappings(project_dir, stage)
    variables = stage_variables(project_dir, stage)
    expected = record.rollback_to is None  # a release from before the events has no stream function
    _say(stream_release.apply_stream_failures(lambda_client, boto3.client("sqs"), mappings, variables, expected))
    apply_gateway_responses(apigateway, api_id, stage_name)
    tenant_limits(apigateway, stage, api_id, stage_name)
    guardrails.name_the_api(apigateway, api_id, guardrails.stage_api_name(chalice_config()["app_name"], stage))
    guardrails.apply_stage_throttling(apigateway, api_id, stage_name, settings)
    arns = deployed_functions(project_dir, stage)
    names = [arn.rsplit(":", 1)[-1] for arn in arns]
    guardrails.apply_log_retention(boto3.client("logs"), names, settings.log_retention_days)
    for removed in guardrails.remove_stale_permissions(lambda_client, names, api_id):
        _say(f"removed a permission for another REST API: {removed}")
    tag_functions(lambda_client, arns, record)
    append_release(project_dir, stage, record)
    _say(
        f"release {record.number} of {stage}: commit {record.commit[:12]}, lock {record.lock_sha256[:12]}, "
        f"by {record.operator}; commit and push .chalice/deployed/{stage}.json and {stage}.releases.json"
    )
    return f"{api['rest_api_url'].rstrip('/')}/scim/v2"


def show_releases(project_dir: Path, stage: str) -> int:
    """``make releases``: the stage's recorded releases, newest last, and what its functions run now."""
    records = read_releases(project_dir, stage)
    print("release\tcommit\tlock_sha256\tdeployed_at\toperator\tnote")
    for record in records:
        note = f"rollback to {record.rollback_to}" if record.rollback_to else ""
        note += " uncommitted changes" if record.dirty else ""
        print(
            f"{record.number}\t{record.commit[:12]}\t{record.lock_sha256[:12]}\t{record.deployed_at}\t"
            f"{record.operator}\t{note.strip()}"
        )
    lambda_client = boto3.client("lambda")
    newest = str(records[-1].number) if records else None
    unrecorded = False
    for arn in deployed_functions(project_dir, stage):
        running = running_release(lambda_client, arn).get("release")
        print(f"{arn.rsplit(':', 1)[-1]} runs release {running or 'unrecorded (a plain chalice deploy)'}")
        unrecorded |= running != newest
    if unrecorded:
        _say(f"the functions do not run release {newest}: pull .chalice/deployed/, or release with make deploy")
    return 1 if unrecorded else 0


def _locked(stage: str, what: str, who: str) -> deploy_lock.DeployLock:
    return deploy_lock.acquire(boto3.client("dynamodb"), stage, who, what)


def release(project_dir: Path, stage: str) -> int:
    """``make deploy``'s release: lock, ``chalice deploy``, guardrails and record, unlock."""
    refusal = refusal_for_dirty_tree(project_dir, stage)
    if refusal:
        _say(f"make deploy: {refusal}")
        return 1
    guardrails.stage_guardrails(stage)
    commit, dirty = head_commit(project_dir), bool(uncommitted_changes(project_dir))
    who = operator(boto3.client("sts"))
    try:
        lock = _locked(stage, f"commit {commit[:12]}", who)
    except (deploy_lock.StageLocked, deploy_lock.NoLockTable) as error:
        _say(f"make deploy: {error}")
        return 1
    try:
        chalice(project_dir, "deploy", "--stage", stage)
        record = next_record(project_dir, stage, commit, lock_sha256(project_dir), who, dirty=dirty)
        print(f"SCIM_BASE_URL={finish_release(project_dir, stage, record)}")
    except subprocess.CalledProcessError as error:
        _say(f"make deploy: chalice deploy failed (exit {error.returncode}): nothing recorded, the lock is released")
        return 1
    except stream_release.StreamsNotWired as error:
        _say(f"make deploy: {error}: nothing recorded, the lock is released")
        return 1
    finally:
        lock.release()
    return 0


def rollback(project_dir: Path, stage: str, to: int | None = None) -> int:
    """Deploy again the release numbered ``to`` (default: the one before the newest)."""
    records = read_releases(project_dir, stage)
    candidates = [record for record in records if record.number == to] if to else records[-2:-1]
    if not candidates:
        wanted = f"release {to}" if to else "previous release"
        _say(f"make rollback: .chalice/deployed/{stage}.releases.json records no {wanted}")
        return 1
    target = candidates[0]
    if target.dirty:
        _say(f"make rollback: release {target.number} was deployed from uncommitted changes: it cannot be rebuilt")
        return 1
    try:
        git(project_dir, "cat-file", "-e", f"{target.commit}^{{commit}}")
    except subprocess.CalledProcessError:
        _say(f"make rollback: commit {target.commit[:12]} is not in this clone (git fetch)")
        return 1
    who = operator(boto3.client("sts"))
    with tempfile.TemporaryDirectory(prefix=f"scim-rollback-{stage}-") as workdir:
        tree = Path(workdir) / "release"
        git(project_dir, "worktree", "add", "--detach", str(tree), target.commit)
        try:
            if lock_sha256(tree) != target.lock_sha256:
                _say(f"make rollback: {target.commit[:12]}'s requirements.txt is not release {target.number}'s lock")
                return 1
            # The REST API is the stage's only by the id in the newest deployed state.
            deployed_file(tree, stage).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(deployed_file(project_dir, stage), deployed_file(tree, stage))
            try:
                lock = _locked(stage, f"rollback to release {target.number}", who)
            except (deploy_lock.StageLocked, deploy_lock.NoLockTable) as error:
                _say(f"make rollback: {error}")
                return 1
            try:
                if (tree / "infra" / "bytecode.py").exists():
                    subprocess.run([sys.executable, "-m", "infra.bytecode", "--stage", stage], cwd=tree, check=True)
                chalice(tree, "deploy", "--stage", stage)
                shutil.copy2(deployed_file(tree, stage), deployed_file(project_dir, stage))
                record = next_record(
                    project_dir, stage, target.commit, target.lock_sha256, who, rollback_to=target.number
                )
                print(f"SCIM_BASE_URL={finish_release(project_dir, stage, record)}")
            except subprocess.CalledProcessError as error:
                what = " ".join([Path(error.cmd[0]).name, *map(str, error.cmd[1:3])])
                _say(f"make rollback: {what} failed (exit {error.returncode}): nothing recorded")
                return 1
            except stream_release.StreamsNotWired as error:
                _say(f"make rollback: {error}: nothing recorded")
                return 1
            finally:
                lock.release()
        finally:
            git(project_dir, "worktree", "remove", "--force", str(tree))
    return 0


def _unless_missing(call: Callable[..., Any], **arguments: Any) -> None:
    try:
        call(**arguments)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def destroy(project_dir: Path, stage: str) -> int:
    """Remove a non-production stage: usage plans and keys, API, functions, log groups, stack, tables, secrets, and
    the events' dead-letter queue."""
    if stage in PROTECTED_STAGES:
        _say(f"make destroy: refused for {stage}; a production stage is removed by hand, resource by resource")
        return 1
    who = operator(boto3.client("sts"))
    try:
        _locked(stage, "destroy", who)  # the lock table goes with the stack: never released
    except deploy_lock.StageLocked as error:
        _say(f"make destroy: {error}")
        return 1
    except deploy_lock.NoLockTable:
        pass
    app_name = chalice_config()["app_name"]
    stream_functions, dead_letters = stream_release.stage_leftovers(app_name, stage)
    names = [function.function_name(app_name).replace("${Stage}", stage) for function in FUNCTIONS] + stream_functions
    from infra.rest_api import control_plane
    from infra.usage_plans import UsagePlans

    UsagePlans(control_plane(), stage).remove_all()
    if deployed_file(project_dir, stage).exists():
        chalice(project_dir, "delete", "--stage", stage)
    logs = boto3.client("logs")
    for name in names:
        _unless_missing(logs.delete_log_group, logGroupName=guardrails.log_group(name))
    cloudformation, dynamodb = boto3.client("cloudformation"), boto3.client("dynamodb")
    stack = f"scim-{stage}-infra"
    try:
        cloudformation.describe_stacks(StackName=stack)
    except botocore.exceptions.ClientError:
        pass  # no stack: its resources are removed below all the same
    else:
        cloudformation.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
    # Tables and secrets are kept when the stack goes (DeletionPolicy Retain): a dev stage's go too.
    for table in stage_tables(stage):
        _unless_missing(dynamodb.update_table, TableName=table, DeletionProtectionEnabled=False)
        _unless_missing(dynamodb.delete_table, TableName=table)
    sqs = boto3.client("sqs")
    try:  # kept when the stack goes (DeletionPolicy Retain), as the tables are
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=dead_letters)["QueueUrl"])
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in stream_release.NO_QUEUE:
            raise
    secretsmanager = boto3.client("secretsmanager")
    prefix = chalice_config()["stages"][stage]["environment_variables"]["SECRETS_PREFIX"]
    for secret in secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": [f"{prefix}/"]}])["SecretList"]:
        # Without a recovery window, so `make deploy-infra` can create the same names again.
        secretsmanager.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    _say(
        f"stage {stage} removed: usage plans and keys, API, functions, log groups, stack {stack}, tables, secrets, "
        "the events' dead-letter queue"
    )
    return 0
