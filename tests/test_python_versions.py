"""One supported Python range, declared once and kept everywhere: pyproject, the Makefile, the tools, the stages."""

import json
import re
import sys
import tomllib

from packaging.specifiers import SpecifierSet

from tests.conftest import PROJECT_DIR

PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
REQUIRES_PYTHON = SpecifierSet(PYPROJECT["project"]["requires-python"])
# Every minor release Lambda has offered or is likely to offer while this range stands.
CANDIDATES = [f"3.{minor}" for minor in range(8, 16)]
SUPPORTED = [version for version in CANDIDATES if f"{version}.0" in REQUIRES_PYTHON]


def _makefile_supported() -> list[str]:
    match = re.search(r"^SUPPORTED_PYTHON := (.+)$", (PROJECT_DIR / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile: no SUPPORTED_PYTHON"
    return match.group(1).split()


def test_the_range_is_3_11_to_3_13_and_the_makefile_accepts_exactly_it() -> None:
    assert SUPPORTED == ["3.11", "3.12", "3.13"]
    assert _makefile_supported() == SUPPORTED


def test_ruff_and_mypy_check_against_the_lowest_supported_python() -> None:
    lowest = SUPPORTED[0]
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + lowest.replace(".", "")
    assert PYPROJECT["tool"]["mypy"]["python_version"] == lowest


def test_each_deployed_stage_runs_on_a_supported_python() -> None:
    stages = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]
    deployed = {name: stage for name, stage in stages.items() if "iam_policy_file" in stage}
    assert deployed
    assert {name: stage.get("python_version") in SUPPORTED for name, stage in deployed.items()} == dict.fromkeys(
        deployed, True
    )


def test_these_tests_run_on_a_supported_python() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED
