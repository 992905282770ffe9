"""The documentation stays true: links lead somewhere, generated pages match their sources, cited code exists."""

import ast
import dataclasses
import importlib.util
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import botocore.session
import pytest

from bench import docs as performance_figures
from chalicelib.config import Settings
from infra import settings_doc
from tests.conftest import PROJECT_DIR

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")
# A module or folder of our own code in backticks must exist (placeholders such as <idp> aside; files a
# command writes, such as bench/results-quick.json, need not).
OWN_CODE = re.compile(r"^(app\.py|(chalicelib|tests|bench|infra|admin|devserver)/([\w/.-]*\.py|[\w/-]*/)?)$")
# A dotted name (ScimApi.serve) or a class name (DynamoScimStorage) in backticks: defined somewhere.
QUALIFIED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
CLASS_NAME = re.compile(r"^_?[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+$")
# Libraries whose names the architecture page cites beside ours.
CITED_LIBRARIES = ("chalice", "scim2_server", "scim2_models")


def _pages() -> list[Path]:
    return [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").rglob("*.md"))]


def _prose(text: str) -> Iterator[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: formatting dropped, lowercase, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(path.read_text()):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def _links(path: Path) -> Iterator[str]:
    for line in _prose(path.read_text()):
        yield from LINK.findall(CODE_SPAN.sub("", line))


def test_the_front_door_stays_small_and_links_to_what_a_newcomer_looks_for_first() -> None:
    readme = PROJECT_DIR / "README.md"
    assert len(readme.read_bytes()) < 8 * 1024
    links = set(_links(readme))
    for page in (
        "docs/idp/okta.md",
        "docs/idp/entra.md",
        "docs/operations/deploy.md",
        "docs/operations/runbook.md",
        "docs/design/architecture.md",
        "docs/reference/settings.md",
        "docs/reference/limits.md",
    ):
        assert page in links, page


@pytest.mark.parametrize("page", _pages(), ids=lambda page: str(page.relative_to(PROJECT_DIR)))
def test_every_relative_link_leads_to_a_file_and_heading_of_the_repository(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:: not ours to check offline
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists() or PROJECT_DIR.resolve() not in [destination, *destination.parents]:
            broken.append(f"{target}: no such file")
        elif anchor and (destination.suffix != ".md" or anchor not in anchors(destination)):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, broken


@pytest.mark.parametrize("page", _pages(), ids=lambda page: str(page.relative_to(PROJECT_DIR)))
def test_every_path_of_our_code_a_page_names_exists(page: Path) -> None:
    missing = []
    for line in _prose(page.read_text()):
        for span in CODE_SPAN.findall(line):
            name = span.strip("`")
            if OWN_CODE.match(name) and not any(c in name for c in "<*") and not (PROJECT_DIR / name).exists():
                missing.append(name)
    assert not missing, missing


def _defined_names(root: Path) -> set[str]:
    names = set()
    for path in root.rglob("*.py"):
        names.add(path.stem)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
    return names


def test_every_function_and_class_the_architecture_page_names_is_defined() -> None:
    """The data flow names real functions: a rename that leaves the page behind fails here."""
    defined = set()
    for directory in ("app.py", "chalicelib"):
        path = PROJECT_DIR / directory
        defined |= _defined_names(path) if path.is_dir() else _defined_names_of_file(path)
    # DynamoDB's own operations (GetItem, TransactWriteItems), as botocore's model names them.
    defined |= set(botocore.session.get_session().get_service_model("dynamodb").operation_names)
    for library in CITED_LIBRARIES:
        spec = importlib.util.find_spec(library)
        assert spec is not None and spec.origin is not None
        defined |= _defined_names(Path(spec.origin).parent)
    unknown = []
    for line in _prose((PROJECT_DIR / "docs" / "design" / "architecture.md").read_text()):
        for span in CODE_SPAN.findall(line):
            name = span.strip("`")
            if QUALIFIED.match(name) and not re.search(r"\.(py|md|json)$", name):
                unknown += [part for part in name.split(".") if part not in defined]
            elif CLASS_NAME.match(name) and name not in defined:
                unknown.append(name)
    assert not unknown, unknown


def _defined_names_of_file(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {path.stem} | {
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_no_file_of_the_repository_cites_a_note_outside_it() -> None:
    """Code, tests and docs once cited design notes that lived outside the repository."""
    notes = ["DESIGN" + ".md", "IDP-NOTES" + ".md", "../" + "shared"]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    citing = []
    for name in tracked:
        path = PROJECT_DIR / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for note in notes:
            if note in text and not (note.endswith(".md") and any(PROJECT_DIR.rglob(note))):
                citing.append(f"{name}: {note}")
    assert not citing, citing


def test_the_settings_page_is_generated_from_config_py_as_it_is_now() -> None:
    page = settings_doc.PAGE.read_text()
    assert page == settings_doc.page(), "docs/reference/settings.md is stale: run `make docs` and commit it"


def test_every_setting_has_its_row_with_an_environment_variable_and_a_meaning() -> None:
    source = Path(settings_doc.config.__file__).read_text()
    rows = {setting.field: setting for setting in settings_doc.settings_in(source)}
    for field in dataclasses.fields(Settings):
        # region is read into a local first, which the table lists in parentheses.
        field_name = "(region)" if field.name == "region" else field.name
        assert field_name in rows, field.name
        assert rows[field_name].variables, field.name
        assert rows[field_name].meaning, f"{field.name}: write its meaning in a comment above it in config.py"


def test_the_performance_figures_are_rendered_from_the_committed_json() -> None:
    page = performance_figures.PAGE.read_text()
    assert page == performance_figures.page(), "docs/reference/performance-figures.md is stale: run `make docs`"
