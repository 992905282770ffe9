"""Which DynamoDB the admin CLI talks to: ``make run``'s embedded store by default, or a deployed stage."""

import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_STORE_FILE = PROJECT_DIR / ".scim-local.json"


class TargetError(Exception):
    """The store to talk to cannot be found."""


def write_local_store(endpoint_url: str, table_prefix: str, region: str) -> None:
    """Called by ``make run``: tell the admin CLI where the embedded store is."""
    LOCAL_STORE_FILE.write_text(
        json.dumps({"endpoint_url": endpoint_url, "table_prefix": table_prefix, "region": region})
    )


def forget_local_store() -> None:
    LOCAL_STORE_FILE.unlink(missing_ok=True)


def use_local_store() -> str:
    """Point the settings at the store of a running ``make run``."""
    if not LOCAL_STORE_FILE.exists():
        raise TargetError("No local store: start `make run` first, or pass --stage STAGE to use a deployed stage.")
    local = json.loads(LOCAL_STORE_FILE.read_text())
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT_URL": local["endpoint_url"],
            "TABLE_PREFIX": local["table_prefix"],
            "AWS_DEFAULT_REGION": local["region"],
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        }
    )
    return f"make run's embedded store ({local['endpoint_url']})"


def use_stage(stage: str) -> str:
    """Point the settings at a deployed stage's tables, with the operator's AWS credentials."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stages = config.get("stages", {})
    if stage not in stages:
        raise TargetError(f"No stage {stage!r} in .chalice/config.json (stages: {', '.join(sorted(stages))}).")
    variables = {**config.get("environment_variables", {}), **stages[stage].get("environment_variables", {})}
    os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
    os.environ.update(variables)
    return f"stage {stage!r} on AWS"
