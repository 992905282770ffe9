"""Compiled bytecode for the Lambda package: ``python -m infra.bytecode`` (``make bytecode``; ``make deploy`` runs it).

Lambda runs the package from a read-only ``/var/task``, so a module shipped without its ``.pyc``
is compiled on every cold start and never kept; ``chalice deploy`` ships none (aws/chalice#868).
Two things Chalice does package as they are make up for it:

- ``chalicelib/`` is copied file by file, ``__pycache__`` included: its modules are compiled
  in place.
- ``vendor/`` is merged into the package root: it receives the ``__pycache__`` directories of
  everything else the package holds (the dependencies Chalice installs from ``requirements.txt``,
  the ``chalice`` runtime it vendors, ``app.py``), compiled from a package Chalice just built, so
  they are the bytes Chalice ships.

Every ``.pyc`` is hash-checked (PEP 552, ``checked-hash``): Python compares it with the source's
hash before using it, so a stale one (a dependency upgraded and ``make bytecode`` not re-run)
is only recompiled in memory, as today, never run in place of the new code. A plain ``chalice
deploy`` is therefore always correct, and fast once this has run for the requirements and
code being deployed. ``vendor/`` holds nothing else but ``botocore_data/<botocore version>/``
(botocore's endpoint data cut to the services the Lambdas call and their API models without documentation,
read only by that botocore:
:mod:`chalicelib.aws_session`) and ``lark_parsers/`` (scim2-models' filter parser, saved:
:mod:`chalicelib.import_cost`), and is not committed.
"""

import argparse
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from chalicelib.aws_session import ENDPOINTS_DIR, write_endpoints, write_service_models
from chalicelib.import_cost import PARSER_DIR, save_parser

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENDOR = "vendor"
CHALICE_LIB = "chalicelib"
MODE = py_compile.PycInvalidationMode.CHECKED_HASH


def _compile(tree: Path) -> None:
    # Some dependencies ship files that do not compile on this Python (examples, templates): they are skipped.
    compileall.compile_dir(tree, quiet=2, force=True, workers=0, invalidation_mode=MODE)


def chalice_package(project_dir: Path, output: Path, stage: str) -> Path:
    """``chalice package`` of a project: the deployment.zip ``chalice deploy`` would upload, in ``output``."""
    chalice = Path(sys.executable).with_name("chalice")
    environment = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(
        [str(chalice), "package", "--stage", stage, str(output)],
        cwd=project_dir,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    return output / "deployment.zip"


def _caches(tree: Path) -> list[Path]:
    """Every ``__pycache__`` directory under ``tree``, except chalicelib's (compiled in place)."""
    return [cache for cache in tree.rglob("__pycache__") if cache.relative_to(tree).parts[0] != CHALICE_LIB]


def build(project_dir: Path = PROJECT_DIR, stage: str = "dev") -> int:
    """Compile ``chalicelib/`` in place and write ``vendor/``; return the number of ``.pyc`` written.

    ``vendor/`` also receives the package's botocore endpoint data cut to the services the Lambdas
    call (:mod:`chalicelib.aws_session`): a cold start's clients are built in about a third of the time.
    """
    vendor = project_dir / VENDOR
    shutil.rmtree(vendor, ignore_errors=True)
    _compile(project_dir / CHALICE_LIB)
    written = sum(1 for _ in (project_dir / CHALICE_LIB).rglob(f"*.{sys.implementation.cache_tag}.pyc"))
    with tempfile.TemporaryDirectory(prefix="scim-bytecode-") as workdir:
        unpacked = Path(workdir) / "task"
        with zipfile.ZipFile(chalice_package(project_dir, Path(workdir) / "package", stage)) as archive:
            archive.extractall(unpacked)
        _compile(unpacked)
        write_endpoints(unpacked / "botocore", vendor)
        write_service_models(unpacked / "botocore", vendor)
        save_parser(vendor)
        for cache in _caches(unpacked):
            target = vendor / cache.relative_to(unpacked)
            target.mkdir(parents=True, exist_ok=True)
            for compiled in cache.glob(f"*.{sys.implementation.cache_tag}.pyc"):
                shutil.copy2(compiled, target / compiled.name)
                written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bytecode", description=__doc__)
    parser.add_argument("--stage", default="dev", help="the stage packaged to find the dependencies (any will do)")
    args = parser.parse_args()
    written = build(stage=args.stage)
    tag = sys.implementation.cache_tag
    print(f"{written:,} hash-checked .pyc files for {tag}, in chalicelib/__pycache__ and {VENDOR}/")
    print(f"botocore's endpoint data for the Lambdas' services alone, in {VENDOR}/{ENDPOINTS_DIR}/")
    print(f"scim2-models' filter parser, saved, in {VENDOR}/{PARSER_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
