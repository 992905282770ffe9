"""Which DynamoDB the admin CLI talks to: ``make run``'s embedded store by default, or a deployed stage."""

import json
import os
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_STORE_FILE = PROJECT_DIR / ".scim-local.json"


def local_store_file() -> Path:
    """Where ``make run`` says where its store is; ``SCIM_LOCAL_STORE_FILE`` moves it (tests, a second server)."""
    return Path(os.environ.get("SCIM_LOCAL_STORE_FILE") or LOCAL_STORE_FILE)


def events_file() -> Path:
    """Where ``make run`` writes the events it would publish (devserver/event_log.py), beside its store."""
    store = local_store_file()
    return store.with_name(store.stem + "-events.jsonl")


def dead_letters_file() -> Path:
    """Where ``make run`` writes the stream records it set aside, beside its store."""
    store = local_store_file()
    return store.with_name(store.stem + "-dead-letters.jsonl")


def read_lines(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The complete lines written after byte ``offset``, and the offset after them (for ``--follow``)."""
    if not path.exists():
        return [], offset
    with path.open("rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()], offset + len(complete)


class TargetError(Exception):
    """The store to talk to cannot be found."""


def write_local_store(endpoint_url: str, table_prefix: str, region: str) -> None:
    """Called by ``make run``: tell the admin CLI where the embedded store is."""
    local_store_file().write_text(
        json.dumps({"endpoint_url": endpoint_url, "table_prefix": table_prefix, "region": region})
    )


def forget_local_store() -> None:
    local_store_file().unlink(missing_ok=True)


def use_local_store() -> str:
    """Point the settings at the store of a running ``make run``."""
    store_file = local_store_file()
    if not store_file.exists():
        raise TargetError("No local store: start `make run` first, or pass --stage STAGE to use a deployed stage.")
    local = json.loads(store_file.read_text())
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT_URL": local["endpoint_url"],
            "TABLE_PREFIX": local["table_prefix"],
            "AWS_DEFAULT_REGION": local["region"],
            "SCIM_DEV_SECRETS": "true",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        }
    )
    return f"make run's embedded store ({local['endpoint_url']})"


def use_stage(stage: str) -> str:
    """Point the settings at a deployed stage's tables and secrets, with the operator's AWS credentials."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stages = config.get("stages", {})
    if stage not in stages:
        raise TargetError(f"No stage {stage!r} in .chalice/config.json (stages: {', '.join(sorted(stages))}).")
    variables = {**config.get("environment_variables", {}), **stages[stage].get("environment_variables", {})}
    for name in ("DYNAMODB_ENDPOINT_URL", "SECRETS_PREFIX", "SCIM_DEV_SECRETS"):
        os.environ.pop(name, None)
    os.environ.update(variables)
    if "SECRETS_PREFIX" in variables:
        # A deployed stage: hash new secrets with the key its authorizer verifies them with, read the same way.
        from chalicelib.config import settings
        from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, SecretUnavailable

        try:
            settings().secrets.read(CREDENTIAL_HASH_KEY)
        except SecretUnavailable as error:
            raise TargetError(
                f"Cannot read the stage's secret {error.secret_id} from Secrets Manager ({error}). "
                "Deploy the stage's infra first (make deploy-infra), and use AWS credentials and the region "
                "of that account."
            ) from None
    return f"stage {stage!r} on AWS"
