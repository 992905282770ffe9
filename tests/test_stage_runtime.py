"""A stage's Lambdas run on the stage's Python: a plain ``chalice deploy`` from another is refused before anything."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.stage_runtime import foreign_python, packaging_stage
from tests.conftest import PROJECT_DIR

CONFIG = {"stages": {"dev": {"python_version": "3.13"}, "prod": {"python_version": "3.12"}, "local": {}}}
RUNNING = (sys.version_info.major, sys.version_info.minor)
OTHER_PYTHON = "3.99"


@pytest.mark.parametrize(
    ("argv", "stage"),
    [
        (["chalice", "deploy"], "dev"),
        (["/work/.venv/bin/chalice", "deploy", "--stage", "prod"], "prod"),
        (["chalice", "--project-dir", "/srv/scim", "package", "--stage=prod", "out"], "prod"),
        (["chalice", "--debug", "deploy", "--profile", "ops", "--stage", "prod"], "prod"),
        (["/usr/lib/python3/site-packages/chalice/__main__.py", "package", "out"], "dev"),
        (["chalice", "local"], None),
        (["chalice", "delete", "--stage", "prod"], None),
        (["chalice"], None),
        (["/work/.venv/bin/pytest", "deploy"], None),
        (["/var/runtime/bootstrap.py"], None),
        ([], None),
    ],
)
def test_only_chalice_deploy_and_package_are_packaging(argv: list[str], stage: str | None) -> None:
    assert packaging_stage(argv) == stage


def test_a_deploy_from_the_stages_python_may_go() -> None:
    assert foreign_python(["chalice", "deploy", "--stage", "prod"], (3, 12), CONFIG) is None
    assert foreign_python(["chalice", "deploy"], (3, 13), CONFIG) is None


def test_a_stage_that_names_no_python_is_never_refused() -> None:
    assert foreign_python(["chalice", "deploy", "--stage", "local"], (3, 11), CONFIG) is None


def test_a_deploy_from_another_python_is_refused_in_one_line_naming_the_fix() -> None:
    refusal = foreign_python(["chalice", "deploy", "--stage", "prod"], (3, 13), CONFIG)
    assert refusal is not None
    assert "\n" not in refusal
    assert refusal.startswith("chalice: stage prod runs on Python 3.12")
    assert "this is Python 3.13" in refusal
    assert "make deploy STAGE=prod" in refusal


def _project(destination: Path, config: dict[str, Any]) -> Path:
    for directory in ("chalicelib",):
        shutil.copytree(PROJECT_DIR / directory, destination / directory, ignore=shutil.ignore_patterns("__pycache__"))
    (destination / ".chalice").mkdir()
    for path in (PROJECT_DIR / ".chalice").glob("policy-*.json"):
        shutil.copy(path, destination / ".chalice")
    (destination / ".chalice" / "config.json").write_text(json.dumps(config))
    shutil.copy(PROJECT_DIR / "app.py", destination)
    (destination / "requirements.txt").write_text("")
    return destination


def test_a_plain_chalice_deploy_from_another_python_stops_before_it_changes_anything(tmp_path: Path) -> None:
    # Given the dev stage set to run on a Python other than this one
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    config["stages"]["dev"]["python_version"] = OTHER_PYTHON
    project = _project(tmp_path / "project", config)
    # When an operator runs chalice deploy from this Python, against an endpoint that would refuse any call
    environment = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    chalice = Path(sys.executable).with_name("chalice")
    result = subprocess.run(
        [str(chalice), "deploy", "--stage", "dev"], cwd=project, env=environment, capture_output=True, text=True
    )
    # Then it is refused in one line that names the fix, and nothing was built or recorded
    assert result.returncode == 1, result.stdout + result.stderr
    running = f"{RUNNING[0]}.{RUNNING[1]}"
    assert result.stderr.strip().splitlines() == [
        f'chalice: stage dev runs on Python {OTHER_PYTHON} (.chalice/config.json "python_version") and this is '
        f"Python {running}, which Chalice would ship as the Lambda runtime: run `make deploy STAGE=dev` "
        f"(it finds python{OTHER_PYTHON}; or add PYTHON=/path/to/python{OTHER_PYTHON})"
    ]
    assert sorted(path.name for path in (project / ".chalice").iterdir()) == sorted(
        ["config.json", *(path.name for path in (PROJECT_DIR / ".chalice").glob("policy-*.json"))]
    )


def test_the_same_deploy_from_the_stages_python_gets_past_the_check(tmp_path: Path) -> None:
    # Given the dev stage set to this very Python (and no requirement to download), chalice packages it
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    config["stages"]["dev"]["python_version"] = f"{RUNNING[0]}.{RUNNING[1]}"
    project = _project(tmp_path / "project", config)
    environment = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("chalice")), "package", "--stage", "dev", str(tmp_path / "out")],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "deployment.zip").is_file()
