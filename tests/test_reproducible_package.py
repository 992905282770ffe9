"""The same commit builds the same Lambda package: the same files, byte for byte, and exactly the locked dependencies.

``make test-deploy`` runs this module (``chalice package`` downloads the Lambda wheels from PyPI): two
operators' fresh copies of the repository, each with its own Chalice cache, package the dev stage;
the two ``deployment.zip`` hold the same names with the same bytes, and the distributions in them
are the ones ``requirements.txt`` pins for the Lambda's platform, no more, no fewer.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment

from chalicelib.stage_runtime import read_config, stage_python_version
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIM_DEPLOY_TEST") != "1", reason="run by `make test-deploy`: packaging downloads from PyPI"
)
STAGE = "dev"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _copy(destination: Path) -> Path:
    """The repository as a fresh clone has it: every file git tracks (or would), nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in listed:
        source = PROJECT_DIR / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _package(project: Path, output: Path) -> Path:
    chalice = Path(sys.executable).with_name("chalice")
    environment = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(chalice), "package", "--stage", STAGE, str(output)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return output / "deployment.zip"


def _contents(package: Path) -> dict[str, str]:
    with zipfile.ZipFile(package) as archive:
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}


def _distributions(package: Path) -> dict[str, str]:
    """Each distribution the package holds, by canonical name: its version, from its METADATA."""
    found = {}
    with zipfile.ZipFile(package) as archive:
        for name in archive.namelist():
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
                metadata = HeaderParser().parsestr(archive.read(name).decode())
                found[_canonical(metadata["Name"])] = metadata["Version"]
    return found


def _locked_for_lambda() -> dict[str, str]:
    """What requirements.txt pins for this interpreter on Linux x86_64 (the Lambda's platform)."""
    environment = {**default_environment(), "sys_platform": "linux", "platform_system": "Linux"}
    locked = {}
    for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines():
        pin = PIN.match(line)
        if pin and (pin["marker"] is None or Marker(pin["marker"]).evaluate(environment)):
            locked[_canonical(pin["name"])] = pin["version"]
    return locked


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = stage_python_version(read_config(PROJECT_DIR), STAGE)
    assert running == wanted, f"stage {STAGE} packages on Python {wanted}: run `make test-deploy`"
    work = tmp_path_factory.mktemp("reproducible")
    first = _package(_copy(work / "first"), work / "first-out")
    second = _package(_copy(work / "second"), work / "second-out")
    return first, second


def test_two_packagings_of_the_same_commit_hold_the_same_files_byte_for_byte(packages: tuple[Path, Path]) -> None:
    first, second = (_contents(package) for package in packages)
    assert sorted(set(first) ^ set(second)) == []
    assert sorted(name for name in first if first[name] != second[name]) == []


def test_the_package_holds_exactly_the_locked_dependencies(packages: tuple[Path, Path]) -> None:
    assert _distributions(packages[0]) == _locked_for_lambda()


def test_the_two_zips_are_identical_so_lambda_sees_the_same_code(packages: tuple[Path, Path]) -> None:
    # Chalice writes every entry in sorted order with a fixed 1980 timestamp: the archive itself is reproducible,
    # so Lambda's CodeSha256 of a redeploy of the same commit does not change.
    first, second = (hashlib.sha256(package.read_bytes()).hexdigest() for package in packages)
    assert first == second
