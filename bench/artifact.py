"""The Lambda deployment package as ``chalice deploy`` builds it, unpacked as Lambda runs it.

Lambda unzips the package into ``/var/task``, read-only, and imports the handler from there:
whatever bytecode the package does not ship is compiled on every cold start, and never kept.
A probe here runs from the unpacked package alone (``python -S``: no site-packages; the tree
on ``PYTHONPATH`` and as the working directory; ``PYTHONDONTWRITEBYTECODE``, since the tree is
read-only to Lambda but not to a root user here).
"""

import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.world import PROJECT_DIR
from infra.bytecode import chalice_package

STAGE = "dev"
"""The stage packaged: what ships to AWS."""


@dataclass(frozen=True)
class Artifact:
    root: Path
    files: int
    compiled: int
    """``.pyc`` files among them."""
    zip_bytes: int

    def without_bytecode(self) -> "Artifact":
        """The same package with every ``__pycache__`` left out: what a deploy without ``make bytecode`` ships."""
        root = self.root.with_name(self.root.name + "-source-only")
        if not root.exists():
            shutil.copytree(self.root, root, ignore=shutil.ignore_patterns("__pycache__"))
            _read_only(root)
        return Artifact(root, self.files - self.compiled, 0, 0)


def _read_only(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@contextmanager
def unpacked(stage: str = STAGE) -> Iterator[Artifact]:
    """The package of ``stage``, built and unzipped into a read-only temporary tree."""
    workdir = Path(tempfile.mkdtemp(prefix="scim-artifact-"))
    try:
        deployment = chalice_package(PROJECT_DIR, workdir / "package", stage)
        root = workdir / "task"
        with zipfile.ZipFile(deployment) as archive:
            names = [name for name in archive.namelist() if not name.endswith("/")]
            archive.extractall(root)
        _read_only(root)
        yield Artifact(root, len(names), sum(name.endswith(".pyc") for name in names), deployment.stat().st_size)
    finally:
        for path in [workdir, *workdir.rglob("*")]:  # read-only for Lambda's sake: writable again to delete
            if path.is_dir():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(workdir, ignore_errors=True)


def probe_command(artifact: Artifact, kind: str, environment: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a cold probe run from the artifact alone."""
    source = (PROJECT_DIR / "bench" / "cold_probe.py").read_text()
    probe_environment = {
        key: value for key, value in environment.items() if key not in {"PYTHONPATH", "PYTHONPYCACHEPREFIX"}
    }
    probe_environment.update({"PYTHONPATH": str(artifact.root), "PYTHONDONTWRITEBYTECODE": "1"})
    return [sys.executable, "-S", "-c", source, kind], probe_environment
