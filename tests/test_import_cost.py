"""What the route's cold start leaves for later (chalicelib/import_cost.py) still works when it is needed:
each check runs in a fresh process, as a cold start does."""

import subprocess
import sys
from pathlib import Path

from chalicelib.import_cost import save_parser, saved_parser
from tests.conftest import PROJECT_DIR


def fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_route_leaves_email_validator_and_regex_unloaded_until_used() -> None:
    found = fresh(
        "import sys, chalicelib.scim.adapter\n"
        "print(type(sys.modules['email_validator']).__name__, type(sys.modules['regex']).__name__)\n"
        "from scim2_models import Email\n"
        "print(Email(value='bjensen@EXAMPLE.com').value)\n"
        "from chalicelib.provisioning.passwords import _perceived_length\n"
        "print(_perceived_length('e\\u0301te\\u0301'), type(sys.modules['regex']).__name__)\n"
    )
    assert found.splitlines() == ["_OnFirstUse _OnFirstUse", "bjensen@example.com", "3 module"]


def test_an_invalid_email_is_still_refused_by_scim2_models() -> None:
    found = fresh(
        "import chalicelib.scim.adapter\n"
        "from pydantic import ValidationError\n"
        "from scim2_models import Email\n"
        "try:\n    Email(value='not an address')\nexcept ValidationError:\n    print('refused')\n"
    )
    assert found == "refused"


def test_the_saved_parser_is_loaded_not_built(tmp_path: Path) -> None:
    saved = save_parser(tmp_path)
    assert saved == saved_parser(tmp_path)

    found = fresh(
        "from pathlib import Path\n"
        "import lark\n"
        "def refuse(self, *args, **kwargs):\n    raise AssertionError('built')\n"
        "lark.Lark._build_parser = refuse\n"
        "from chalicelib import import_cost, model_docs\n"
        "model_docs.defer()\n"
        f"import_cost.defer(Path({str(saved)!r}))\n"
        "from scim2_models import SearchRequest\n"
        "print(SearchRequest(filter='userName eq \"bjensen\"').filter)\n"
    )
    assert found == 'userName eq "bjensen"'


def test_a_saved_parser_of_another_grammar_is_rebuilt(tmp_path: Path) -> None:
    saved = saved_parser(tmp_path)
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"0" * 64 + b"\n")

    found = fresh(
        "from pathlib import Path\n"
        "from chalicelib import import_cost, model_docs\n"
        "model_docs.defer()\n"
        f"import_cost.defer(Path({str(saved)!r}))\n"
        "from scim2_models import SearchRequest\n"
        'print(SearchRequest(filter=\'emails[type eq "work"].value eq "x"\').filter)\n'
    )
    assert found == 'emails[type eq "work"].value eq "x"'


def test_cursors_are_built_on_the_first_page_that_seals_one_not_with_the_service() -> None:
    found = fresh(
        "import sys, chalicelib.scim.adapter\n"
        "from chalicelib.provisioning.service import ProvisioningService\n"
        "cursors = ProvisioningService._build_cursors(lambda: 's' * 32)\n"
        "print('cryptography' in sys.modules)\n"
        "sealed = cursors.seal('query', 10, 20)\n"
        "print('cryptography' in sys.modules, cursors.open(sealed, 'query', 10, 60))\n"
        "try:\n    cursors.open(sealed, 'another query', 10, 60)\nexcept Exception as refused:\n"
        "    print(type(refused).__name__)\n"
    )
    assert found.splitlines() == ["False", "True 20", "InvalidCursorException"]


def test_the_collector_runs_after_a_cold_start_s_imports_with_what_they_built_frozen() -> None:
    found = fresh(
        "import gc, app\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10_000)\n"
        "from chalicelib.import_cost import collection_paused\n"
        "with collection_paused('chalicelib.scim.adapter'):\n"
        "    print(gc.isenabled())\n"
        "    import chalicelib.scim.adapter\n"
        "print(gc.isenabled())\n"
        "with collection_paused('chalicelib.scim.adapter'):\n"
        "    print(gc.isenabled())\n"
    )
    assert found.splitlines() == ["True True", "False", "True", "True"]
