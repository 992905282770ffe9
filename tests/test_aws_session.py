"""The container's boto3 session (chalicelib.aws_session): the same requests as botocore's own, built faster.

Each request is caught at ``before-send`` (nothing leaves the process) and compared with the one a
default boto3 session sends: the URL and the signing scope, in every partition, with FIPS, dual-stack
and account-based endpoints.
"""

import json
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.exceptions
import botocore.handlers
import botocore.model
import botocore.regions
import botocore.session
import pytest
from botocore.config import Config

from chalicelib import aws_session

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "xx-future-1")
"""One region of each partition we may deploy to, and one no botocore knows yet."""
CONFIGS = {
    "default": Config(),
    "fips": Config(use_fips_endpoint=True),
    "dualstack": Config(use_dualstack_endpoint=True),
}
BOTOCORE_DIR = Path(botocore.__file__).parent


class _Caught(Exception):
    """Raised where the request would leave: nothing is sent."""


def _sent(session: boto3.session.Session, service: str, region: str, config: Config, **options: Any) -> tuple[str, str]:
    """The URL and the credential scope of one request of ``service``, caught before it is sent."""
    client = session.client(
        service,
        region_name=region,
        config=config,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        **options,
    )
    seen: list[tuple[str, str]] = []

    def catch(request: Any, **_: Any) -> None:
        scope = request.headers["Authorization"].decode().split("Credential=")[1].split(",")[0]
        seen.append((request.url, scope.split("/", 2)[2]))
        raise _Caught

    client.meta.events.register("before-send", catch)
    with pytest.raises(_Caught):
        if service == "dynamodb":
            client.get_item(TableName="t", Key={"pk": {"S": "k"}})
        elif service == "events":
            client.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
        elif service == "sqs":
            client.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/q", MessageBody="m")
        else:
            client.get_secret_value(SecretId="s")
    assert len(seen) == 1
    return seen[0]


@pytest.fixture(scope="module")
def cut_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package root holding the cut endpoint data ``make bytecode`` writes, for this botocore."""
    root = tmp_path_factory.mktemp("task")
    aws_session.write_endpoints(BOTOCORE_DIR, root)
    aws_session.write_service_models(BOTOCORE_DIR, root)
    return root


def _cut_session(root: Path) -> boto3.session.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", aws_session.KnownServicesLoader(aws_session.cut_endpoints_dir(root)))
    return boto3.session.Session(botocore_session=core)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("service", aws_session.SERVICES)
def test_a_client_of_the_cut_data_sends_what_botocores_own_sends(
    cut_root: Path, service: str, region: str, config: str
) -> None:
    own = _sent(boto3.session.Session(), service, region, CONFIGS[config])

    assert _sent(_cut_session(cut_root), service, region, CONFIGS[config]) == own


def test_an_account_based_dynamodb_endpoint_is_kept(cut_root: Path) -> None:
    config = Config(account_id_endpoint_mode="required")
    own = _sent(boto3.session.Session(), "dynamodb", "us-east-1", config, aws_account_id="123456789012")

    assert own[0].startswith("https://123456789012.ddb.us-east-1.")
    assert _sent(_cut_session(cut_root), "dynamodb", "us-east-1", config, aws_account_id="123456789012") == own


def test_the_cut_data_is_botocores_own_for_the_lambdas_services_alone(cut_root: Path) -> None:
    cut = (aws_session.cut_endpoints_dir(cut_root) or Path("missing")) / "endpoints.json"
    loader = aws_session.KnownServicesLoader(cut.parent)
    data, path = loader.load_data_with_path("endpoints")
    own = botocore.loaders.Loader().load_data("endpoints")

    assert Path(path).parent == cut.parent and loader.is_builtin_path(path)
    assert [partition["partition"] for partition in data["partitions"]] == [
        partition["partition"] for partition in own["partitions"]
    ]
    for mine, theirs in zip(data["partitions"], own["partitions"], strict=True):
        assert set(mine["services"]) == set(aws_session.SERVICES) & set(theirs["services"])
        assert {name: theirs["services"][name] for name in mine["services"]} == mine["services"]
        assert {key: value for key, value in mine.items() if key != "services"} == {
            key: value for key, value in theirs.items() if key != "services"
        }
    assert cut.stat().st_size < (BOTOCORE_DIR / "data" / "endpoints.json").stat().st_size / 20


def test_the_cut_data_of_another_botocore_is_never_read(cut_root: Path, tmp_path: Path) -> None:
    """A package whose botocore was upgraded after ``make bytecode`` reads botocore's own data, as before."""
    other = tmp_path / aws_session.ENDPOINTS_DIR / "0.0.1"
    other.mkdir(parents=True)
    (other / "endpoints.json").write_text("{}")

    assert aws_session.cut_endpoints_dir(tmp_path) is None
    assert aws_session.cut_endpoints_dir(cut_root) == cut_root / aws_session.ENDPOINTS_DIR / botocore.__version__


