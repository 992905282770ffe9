"""``make deploy`` finds the stage's Python itself (PATH, then pyenv), or refuses in one line that names the fix."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.stage_python import NoStagePython, candidates, find, version_of, virtualenv
from tests.conftest import PROJECT_DIR

FAKE_PYTHON = "#!/bin/sh\necho {version}\n"
# A pyenv shim of a version not selected fails like this.
FAKE_SHIM = '#!/bin/sh\necho "pyenv: $0: command not found" >&2\nexit 127\n'


def _executable(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def _project(destination: Path, stages: dict[str, str]) -> Path:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for stage, version in stages.items():
        config["stages"][stage]["python_version"] = version
    (destination / ".chalice").mkdir(parents=True)
    (destination / ".chalice" / "config.json").write_text(json.dumps(config))
    return destination


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with python3.97 and a failing python3.98 shim; pyenv with 3.98.2, 3.98.10 and 3.96.0."""
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "python3.97", FAKE_PYTHON.format(version="3.97"))
    _executable(bin_dir / "python3.98", FAKE_SHIM)
    for release in ("3.98.2", "3.98.10", "3.96.0"):
        _executable(
            tmp_path / "home" / ".pyenv" / "versions" / release / "bin" / "python",
            FAKE_PYTHON.format(version=release.rsplit(".", 1)[0]),
        )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_the_stages_python_on_the_path_comes_first(machine: Path) -> None:
    project = _project(machine / "project", {"dev": "3.97"})
    assert find("dev", home=machine / "home", project_dir=project) == "python3.97"


def test_a_shim_that_does_not_run_is_passed_over_for_pyenvs_newest_release(machine: Path) -> None:
    project = _project(machine / "project", {"prod": "3.98"})
    assert version_of("python3.98") is None
    found = find("prod", home=machine / "home", project_dir=project)
    assert found == str(machine / "home" / ".pyenv" / "versions" / "3.98.10" / "bin" / "python")
    assert candidates("3.98", machine / "home")[1:] == [
        str(machine / "home" / ".pyenv" / "versions" / release / "bin" / "python") for release in ("3.98.10", "3.98.2")
    ]


def test_a_python_the_operator_names_is_checked_not_searched_for(machine: Path) -> None:
    project = _project(machine / "project", {"prod": "3.97"})
    assert find("prod", named="python3.97", home=machine / "home", project_dir=project) == "python3.97"
    with pytest.raises(NoStagePython) as refused:
        find("prod", named=str(machine / "home/.pyenv/versions/3.96.0/bin/python"), project_dir=project)
    assert "is Python 3.96; stage prod runs on Python 3.97" in str(refused.value)


def test_no_python_of_the_stages_version_is_one_line_naming_the_fix(machine: Path) -> None:
    project = _project(machine / "project", {"prod": "3.95"})
    with pytest.raises(NoStagePython) as refused:
        find("prod", home=machine / "home", project_dir=project)
    assert "\n" not in str(refused.value)
    assert str(refused.value) == (
        "stage prod runs on Python 3.95 (.chalice/config.json), and no python3.95 is on the PATH or in "
        "~/.pyenv/versions: install it, or name it with make deploy STAGE=prod PYTHON=/path/to/python3.95"
    )


def test_a_deploy_uses_the_developers_venv_only_when_it_runs_the_stages_python(tmp_path: Path) -> None:
    assert virtualenv("3.97", tmp_path) == ".venv-3.97"
    _executable(tmp_path / ".venv" / "bin" / "python", FAKE_PYTHON.format(version="3.97"))
    assert virtualenv("3.97", tmp_path) == ".venv"
    assert virtualenv("3.98", tmp_path) == ".venv-3.98"


def _make(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    # An outer make's variables (`make test-all PYTHON=...`) would reach this make through MAKEFLAGS and, being
    # command-line variables, through the environment too.
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON", "VENV"}
    environment = {name: value for name, value in os.environ.items() if name not in outer}
    return subprocess.run(
        ["make", "--no-print-directory", *arguments], cwd=project, env=environment, capture_output=True, text=True
    )


def _make_project(destination: Path, version: str) -> Path:
    project = _project(destination, {"dev": version})
    for directory in ("chalicelib", "infra"):
        shutil.copytree(PROJECT_DIR / directory, project / directory, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (PROJECT_DIR / ".chalice").glob("policy-*.json"):
        shutil.copy(path, project / ".chalice")
    shutil.copy(PROJECT_DIR / "Makefile", project)
    return project


@pytest.mark.parametrize("target", ["deploy", "test-deploy", "bytecode"])
def test_make_refuses_a_stage_whose_python_is_nowhere_in_one_line(tmp_path: Path, target: str) -> None:
    project = _make_project(tmp_path / "project", "3.95")
    result = _make(project, target, "STAGE=dev")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith("make deploy: stage dev runs on Python 3.95 (.chalice/config.json)")
    assert "PYTHON=/path/to/python3.95" in result.stderr.splitlines()[0]
    assert not list(project.glob(".venv*"))


def test_make_deploy_checks_a_named_python(tmp_path: Path) -> None:
    project = _make_project(tmp_path / "project", "3.95")
    result = _make(project, "deploy", "STAGE=dev", "PYTHON=python3")
    assert result.returncode != 0
    assert "PYTHON=python3 is Python 3." in result.stderr.splitlines()[0]
    assert "stage dev runs on Python 3.95" in result.stderr.splitlines()[0]
