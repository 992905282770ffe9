"""What many test modules share: the SCIM URNs, the PatchOp body, and `make run`'s server started for a module.

The schema URNs come from `chalicelib/schemas.py`, where the product names them; the message URNs of
:rfc:`RFC 7644 §3.1` come to the product from scim2-models, so the tests spell them once here.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from chalicelib.gateway_responses import SCIM_ERROR_SCHEMA as ERROR
from chalicelib.schemas import CORE_GROUP_SCHEMA as CORE_GROUP
from chalicelib.schemas import CORE_USER_SCHEMA as CORE_USER
from chalicelib.schemas import CUSTOM_USER_SCHEMA as CUSTOM_USER
from chalicelib.schemas import ENTERPRISE_USER_SCHEMA as ENTERPRISE_USER
from chalicelib.schemas import ONEMODEL_USER_SCHEMA as ONEMODEL_USER
from devserver.ports import free_port
from tests.conftest import PROJECT_DIR

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

__all__ = [
    "BULK_REQUEST",
    "CORE_GROUP",
    "CORE_USER",
    "CUSTOM_USER",
    "ENTERPRISE_USER",
    "ERROR",
    "LIST_RESPONSE",
    "ONEMODEL_USER",
    "PATCH_OP",
    "SEARCH_REQUEST",
    "free_port",
    "patch_body",
    "running_devserver",
]


def patch_body(*operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A PatchOp request (:rfc:`RFC 7644 §3.5.2`); ``extra`` adds members an IdP sends beside the operations."""
    return {"schemas": [PATCH_OP], **extra, "Operations": list(operations)}


# `make run` prints these, one KEY=VALUE a line, once it listens.
PRINTED_LINES = 5


def _printed_lines(process: subprocess.Popen[str], log: Path, timeout: float) -> dict[str, str]:
    """The lines `make run` prints once it listens, read without hanging if it never does."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def forward(stdout: IO[str]) -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=forward, args=(process.stdout,), daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + timeout
    while len(printed) < PRINTED_LINES:
        try:
            printed.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).strip())
        except queue.Empty:
            break
    if len(printed) < PRINTED_LINES:
        process.kill()
        pytest.fail(f"`python -m devserver` did not start; its stderr ends with:\n{log.read_text()[-3000:]}")
    return dict(line.split("=", 1) for line in printed)


@contextmanager
def running_devserver(store_file: Path, log: Path, *arguments: str, timeout: float = 60) -> Iterator[dict[str, str]]:
    """`make run` on a free port with its own store file (a developer's own one is left alone), stopped with Ctrl-C.

    Yields the printed SCIM_* variables, the server's ``pid`` and its ``SCIM_LOCAL_STORE_FILE`` (with which
    `python -m admin` reaches this server's store). The server logs every request to ``log``: a file, not a
    pipe, which would stall the server once full.
    """
    env = {key: value for key, value in os.environ.items() if key != "TABLE_PREFIX"}
    env["SCIM_LOCAL_STORE_FILE"] = str(store_file)
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "devserver", "--port", str(free_port()), *arguments],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        variables = _printed_lines(process, log, timeout)
        yield variables | {"pid": str(process.pid), "SCIM_LOCAL_STORE_FILE": str(store_file)}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
