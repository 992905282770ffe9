"""``docs/reference/settings.md``, generated from ``chalicelib/config.py``: ``python -m infra.settings_doc`` writes it.

Every setting is read in :func:`chalicelib.config.settings`, one keyword of ``Settings(...)`` each,
with its meaning in the comment above it (a run of keywords with no comment between them shares the
comment above the first). This module reads that source, not the values in force, so the page
shows the defaults whatever the environment; ``tests/test_docs.py`` fails when the committed page
is stale. It lives outside ``chalicelib`` so that the Lambda package does not carry it.
"""

import ast
import importlib
import inspect
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from chalicelib import config
from infra import generated_page

PROJECT_DIR = Path(__file__).resolve().parent.parent
PAGE = PROJECT_DIR / "docs" / "reference" / "settings.md"
STAGES = PROJECT_DIR / ".chalice" / "config.json"


@dataclass(frozen=True)
class Setting:
    field: str
    variables: list[str]
    default: str
    meaning: str


@dataclass(frozen=True)
class _Read:
    variables: list[str]
    default: str


def _is_environ_get(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) == "os.environ.get"


def _environ_names(tree: ast.AST) -> list[str]:
    """The variables every ``os.environ.get("NAME")`` under ``tree`` reads, in order."""
    found = []
    for node in ast.walk(tree):
        if _is_environ_get(node):
            assert isinstance(node, ast.Call)
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value not in found:
                found.append(name.value)
    return found


