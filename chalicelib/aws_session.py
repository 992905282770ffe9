"""The one boto3 session a Lambda container builds its AWS clients from, knowing only the services it calls.

After the imports, building a client is most of a cold start's first request (about 55 ms of the
authorizer's here), and botocore spends most of that on two things this session avoids:

- Before it loads a service's model, botocore lists every service it knows to check the name:
  about 400 directories, each listed and its files stat'ed. This session's loader lists only
  ``SERVICES`` (an unknown name is still refused, by botocore, as before).
- Each client parses its service's API model, documentation included (:func:`write_service_models`
  writes them without it, read the same way as the cut endpoint data).
- Each session registers botocore's 127 built-in event handlers, 90 of which are for services the
  Lambdas never call (S3's alone are 37), each registration resolving event-name aliases: 7.4 ms
  of the session's 7.6. This session registers those that can fire for ``SERVICES`` (those for
  every service, and those naming one of them): 2 ms.
- Each session parses ``endpoints.json``: 1.25 MB of legacy endpoint data for every AWS service.
  ``make bytecode`` writes the same file cut to ``SERVICES`` into the package
  (:func:`write_endpoints`, ``botocore_data/<botocore version>/``), and this loader reads that one
  when it was cut from the botocore that runs; otherwise (``make run``, the tests, a deploy
  without ``make bytecode``, a botocore upgraded since) botocore's own, as before. The cut file is
  botocore's data for these services, unchanged, so botocore is told it is its own (which keeps
  endpoint resolution on the rules it uses with its own data).

DynamoDB and Secrets Manager clients share the session, so a cold start that builds both (the
authorizer reading the credential hash key) parses that data once, not once per client; the stream
functions build their EventBridge and SQS clients from it too.
"""

import gzip
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.handlers
import botocore.hooks
import botocore.loaders
import botocore.session

SERVICES = ("dynamodb", "events", "secretsmanager", "sqs")
"""Every AWS service the Lambdas call."""
EVENT_SERVICES = frozenset({"dynamodb", "eventbridge", "secrets-manager", "sqs"})
"""How botocore's events name ``SERVICES`` (each one's service id, hyphenized)."""
ENDPOINTS_DIR = "botocore_data"
"""Where the cut ``endpoints.json`` lives in the package, per botocore version."""
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""``/var/task`` on Lambda: the package root, where ``vendor/``'s contents land."""


class KnownServicesLoader(botocore.loaders.Loader):  # type: ignore[misc]  # botocore ships no types
    """botocore's data loader, listing only ``SERVICES`` and preferring a cut ``endpoints.json`` when given one."""

    def __init__(self, endpoints_dir: Path | None = None, data_path: str | None = None) -> None:
        # A data path the environment names (AWS_DATA_PATH) comes first, as botocore puts it.
        extra = [path for path in (data_path or "").split(os.pathsep) if path]
        extra += [str(endpoints_dir)] if endpoints_dir is not None else []
        super().__init__(extra_search_paths=extra)
        self._cut_data = str(endpoints_dir) if endpoints_dir is not None else None

    def list_available_services(self, type_name: str) -> list[str]:
        known = []
        for service in SERVICES:
            try:
                self.list_api_versions(service, type_name)
            except botocore.exceptions.DataNotFoundError:
                continue
            known.append(service)
        return known

    def is_builtin_path(self, path: str) -> bool:
        cut = self._cut_data is not None and Path(path).parent == Path(self._cut_data)
        return cut or bool(super().is_builtin_path(path))


def cut_endpoints_dir(root: Path = PACKAGE_ROOT) -> Path | None:
    """The cut ``endpoints.json``'s directory for the botocore that runs, if the package holds one."""
    found = root / ENDPOINTS_DIR / botocore.__version__
    return found if (found / "endpoints.json").is_file() else None


def fires_for_our_services(event_name: str) -> bool:
    """Whether a built-in handler registered for ``event_name`` can fire for a client of ``SERVICES``: its event
    names no service (``before-call``), any (``needs-retry.*``), or one of them (``before-call.sqs``)."""
    parts = event_name.split(".")
    if len(parts) < 2 or parts[1] == "*":
        return True
    return botocore.hooks.EVENT_ALIASES.get(parts[1], parts[1]) in EVENT_SERVICES


