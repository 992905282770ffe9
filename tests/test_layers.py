"""The architecture's layer rules, checked: what each layer may import, and what the authorizer loads."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

# Bottom to top; a module imports only from its own layer and those below it (docs/design/architecture.md).
# config (with stage_secrets, its secret part) and metrics are leaves any layer uses; schemas is the SCIM
# vocabulary every layer above the store speaks (model_docs: when its descriptions are read; import_cost: what
# its import puts off); auth is the authorizer's edge.
LAYERS = [
    [
        "chalicelib.config",
        "chalicelib.stage_runtime",
        "chalicelib.stage_secrets",
        "chalicelib.aws_session",
        "chalicelib.metrics",
    ],
    ["chalicelib.store"],
    [
        "chalicelib.schemas",
        "chalicelib.model_docs",
        "chalicelib.import_cost",
        "chalicelib.canonical",
        "chalicelib.references",
        "chalicelib.resources",
    ],
    # events: the stream functions' side, beside the request path's provisioning rules; never imported by it.
    ["chalicelib.provisioning", "chalicelib.events"],
    ["chalicelib.scim", "chalicelib.management", "chalicelib.auth", "chalicelib.gateway_responses"],
    ["app"],
]
# Only these know DynamoDB's tables: the SCIM side reaches them through chalicelib.resources; the management
# API manages the tables' settings items (credentials, mappings, policies) as the CLI does. The events read
# the tables' stream records, which are the store's items (chalicelib.store.streams decodes them).
STORE_CLIENTS = (
    "chalicelib.store",
    "chalicelib.resources",
    "chalicelib.auth",
    "chalicelib.management",
    "chalicelib.events",
)


def _layer(module: str) -> int | None:
    for number, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return number
    return None


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> list[Path]:
    package = PROJECT_DIR / "chalicelib"
    return [PROJECT_DIR / "app.py", *sorted(set(package.rglob("*.py")) - {package / "__init__.py"})]


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement names, lazy imports inside functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


@pytest.mark.parametrize("path", _modules(), ids=lambda path: _module_name(path))
def test_imports_only_go_down_the_layers(path: Path) -> None:
    """store < resources < provisioning < scim adapter < app: an import that runs back up fails here."""
    own = _layer(_module_name(path))
    assert own is not None, f"{path} belongs to no layer: add it to LAYERS"
    upward = sorted(name for name in _imported_modules(path) if (_layer(name) or 0) > own)
    assert upward == [], f"{_module_name(path)} imports from a layer above it"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: _module_name(path))
def test_only_the_resources_layer_reaches_the_store_from_the_scim_side(path: Path) -> None:
    if _module_name(path).startswith(STORE_CLIENTS):
        return
    assert not [name for name in _imported_modules(path) if _layer(name) == 1]


def test_the_store_imports_neither_scim2_nor_pydantic_nor_chalice() -> None:
    for path in (PROJECT_DIR / "chalicelib" / "store").glob("*.py"):
        assert not _imports(path) & {"scim2_models", "scim2_server", "pydantic", "chalice"}, path


def test_the_layer_rule_catches_an_import_back_up(tmp_path: Path) -> None:
    """The rule can fail: a store module importing the resources layer is refused."""
    module = tmp_path / "upward.py"
    module.write_text("from chalicelib.resources.meta import etag\n")
    store = LAYERS.index(["chalicelib.store"])
    assert any((_layer(name) or 0) > store for name in _imported_modules(module))


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


def test_nothing_under_the_store_imports_chalice() -> None:
    for path in (PROJECT_DIR / "chalicelib" / "store").glob("*.py"):
        assert "chalice" not in _imports(path), path


def test_app_py_knows_nothing_of_dynamodb() -> None:
    imports = _imports(PROJECT_DIR / "app.py")
    assert not imports & {"boto3", "botocore"}


def test_the_request_path_never_imports_the_events() -> None:
    """Events come from the tables' streams: no SCIM request builds or publishes one."""
    for path in _modules():
        name = _module_name(path)
        if name == "app" or name.startswith("chalicelib.events"):
            continue
        assert not [module for module in _imported_modules(path) if module.startswith("chalicelib.events")], name