class _Reader:
    """What one expression of ``settings()`` reads from the environment, and its default in words."""

    def __init__(self, module: ast.Module) -> None:
        self.module = module
        self.locals: dict[str, _Read] = {}

    def render(self, node: ast.expr) -> str:
        """The default in Markdown: a value in backticks, a local as ``<ITS_VARIABLE>``."""
        if isinstance(node, ast.Constant):
            return "unset" if node.value is None else f"`{node.value!s}`"
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                str(part.value) if isinstance(part, ast.Constant) else self.render(part.value).strip("`")
                for part in node.values
                if isinstance(part, ast.Constant | ast.FormattedValue)
            )
            return f"`{text}`"
        if isinstance(node, ast.Name) and node.id in self.locals:
            return "`<" + self.locals[node.id].variables[0] + ">`"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "removeprefix":
            return f"{self.render(node.func.value)} without {self.render(node.args[0])}"
        return f"`{ast.unparse(node)}`"

    def read(self, node: ast.expr) -> _Read:
        if isinstance(node, ast.Call) and (_is_environ_get(node) or ast.unparse(node.func) == "_int"):
            name = node.args[0]
            assert isinstance(name, ast.Constant), ast.unparse(node)
            default = self.render(node.args[1]) if len(node.args) > 1 else "unset"
            return _Read([str(name.value)], default)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            reads = [self.read(value) for value in node.values]
            variables = [name for read in reads for name in read.variables]
            return _Read(variables, reads[-1].default)
        if isinstance(node, ast.Name) and node.id in self.locals:
            return self.locals[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = self._imported(node.func.value.id) if isinstance(node.func.value, ast.Name) else None
            if owner is not None:
                # A reader of its own (SecretSource.from_environment): the variables it reads.
                function = getattr(owner, node.func.attr)
                return _Read(_environ_names(ast.parse(textwrap.dedent(inspect.getsource(function)))), "unset")
        variables = [name for local, read in self.locals.items() if _names(node, local) for name in read.variables]
        return _Read([*variables, *_environ_names(node)], self.render(node))

    def _imported(self, name: str) -> object | None:
        for statement in self.module.body:
            if isinstance(statement, ast.ImportFrom) and statement.module:
                for alias in statement.names:
                    if (alias.asname or alias.name) == name:
                        return getattr(importlib.import_module(statement.module), alias.name)  # type: ignore[no-any-return]
        return None


def _names(node: ast.AST, name: str) -> bool:
    return any(isinstance(child, ast.Name) and child.id == name for child in ast.walk(node))


def _comment_above(lines: list[str], line_number: int) -> str | None:
    """The ``#`` lines right above line ``line_number`` (1-based), joined; None when there are none."""
    comment: list[str] = []
    index = line_number - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        comment.insert(0, lines[index].strip().removeprefix("#").strip())
        index -= 1
    return " ".join(comment) or None


def settings_in(source: str) -> list[Setting]:
    """Every setting ``settings()`` in ``source`` reads, in its order."""
    module = ast.parse(source)
    lines = source.splitlines()
    function = next(
        node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == config.settings.__name__
    )
    reader = _Reader(module)
    found: list[Setting] = []
    for statement in function.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            local = statement.targets[0].id
            reader.locals[local] = reader.read(statement.value)
            found.append(
                Setting(f"({local})", *_fields(reader.locals[local]), _comment_above(lines, statement.lineno) or "")
            )
        elif isinstance(statement, ast.Return) and isinstance(statement.value, ast.Call):
            meaning = ""
            for keyword in statement.value.keywords:
                assert keyword.arg is not None
                meaning = _comment_above(lines, keyword.value.lineno) or meaning
                read = reader.read(keyword.value)
                if isinstance(keyword.value, ast.Name):
                    continue  # a local already listed (region)
                found.append(Setting(keyword.arg, *_fields(read), meaning))
    return found


def _fields(read: _Read) -> tuple[list[str], str]:
    return read.variables, read.default


def _cell(text: str) -> str:
    """A comment as a table cell: ``<placeholders>`` in backticks (Markdown would take them for HTML)."""
    return re.sub(r"(<[\w-]+>[^\s,;)]*)", r"`\1`", text).replace("|", "\\|")


def render(settings: list[Setting], stages: dict[str, dict[str, str]]) -> str:
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m infra.settings_doc` (`make docs`) from chalicelib/config.py and",
        "     .chalice/config.json: edit those, not this page. tests/test_docs.py fails when it is stale. -->",
        "",
        "Every setting of the service is an environment variable, read in one place,",
        "`chalicelib/config.py` (`settings()`). The stages of `.chalice/config.json` set them per stage",
        "(`environment_variables`); what a stage does not set takes the default. A change reaches a",
        "deployed stage with its next release (`make deploy STAGE=<stage>`).",
        "",
        "| environment variable | default | `Settings` field | meaning |",
        "|---|---|---|---|",
    ]
    for setting in settings:
        variables = ", ".join(f"`{name}`" for name in setting.variables)
        field = setting.field if setting.field.startswith("(") else f"`{setting.field}`"
        lines.append(f"| {variables} | {setting.default} | {field} | {_cell(setting.meaning)} |")
    names = sorted({name for variables in stages.values() for name in variables})
    lines += [
        "",
        "A field in parentheses is not a `Settings` field but a name the others are built from.",
        "",
        "## What each stage sets",
        "",
        "| environment variable | " + " | ".join(f"`{stage}`" for stage in stages) + " |",
        "|---|" + "---|" * len(stages),
    ]
    for name in names:
        values = [f"`{stages[stage][name]}`" if name in stages[stage] else "" for stage in stages]
        lines.append(f"| `{name}` | " + " | ".join(values) + " |")
    lines += [
        "",
        "`dev` and `prod` are the deployed stages; `local` is `chalice local` outside `make run` and `test`",
        "is Chalice's test client. `make run` and the tests set what they need themselves (the embedded",
        "DynamoDB's endpoint, `SCIM_DEV_SECRETS`). The Lambda memory sizes and timeouts are not settings of",
        "the code but of each stage in `.chalice/config.json`: see",
        "[Deploying to AWS](../operations/deploy.md#tables-indexes-and-lambda-settings).",
    ]
    return "\n".join(lines) + "\n"


def stage_variables() -> dict[str, dict[str, str]]:
    stages = json.loads(STAGES.read_text())["stages"]
    return {name: dict(stage.get("environment_variables", {})) for name, stage in stages.items()}


def page() -> str:
    """The page as the code and the stages make it now."""
    return render(settings_in(inspect.getsource(config)), stage_variables())


def main(argv: list[str] | None = None) -> int:
    return generated_page.main(PAGE, page, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
