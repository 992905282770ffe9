"""/Schemas is the same whether attribute docstrings are read at import or deferred to it (chalicelib/model_docs.py).

Each way runs in a fresh process, since a model class reads its docstrings (or not) once, when it is created.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import CORE_USER

PROJECT = Path(__file__).resolve().parent.parent
# The /Schemas body as the route serves it; ``defer`` says whether model classes skip their docstrings at import.
PROBE = """
import json, sys
if sys.argv[1] == "eager":
    from pydantic._internal import _fields
    _fields._deferring_docstrings = True  # what defer() checks: it then leaves pydantic as it is
import chalicelib.scim
from pydantic._internal import _fields
from chalicelib.config import settings
from chalicelib.scim.provider import build_provider
deferred = _fields._update_fields_from_docstrings.__name__ == "remember"
schemas = [schema.model_dump(mode="json", exclude_none=True) for schema in build_provider(settings()).schemas]
print(json.dumps({"deferred": deferred, "schemas": schemas}))
"""


def _schemas(mode: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_schemas_are_the_same_with_docstrings_read_at_import_or_when_first_published() -> None:
    eager, deferred = _schemas("eager"), _schemas("defer")

    assert (eager["deferred"], deferred["deferred"]) == (False, True)
    assert deferred["schemas"] == eager["schemas"]
    descriptions = [
        attribute.get("description")
        for schema in deferred["schemas"]
        for attribute in schema["attributes"]
        if schema["id"] == CORE_USER
    ]
    # The RFC's words for the admin who maps attributes, read from the models' docstrings.
    assert all(descriptions) and any("unique identifier" in text.lower() for text in descriptions)
