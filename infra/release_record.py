"""What each release of a stage deployed, where the next operator finds it.

Two places, written by ``make deploy`` and ``make rollback`` after the functions are updated:

- ``.chalice/deployed/<stage>.releases.json``, committed with ``<stage>.json``: every release of the
  stage, newest last (number, commit, lock hash, time, operator, and what a rollback went back to).
  ``make rollback`` reads it.
- The tags of both functions (``scim:release``, ``scim:commit``, ...): what runs now, readable on AWS
  without the repository (``aws lambda list-tags``). A plain ``chalice deploy`` removes tags it did not
  set, so a function without them runs an unrecorded release.

The lock hash is the SHA-256 of ``requirements.txt``, the file Chalice packages the dependencies from.
"""

import getpass
import hashlib
import json
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

LOCK_FILE = "requirements.txt"
TAG_PREFIX = "scim:"


@dataclass(frozen=True)
class ReleaseRecord:
    number: int
    commit: str
    lock_sha256: str
    deployed_at: str
    operator: str
    dirty: bool = False
    rollback_to: int | None = None
    """For a rollback: the number of the release whose commit and lock were deployed again."""

    def tags(self) -> dict[str, str]:
        tags = {
            "release": str(self.number),
            "commit": self.commit,
            "lock-sha256": self.lock_sha256,
            "deployed-at": self.deployed_at,
            "operator": self.operator,
        }
        if self.rollback_to is not None:
            tags["rollback-to"] = str(self.rollback_to)
        return {TAG_PREFIX + key: value for key, value in tags.items()}


def releases_file(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.releases.json"


def read_releases(project_dir: Path, stage: str) -> list[ReleaseRecord]:
    path = releases_file(project_dir, stage)
    if not path.exists():
        return []
    return [ReleaseRecord(**entry) for entry in json.loads(path.read_text())["releases"]]


def append_release(project_dir: Path, stage: str, record: ReleaseRecord) -> None:
    releases = [*read_releases(project_dir, stage), record]
    path = releases_file(project_dir, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"releases": [asdict(entry) for entry in releases]}, indent=2) + "\n")


def lock_sha256(project_dir: Path) -> str:
    return hashlib.sha256((project_dir / LOCK_FILE).read_bytes()).hexdigest()


def git(project_dir: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=project_dir, check=True, capture_output=True, text=True).stdout


def head_commit(project_dir: Path) -> str:
    return git(project_dir, "rev-parse", "HEAD").strip()


def uncommitted_changes(project_dir: Path) -> list[str]:
    """``git status`` lines of files changed or untracked (ignored files, e.g. the bytecode, excluded)."""
    return [line for line in git(project_dir, "status", "--porcelain").splitlines() if line.strip()]


def operator(sts: Any) -> str:
    """The AWS identity that deploys (its ARN), or the local user when it cannot be read."""
    try:
        arn: str = sts.get_caller_identity()["Arn"]
        return arn
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return getpass.getuser()


def next_record(
    project_dir: Path, stage: str, commit: str, lock: str, who: str, dirty: bool = False,
    rollback_to: int | None = None,
) -> ReleaseRecord:  # fmt: skip
    previous = read_releases(project_dir, stage)
    return ReleaseRecord(
        number=previous[-1].number + 1 if previous else 1,
        commit=commit,
        lock_sha256=lock,
        deployed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        operator=who,
        dirty=dirty,
        rollback_to=rollback_to,
    )


def tag_functions(lambda_client: Any, function_arns: list[str], record: ReleaseRecord) -> None:
    for arn in function_arns:
        lambda_client.tag_resource(Resource=arn, Tags=record.tags())


def running_release(lambda_client: Any, function_arn: str) -> dict[str, str]:
    """The release tags the function carries now (empty for an unrecorded release)."""
    tags: dict[str, str] = lambda_client.list_tags(Resource=function_arn).get("Tags", {})
    return {key.removeprefix(TAG_PREFIX): value for key, value in tags.items() if key.startswith(TAG_PREFIX)}
