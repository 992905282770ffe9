"""``make deploy-infra STAGE=<stage>``: the stage's CloudFormation stack, created or updated, then protected.

Through boto3 rather than the AWS CLI, so the operator needs nothing but the project's virtualenv
and AWS credentials. The generated template (:mod:`infra.templates`) goes inline without its
indentation: CloudFormation takes at most 51,200 bytes inline, and the indented file is larger.
A change set shows nothing to do when the template and parameters are unchanged: that is a success.
"""

import sys
from typing import Any

import botocore.exceptions

from infra.templates import compact, stack_template

NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


def stack_name(stage: str) -> str:
    return f"scim-{stage}-infra"


def _exists(cloudformation: Any, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in error.response["Error"]["Message"]:
            return False
        raise
    return any(stack["StackStatus"] != "REVIEW_IN_PROGRESS" for stack in stacks)


def deploy_infra(
    cloudformation: Any,
    stage: str,
    management_caller_arn: str = "",
    api_id: str = "*",
    parameters: list[dict[str, str]] | None = None,
) -> str:
    """Create or update the stage's stack and turn on its termination protection; return what happened.

    ``management_caller_arn``: the One Model platform's IAM principal, allowed to assume the role that calls
    the management API (empty: no such role); ``api_id``: the stage's REST API, which that role may invoke;
    ``parameters``: the template's others (the events' archive retention, :mod:`infra.stream_release`),
    at their defaults when left out.
    """
    name = stack_name(stage)
    kind = "UPDATE" if _exists(cloudformation, name) else "CREATE"
    try:
        change_set = cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=f"make-deploy-infra-{stage}",
            ChangeSetType=kind,
            TemplateBody=compact(stack_template()),
            Parameters=[
                {"ParameterKey": "Stage", "ParameterValue": stage},
                {"ParameterKey": "ManagementCallerArn", "ParameterValue": management_caller_arn},
                {"ParameterKey": "ApiId", "ParameterValue": api_id},
                *(parameters or []),
            ],
            Capabilities=["CAPABILITY_NAMED_IAM"],  # the management caller role has a name
            Tags=[{"Key": "app", "Value": "onemodel-scim"}, {"Key": "stage", "Value": stage}],
        )["Id"]
    except botocore.exceptions.ClientError as error:
        # AWS creates a FAILED change set when nothing changes (below); some endpoints refuse the call itself.
        if not any(phrase in error.response["Error"]["Message"] for phrase in NO_CHANGES):
            raise
        return _protect(cloudformation, name, "unchanged")
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(ChangeSetName=change_set, StackName=name)
    except botocore.exceptions.WaiterError:
        reason = cloudformation.describe_change_set(ChangeSetName=change_set, StackName=name).get("StatusReason", "")
        if any(phrase in reason for phrase in NO_CHANGES):
            cloudformation.delete_change_set(ChangeSetName=change_set, StackName=name)
            outcome = "unchanged"
        else:
            raise RuntimeError(f"stack {name}: the change set failed: {reason}") from None
    else:
        cloudformation.execute_change_set(ChangeSetName=change_set, StackName=name)
        waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
        cloudformation.get_waiter(waiter).wait(StackName=name)
        outcome = "created" if kind == "CREATE" else "updated"
    return _protect(cloudformation, name, outcome)


def _protect(cloudformation: Any, name: str, outcome: str) -> str:
    cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=True)
    print(f"stack {name}: {outcome}, termination protection on", file=sys.stderr)
    return outcome


def stack_outputs(cloudformation: Any, stage: str) -> list[dict[str, str]]:
    """The stage's stack's outputs (``OutputKey``, ``OutputValue``)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name(stage))["Stacks"]
    outputs: list[dict[str, str]] = stack.get("Outputs", [])
    return outputs