class KnownServicesSession(botocore.session.Session):  # type: ignore[misc]  # botocore ships no types
    """botocore's session, registering only the built-in handlers that can fire for ``SERVICES``, in botocore's order
    and at its moment (before the session's initializers, which may register handlers of their own)."""

    def _register_builtin_handlers(self, events: Any) -> None:
        for event_name, handler, *where in botocore.handlers.BUILTIN_HANDLERS:
            if not fires_for_our_services(event_name):
                continue
            if not where:
                events.register(event_name, handler)
            elif where[0] is botocore.handlers.REGISTER_FIRST:
                events.register_first(event_name, handler)
            elif where[0] is botocore.handlers.REGISTER_LAST:
                events.register_last(event_name, handler)


@cache
def session() -> boto3.session.Session:
    """The container's session (moto replaces boto3's default one when a mock starts: this one is ours)."""
    core = KnownServicesSession()
    loader = KnownServicesLoader(cut_endpoints_dir(), core.get_config_variable("data_path"))
    core.register_component("data_loader", loader)
    return boto3.session.Session(botocore_session=core)


def reset() -> None:
    """Forget the session (tests: a new moto mock, or another package root)."""
    session.cache_clear()


def cut_endpoints(endpoints: dict[str, Any]) -> dict[str, Any]:
    """botocore's endpoint data with every partition's services cut to ``SERVICES``; the rest unchanged."""
    cut = dict(endpoints)
    cut["partitions"] = [
        {**partition, "services": {name: entry for name, entry in partition["services"].items() if name in SERVICES}}
        for partition in endpoints["partitions"]
    ]
    return cut


def write_endpoints(botocore_dir: Path, target_root: Path) -> Path:
    """Write the cut ``endpoints.json`` of the botocore package at ``botocore_dir`` under ``target_root``.

    :return: The file written: ``<target_root>/botocore_data/<that botocore's version>/endpoints.json``.
    """
    version = _version_of(botocore_dir)
    endpoints = json.loads((botocore_dir / "data" / "endpoints.json").read_text())
    target = target_root / ENDPOINTS_DIR / version / "endpoints.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(cut_endpoints(endpoints), separators=(",", ":")))
    return target


def without_documentation(model: Any) -> Any:
    """A botocore model with its documentation strings left out (a member named ``documentation`` is kept)."""
    if isinstance(model, dict):
        return {
            key: without_documentation(value)
            for key, value in model.items()
            if not (key == "documentation" and isinstance(value, str))
        }
    if isinstance(model, list):
        return [without_documentation(value) for value in model]
    return model


def write_service_models(botocore_dir: Path, target_root: Path) -> list[Path]:
    """Write each of ``SERVICES``' API models of the botocore package at ``botocore_dir`` without documentation,
    beside the cut ``endpoints.json``: DynamoDB's is 556 KB with its documentation and 113 KB without, which a
    cold start's client parses in 1.4 ms instead of 4.2. Only docstrings read documentation.

    :return: The files written: ``<target_root>/botocore_data/<version>/<service>/<api version>/service-2.json``.
    """
    version = _version_of(botocore_dir)
    written = []
    for service in SERVICES:
        api_version = max(path.name for path in (botocore_dir / "data" / service).iterdir() if path.is_dir())
        source = botocore_dir / "data" / service / api_version
        compressed = source / "service-2.json.gz"
        text = (
            gzip.decompress(compressed.read_bytes())
            if compressed.is_file()
            else (source / "service-2.json").read_bytes()
        )
        target = target_root / ENDPOINTS_DIR / version / service / api_version / "service-2.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(without_documentation(json.loads(text)), separators=(",", ":")))
        written.append(target)
    return written


def _version_of(botocore_dir: Path) -> str:
    for line in (botocore_dir / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("'\"")
    raise ValueError(f"no __version__ in {botocore_dir / '__init__.py'}")
