"""`make bytecode`, then a plain `chalice package`: the package Lambda runs holds a valid .pyc for every module."""

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.aws_session import ENDPOINTS_DIR
from infra.bytecode import build, chalice_package
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIM_DEPLOY_TEST") != "1", reason="run by `make test-deploy`: packaging downloads from PyPI"
)

TAG = sys.implementation.cache_tag
CHECKED_HASH = 0b11
"""PEP 552 flags: hash-based, check the source."""


def _project_copy(target: Path) -> Path:
    """What chalice packages, and nothing a developer's checkout holds besides (vendor/, __pycache__)."""
    ignore = shutil.ignore_patterns("__pycache__", "deployments", "*.pyc")
    shutil.copytree(PROJECT_DIR / "chalicelib", target / "chalicelib", ignore=ignore)
    shutil.copytree(PROJECT_DIR / ".chalice", target / ".chalice", ignore=ignore)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(PROJECT_DIR / name, target / name)
    return target


def _stale_or_missing(source: Path) -> str | None:
    """Why Python would compile this module at import from a read-only tree, or None when it would not."""
    code = source.read_bytes()
    try:
        compile(code, str(source), "exec")
    except (SyntaxError, ValueError):
        return None  # not Python this interpreter can run: it is never imported
    cached = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
    if not cached.exists():
        return "no .pyc"
    header = cached.read_bytes()[:16]
    if int.from_bytes(header[4:8], "little") != CHECKED_HASH:
        return "not a checked-hash .pyc"
    if header[8:16] != importlib.util.source_hash(code):
        return "stale .pyc"
    return None


def test_after_make_bytecode_chalice_packages_a_valid_pyc_for_every_module(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")

    written = build(project)
    package = chalice_package(project, tmp_path / "package", "dev")
    root = tmp_path / "task"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root)

    sources = [path for path in root.rglob("*.py") if "__pycache__" not in path.parts]
    problems = {str(path.relative_to(root)): _stale_or_missing(path) for path in sources}
    problems = {path: problem for path, problem in problems.items() if problem}
    assert written > 500
    assert {"app.py", "chalicelib/config.py", "chalice/app.py", "boto3/session.py"} <= {
        str(path.relative_to(root)) for path in sources
    }
    assert problems == {}
    # Chalice's own CLI and its dependencies stay out of the Lambda: it vendors chalice/app.py alone.
    assert not any((root / name).exists() for name in ("click", "pip", "setuptools", "inquirer"))
    # The package's botocore reads its endpoint data cut to the Lambdas' services (chalicelib.aws_session).
    assert _from_package(root, CUT_DATA_READ) == f"{root}/{ENDPOINTS_DIR}/{_botocore_version(root)}/endpoints True"


CUT_DATA_READ = """
from chalicelib.aws_session import session
loader = session()._session.get_component("data_loader")
_, path = loader.load_data_with_path("endpoints")
print(path, loader.is_builtin_path(path))
"""


def _from_package(root: Path, code: str) -> str:
    """What ``code`` prints, run from the unpacked package alone, as Lambda runs it (bench/artifact.py)."""
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=root, env=environment, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def _botocore_version(root: Path) -> str:
    return _from_package(root, "import botocore; print(botocore.__version__)")
