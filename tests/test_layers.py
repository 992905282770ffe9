"""The architecture's layer rules, checked: what the authorizer loads, and what the store may import."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR


def test_authorizer_cold_start_loads_neither_scim2_nor_pydantic_nor_the_metrics_library() -> None:
    # An allowed request never loads Powertools either: the authorizer imports it on its first refusal.
    probe = (
        "import sys, app; from chalicelib.auth.authorizer import authenticate; "
        "heavy = ('scim2_models', 'scim2_server', 'pydantic', 'aws_lambda_powertools'); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy); "
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_under_the_store_imports_chalice() -> None:
    for path in (PROJECT_DIR / "chalicelib" / "store").glob("*.py"):
        assert "chalice" not in _imports(path), path


def test_app_py_knows_nothing_of_dynamodb() -> None:
    imports = _imports(PROJECT_DIR / "app.py")
    assert not imports & {"boto3", "botocore"}
