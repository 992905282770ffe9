"""What an IdP sends reaches an operator's terminal escaped, through every text output of the admin CLI (issue #27).

`admin activity` and `admin status` printed userNames, unknown attribute names and a refused request's path id
raw: ESC retitled the terminal, CR and LF forged or hid trail lines, U+202E reversed what followed.
"""

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from admin.terminal import printable
from tests.conftest import PROJECT_DIR, Scim, Tenant, user_body
from tests.test_admin_cli import run

HOSTILE = "ada\x1b]0;owned\x07\r\n2026-01-01 00:00:00Z  create  User fake  201\x9b\x7f\u202etxt.exe\u2066"
RAW = ("\x1b", "\r", "\n", "\x07", "\x9b", "\x7f", "\u202e", "\u2066")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("a\rb\nc\td", "a\\x0db\\x0ac\\x09d"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("abc\u202edef\u2066\u2069\u202a", "abc\\u202edef\\u2066\\u2069\\u202a"),
        ("\u2028\ud800", "\\u2028\\ud800"),
        ("Zoë 日本 émoji 🎉 ﬁ", "Zoë 日本 émoji 🎉 ﬁ"),
    ],
    ids=["esc", "cr-lf-tab", "nul-del-c1", "bidi", "separators-surrogate", "printable-kept"],
)
def test_printable_shows_every_control_and_bidi_character_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_activity_and_status_show_an_idp_s_text_escaped(
    scim: Scim, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    scim.post("/Users", user_body(HOSTILE))  # refused (a control character): its entry keeps the name
    scim.post("/Users", user_body("bob@example.com", **{HOSTILE: "x"}))  # an attribute no schema defines
    scim.get("/Users/" + "%1B%5D0%3Bowned%07%E2%80%AE")  # a read: no entry
    scim.patch("/Users/%1B%5D0%3Bowned%07%E2%80%AE", {"schemas": [], "Operations": []})
    capsys.readouterr()

    outputs = [
        run(capsys, "activity", tenant.name)[1],
        run(capsys, "activity", tenant.name, "--errors")[1],
        run(capsys, "activity", tenant.name, "--ignored")[1],
        run(capsys, "status", tenant.name)[1],
    ]
    json_outputs = [run(capsys, "activity", tenant.name, "--json")[1], run(capsys, "status", tenant.name, "--json")[1]]

    for output in outputs + json_outputs:
        assert not any(raw in output.replace("\n", "") for raw in RAW), output
        assert all(line == "" or not line.startswith("2026-01-01") for line in output.split("\n"))
    assert "\\x1b]0;owned\\x07\\x0d\\x0a" in outputs[0] and "\\u202e" in outputs[0]
    assert HOSTILE in _strings(json.loads(json_outputs[0]))  # the JSON still says exactly what was sent


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_no_admin_module_writes_to_the_terminal_but_through_printable() -> None:
    writers = []
    for module in sorted((PROJECT_DIR / "admin").glob("*.py")):
        if module.name == "terminal.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            called = node.func if isinstance(node, ast.Call) else None
            name = getattr(called, "id", None) or getattr(called, "attr", None)
            if name in ("print", "write", "writelines", "pprint"):
                writers.append(f"{Path(module).name}:{node.lineno} {name}")
    # backup.py writes files, not the terminal: its file writes are the one exception, by name.
    assert [w for w in writers if not w.startswith("backup.py")] == []
