"""The interpreter ``make deploy`` runs Chalice on: the stage's Python, found on this machine, or one line saying how.

``python3 -m infra.stage_python <stage> [--python PYTHON]`` prints two lines, the interpreter and the
virtualenv to deploy from, or exits 2 with the refusal on stderr. The stage's version is its
``"python_version"`` in ``.chalice/config.json`` (:mod:`chalicelib.stage_runtime`). Looked for, in
order: ``PYTHON`` when the operator names one (``make deploy STAGE=prod PYTHON=...``), ``python3.X`` on
the PATH, then ``~/.pyenv/versions/3.X.*``. The virtualenv is ``.venv`` when that one runs the
stage's version (a developer on it keeps one), else ``.venv-3.X`` beside it, built from the same lock.
Standard library only: the Makefile runs it with whatever python3 comes first, before any venv.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from chalicelib.stage_runtime import PROJECT_DIR, read_config, stage_python_version

VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


class NoStagePython(Exception):
    """The stage's Python is not on this machine, or the one named is another version."""


def version_of(python: str) -> str | None:
    """``major.minor`` of an interpreter, or None when it does not run (a pyenv shim of a version not selected)."""
    try:
        probe = subprocess.run([python, "-c", VERSION_PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def _release_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in path.parent.parent.name.split("."))


def candidates(version: str, home: Path) -> list[str]:
    """Where the stage's interpreter may be, in order: the PATH, then pyenv's newest patch release first."""
    installed = sorted(home.glob(f".pyenv/versions/{version}.*/bin/python"), key=_release_key, reverse=True)
    return [f"python{version}", *map(str, installed)]


def find(stage: str, named: str | None = None, home: Path | None = None, project_dir: Path = PROJECT_DIR) -> str:
    """The interpreter to deploy ``stage`` with.

    :raises NoStagePython: With the one line that names the fix.
    """
    version = stage_python_version(read_config(project_dir), stage)
    if version is None:
        raise NoStagePython(f'stage {stage} names no "python_version" in .chalice/config.json')
    if named:
        found = version_of(named)
        if found != version:
            raise NoStagePython(
                f"PYTHON={named} is {'Python ' + found if found else 'no Python that runs'}; "
                f"stage {stage} runs on Python {version}: name a python{version}"
            )
        return named
    for candidate in candidates(version, Path.home() if home is None else home):
        if version_of(candidate) == version:
            return candidate
    raise NoStagePython(
        f"stage {stage} runs on Python {version} (.chalice/config.json), and no python{version} is on the PATH or "
        f"in ~/.pyenv/versions: install it, or name it with make deploy STAGE={stage} PYTHON=/path/to/python{version}"
    )


def virtualenv(version: str, project_dir: Path = PROJECT_DIR) -> str:
    """``.venv`` when it runs ``version``, else ``.venv-<version>``: a deploy never rebuilds the developer's venv."""
    default = project_dir / ".venv" / "bin" / "python"
    return ".venv" if default.exists() and version_of(str(default)) == version else f".venv-{version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stage_python", description=__doc__)
    parser.add_argument("stage")
    parser.add_argument("--python", help="the interpreter the operator named (make deploy PYTHON=...)")
    args = parser.parse_args(argv)
    try:
        python = find(args.stage, args.python)
    except NoStagePython as refusal:
        print(f"make deploy: {refusal}", file=sys.stderr)
        return 2
    version = stage_python_version(read_config(), args.stage)
    assert version is not None
    print(python)
    print(virtualenv(version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
