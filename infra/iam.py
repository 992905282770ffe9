"""The stage's Lambdas as IAM sees them, and IAM's own rules for whether a policy allows a call.

:func:`stage_functions` names each function, its role, its policy file and its log group by Chalice's
own rules (the application graph ``chalice deploy`` builds from ``.chalice/config.json``), offline.
:func:`allows` decides a call against an identity policy as IAM does for the subset of the policy
language the stage policies use: ``Allow``/``Deny`` with ``Action``/``NotAction`` and
``Resource``/``NotResource``; a ``Condition`` or a ``Principal`` is refused rather than guessed at.

Written here rather than taken from a library: moto's evaluator (``moto.iam.access_control``) turns
the pattern into a regular expression unescaped, so the ``?`` of a Secrets Manager suffix raises and a
``.`` matches any character, and it compares actions case-sensitively; no evaluator on the package
index is kept up to date and small enough for a test dependency.
"""

import importlib.util
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
ALLOW = "Allow"
DENY = "Deny"
# The parts of an ARN before its resource: arn, partition, service, region, account.
ARN_PREFIX_PARTS = 5
SUPPORTED_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"}


class UnsupportedPolicy(ValueError):
    """A policy uses an element this evaluator does not decide (a condition, a principal)."""


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` exactly one; everything else literal."""
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    """``service:Name`` against a pattern; IAM compares actions without regard to case."""
    return _glob(pattern, ignore_case=True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """An ARN against a pattern: each of partition, service, region and account on its own, then the resource.

    A wildcard cannot reach across the colons of the first five parts (``arn:aws:*:...`` is not every ARN of
    every service); in the resource part, which may itself hold colons (a log stream), it can.
    """
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", ARN_PREFIX_PARTS)
    arn_parts = arn.split(":", ARN_PREFIX_PARTS)
    if len(pattern_parts) != len(arn_parts):
        return False
    return all(
        _glob(expected, ignore_case=False).fullmatch(actual) is not None
        for expected, actual in zip(pattern_parts, arn_parts, strict=True)
    )


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Statement:
    """One statement of an identity policy."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False

    @classmethod
    def parse(cls, statement: dict[str, Any]) -> "Statement":
        unsupported = set(statement) - SUPPORTED_KEYS
        if unsupported:
            raise UnsupportedPolicy(f"statement {statement.get('Sid', '?')}: {sorted(unsupported)} not evaluated")
        if statement.get("Effect") not in (ALLOW, DENY):
            raise UnsupportedPolicy(f"statement {statement.get('Sid', '?')}: Effect {statement.get('Effect')!r}")
        action_key = "NotAction" if "NotAction" in statement else "Action"
        resource_key = "NotResource" if "NotResource" in statement else "Resource"
        return cls(
            effect=statement["Effect"],
            actions=tuple(listed(statement[action_key])),
            resources=tuple(listed(statement[resource_key])),
            not_action=action_key == "NotAction",
            not_resource=resource_key == "NotResource",
        )

    def applies_to(self, action: str, arn: str) -> bool:
        action_listed = any(action_matches(pattern, action) for pattern in self.actions)
        resource_listed = any(resource_matches(pattern, arn) for pattern in self.resources)
        return action_listed != self.not_action and resource_listed != self.not_resource


def statements(policy: dict[str, Any]) -> list[Statement]:
    if policy.get("Version") != "2012-10-17":
        # The older version reads ${...} as literal text: a policy written for the current one would change meaning.
        raise UnsupportedPolicy(f"policy Version {policy.get('Version')!r}")
    return [Statement.parse(statement) for statement in listed_statements(policy)]


def listed_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def allows(policy: dict[str, Any], action: str, arn: str) -> bool:
    """IAM's decision for one identity policy alone: an explicit deny wins, then any allow; otherwise denied."""
    applying = [statement.effect for statement in statements(policy) if statement.applies_to(action, arn)]
    return DENY not in applying and ALLOW in applying


@dataclass(frozen=True)
class StageFunction:
    """A Lambda function of a stage as ``chalice deploy`` names it."""

    name: str
    """Chalice's name for it in the app: ``api_handler`` for the routes, the decorated function's otherwise."""
    function_name: str
    role_name: str
    policy_file: Path
    log_group: str

    def policy(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.policy_file.read_text())
        return document


def stage_functions(stage: str, project_dir: Path = PROJECT_DIR) -> dict[str, StageFunction]:
    """Every function ``chalice deploy --stage <stage>`` makes, by Chalice's name for it, from Chalice's own graph.

    The stream functions included: the graph is built from ``app.py`` as Chalice loads it for the stage once
    ``make deploy-infra`` has written the stage's stream ARNs (:func:`stage_app`).
    The log group is Lambda's: ``/aws/lambda/<function name>`` (Chalice's own log group model names the API
    handler's wrongly, ``<app>-<stage>-api_handler``, so it is not used).
    """
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder

    factory = CLIFactory(str(project_dir))
    params: dict[str, Any] = {}
    config = factory.create_config_obj(chalice_stage_name=stage, user_provided_params=params)
    # In place of the factory's loader, which imports app.py once per process, with whatever environment it had.
    params["chalice_app"] = stage_app(project_dir, config.environment_variables)
    application = ApplicationGraphBuilder().build(config, stage)
    found: dict[str, StageFunction] = {}
    for resource in _walk(application, models):
        if not isinstance(resource, models.LambdaFunction):
            continue
        role = resource.role
        if not isinstance(role, models.ManagedIAMRole) or not isinstance(role.policy, models.FileBasedIAMPolicy):
            raise UnsupportedPolicy(f"{resource.function_name}: its role is not managed from a policy file")
        found[resource.resource_name] = StageFunction(
            name=resource.resource_name,
            function_name=resource.function_name,
            role_name=role.role_name,
            policy_file=Path(role.policy.filename),
            log_group=f"/aws/lambda/{resource.function_name}",
        )
    return found


def stage_app(project_dir: Path, variables: dict[str, str]) -> Any:
    """``app.py`` loaded afresh under the stage's environment, as ``chalice deploy`` loads it.

    Each stream ARN the stage does not name yet (``make deploy-infra`` writes them into ``.chalice/config.json``)
    is a placeholder of the stage's own table: only names matter here, and a stage deploys its stream
    functions once it has them (``make deploy`` refuses to release without).
    """
    from chalicelib.config import STREAM_VARIABLES
    from chalicelib.store.tables import table_definitions
    from infra.templates import settings_for

    tables = table_definitions(settings_for(variables))
    placeholders = {
        variable: f"arn:aws:dynamodb:us-east-1:000000000000:table/{tables[table]['TableName']}/stream/placeholder"
        for table, variable in STREAM_VARIABLES.items()
        if not variables.get(variable)
    }
    saved = dict(os.environ)
    os.environ.update({**variables, **placeholders})
    try:
        spec = importlib.util.spec_from_file_location("_stage_app", project_dir / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module.app


def _walk(resource: Any, models: Any) -> list[Any]:
    """The resource and every model it holds, depth first (a REST API holds its handler and its authorizers)."""
    seen = [resource]
    for value in vars(resource).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, models.Model):
                seen += _walk(item, models)
    return seen
