"""The Python a deployed stage's Lambdas run on, and the refusal of a deploy from any other.

Chalice has no setting for the Lambda runtime: it ships the version of the interpreter that runs
``chalice deploy`` (or ``chalice package``). So each deployed stage names its version in
``.chalice/config.json`` (``"python_version"``, read by nothing of Chalice's), ``make deploy`` finds
that interpreter (``infra/stage_python.py``), and ``app.py`` calls :func:`refuse_foreign_python` as
Chalice loads it, before it builds or changes anything: a plain ``chalice deploy`` from another
version stops there with one line naming the fix. Anywhere else (the Lambdas, the tests, ``make run``)
it does nothing. Standard library only: the authorizer imports it, and so does the Makefile's helper.
"""

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG = Path(".chalice") / "config.json"
# The chalice commands that build a Lambda package, and so fix its runtime.
PACKAGING_COMMANDS = {"deploy", "package"}
# Chalice's options before the command that take a value (chalice --project-dir DIR deploy).
GLOBAL_OPTIONS_WITH_VALUE = {"--project-dir"}
DEFAULT_STAGE = "dev"


def stage_python_version(config: Mapping[str, Any], stage: str) -> str | None:
    """The ``major.minor`` a stage's Lambdas run on, or None for a stage that is never deployed (local, test)."""
    version = config.get("stages", {}).get(stage, {}).get("python_version")
    return str(version) if version else None


def read_config(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((project_dir / CONFIG).read_text())
    return config


def packaging_stage(argv: Sequence[str]) -> str | None:
    """The stage a ``chalice deploy``/``chalice package`` command line packages, or None for anything else."""
    if not argv or not _is_chalice(argv[0]):
        return None
    arguments = list(argv[1:])
    while arguments and arguments[0].startswith("-"):
        option = arguments.pop(0)
        if option in GLOBAL_OPTIONS_WITH_VALUE and arguments:
            arguments.pop(0)
    if not arguments or arguments[0] not in PACKAGING_COMMANDS:
        return None
    stage = DEFAULT_STAGE
    for position, argument in enumerate(arguments):
        if argument == "--stage" and position + 1 < len(arguments):
            stage = arguments[position + 1]
        elif argument.startswith("--stage="):
            stage = argument.removeprefix("--stage=")
    return stage


def _is_chalice(program: str) -> bool:
    path = Path(program)
    return path.name == "chalice" or path.parts[-2:] == ("chalice", "__main__.py")


def foreign_python(
    argv: Sequence[str], running: tuple[int, int], config: Mapping[str, Any] | None = None
) -> str | None:
    """Why this command line must not package with this interpreter, in one line; None when it may."""
    stage = packaging_stage(argv)
    if stage is None:
        return None
    wanted = stage_python_version(read_config() if config is None else config, stage)
    version = f"{running[0]}.{running[1]}"
    if wanted is None or wanted == version:
        return None
    return (
        f'chalice: stage {stage} runs on Python {wanted} (.chalice/config.json "python_version") and this is '
        f"Python {version}, which Chalice would ship as the Lambda runtime: run `make deploy STAGE={stage}` "
        f"(it finds python{wanted}; or add PYTHON=/path/to/python{wanted})"
    )


def refuse_foreign_python(argv: Sequence[str] | None = None) -> None:
    """Stop a ``chalice deploy``/``package`` of a stage from an interpreter of another version, before anything."""
    refusal = foreign_python(sys.argv if argv is None else argv, (sys.version_info.major, sys.version_info.minor))
    if refusal:
        # SystemExit: Chalice prints any other exception as a traceback; this is one line, and exit status 1.
        raise SystemExit(refusal)