def test_the_session_knows_only_the_lambdas_services() -> None:
    session = aws_session.session()

    assert session.get_available_services() == sorted(aws_session.SERVICES)
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        session.client("s3", region_name="us-east-1")


def test_dynamodb_and_secrets_manager_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """One session: its endpoint data parsed once for both clients of a cold authorizer."""
    from chalicelib import stage_secrets
    from chalicelib.config import settings
    from chalicelib.store import connection

    resolvers = []
    build = botocore.regions.EndpointResolver.__init__

    def counted(resolver: Any, *args: Any, **kwargs: Any) -> None:
        resolvers.append(resolver)
        build(resolver, *args, **kwargs)

    monkeypatch.setattr(botocore.regions.EndpointResolver, "__init__", counted)
    connection.reset()
    stage_secrets.reset()
    try:
        config = settings()
        connection.dynamodb(config)
        stage_secrets._client(config.region)
    finally:
        connection.reset()
        stage_secrets.reset()

    assert len(resolvers) == 1


def test_a_data_path_the_environment_names_still_comes_first(cut_root: Path, tmp_path: Path) -> None:
    """AWS_DATA_PATH's own endpoint data wins over the cut one, as it wins over botocore's."""
    own = tmp_path / "endpoints.json"
    own.write_text((BOTOCORE_DIR / "data" / "endpoints.json").read_text())
    loader = aws_session.KnownServicesLoader(aws_session.cut_endpoints_dir(cut_root), str(tmp_path))

    _, path = loader.load_data_with_path("endpoints")

    assert Path(path).parent == tmp_path and not loader.is_builtin_path(path)


@pytest.mark.parametrize("service", aws_session.SERVICES)
def test_the_cut_api_models_are_botocores_own_without_documentation(cut_root: Path, service: str) -> None:
    cut = aws_session.cut_endpoints_dir(cut_root) or Path("missing")
    loader = aws_session.KnownServicesLoader(cut)
    own = botocore.loaders.Loader().load_service_model(service, "service-2")

    model = loader.load_service_model(service, "service-2")
    _, path = loader.load_data_with_path(f"{service}/{own['metadata']['apiVersion']}/service-2")

    assert Path(path).is_relative_to(cut)
    assert model == aws_session.without_documentation(own)
    if service == "dynamodb":  # the one every cold start loads: a fifth of its size
        assert len(json.dumps(model)) < len(json.dumps(own)) / 4


def test_a_member_named_documentation_is_not_documentation() -> None:
    shape = {"type": "structure", "documentation": "<p>Words</p>", "members": {"documentation": {"shape": "S"}}}

    assert aws_session.without_documentation([shape]) == [
        {"type": "structure", "members": {"documentation": {"shape": "S"}}}
    ]


EVENT_TYPES = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "needs-retry",
    "after-call",
    "after-call-error",
    "before-parse",
    "response-received",
)


def _handlers(session: botocore.session.Session, event_name: str) -> list[str]:
    """The handlers an event calls, in order, by name (an initializer's are new functions in each session)."""
    emitter = session.get_component("event_emitter")._emitter
    return [_name(handler) for handler in emitter._handlers.prefix_search(event_name)]


def _name(handler: Any) -> str:
    named = handler if hasattr(handler, "__qualname__") else type(handler)  # moto's stubber is an object
    return f"{named.__module__}.{named.__qualname__}"


@pytest.mark.parametrize("service", aws_session.SERVICES)
def test_every_event_of_the_lambdas_services_meets_botocores_own_handlers(service: str) -> None:
    ours = aws_session.session()._session
    model = botocore.model.ServiceModel(ours.get_service_data(service), service)
    event_service = model.service_id.hyphenize()
    events = [f"{kind}.{event_service}.{operation}" for kind in EVENT_TYPES for operation in model.operation_names]
    events += [f"creating-client-class.{event_service}", f"service-data-loaded.{event_service}", "choose-service-name"]
    full = botocore.session.Session()

    assert event_service in aws_session.EVENT_SERVICES
    assert {event: _handlers(ours, event) for event in events} == {event: _handlers(full, event) for event in events}


def test_what_the_session_leaves_out_fires_for_other_services_alone() -> None:
    ours = aws_session.session()._session
    full = botocore.session.Session()
    event = "before-parameter-build.s3.PutObject"

    assert set(_handlers(ours, event)) < set(_handlers(full, event))
    assert "botocore.handlers.sse_md5" in _handlers(full, event)
