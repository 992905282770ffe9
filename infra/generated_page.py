"""A page of docs/ generated from the code (``make docs``): written when it changed, or checked (``--check``)."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main(page: Path, make: Callable[[], str], description: str, argv: list[str] | None = None) -> int:
    """``python -m <module> [--check]``: writes ``page`` from ``make()``; with ``--check``, 1 when it is stale."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the committed page is stale")
    args = parser.parse_args(argv)
    text = make()
    if page.exists() and page.read_text() == text:
        return 0
    name = page.relative_to(PROJECT_DIR)
    if args.check:
        print(f"{name}: stale: run `make docs` and commit it", file=sys.stderr)
        return 1
    page.write_text(text)
    print(f"{name}: written", file=sys.stderr)
    return 0
