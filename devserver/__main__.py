"""``make run``: the SCIM API on this machine, with moto's server as an in-memory DynamoDB.

Starts moto on 127.0.0.1 as the embedded DynamoDB (:mod:`devserver.embedded_dynamodb`: flat
write cost, compact memory, safe under concurrent clients), creates the tables from the
definitions ``infra/`` deploys, creates a demo tenant with its SCIM service account and one
credential, starts the stream functions on the store's streams (:mod:`devserver.streams`: the
provisioning events, shown by ``python -m admin events``), prints the five lines a person or a
script can source, then
serves the API through Chalice's local server (``chalice local``'s code path,
:mod:`devserver.local_server`) with API Gateway's 401 answers emulated, and its per-tenant limits:
the same moto serves API Gateway's usage plans, which ``python -m admin limits`` changes and
:mod:`devserver.throttle` enforces. Ctrl-C stops everything.

The management API (``/admin/v1``) is IAM-authorized on AWS; Chalice's local server admits its
routes unsigned, so ``make run`` binds loopback only: a host that is not loopback is refused.
"""

import argparse
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.config import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
STAGE = "local"
DEMO_TENANT = "demo"


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--no-gateway-responses",
        action="store_true",
        help="answer as after a plain `chalice deploy`: API Gateway's own errors, no per-tenant limits",
    )
    parser.add_argument(
        "--no-tenant-limits",
        action="store_true",
        help="no per-tenant request limits (for load runs that measure the service, not the limits)",
    )
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"--host {args.host}: the management API is unauthenticated here; serve on loopback only")
    # Ctrl-C (and a plain kill) stop the server and moto, even when started from a script.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    from admin.target import forget_local_store
    from devserver.embedded_dynamodb import dynamodb_server
    from devserver.ports import free_port

    try:
        with dynamodb_server(free_port()) as endpoint:
            serve(
                args.host,
                args.port,
                endpoint,
                gateway_responses=not args.no_gateway_responses,
                tenant_limits=not (args.no_gateway_responses or args.no_tenant_limits),
            )
    except KeyboardInterrupt:
        pass
    finally:
        forget_local_store()
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str, port: int, dynamodb_endpoint: str, gateway_responses: bool = True, tenant_limits: bool = True
) -> None:
    """Tables, the demo tenant and its credential on the embedded DynamoDB, then the API until Ctrl-C."""
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT_URL": dynamodb_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "TABLE_PREFIX": "scim-local",
            "SCIM_DEV_SECRETS": "true",
        }
    )
    from admin.target import write_local_store
    from chalicelib.auth.credentials import create_service_account, generate_credential
    from chalicelib.config import settings
    from chalicelib.store.connection import dynamodb
    from chalicelib.store.credentials import CredentialStore
    from chalicelib.store.tables import create_tables
    from chalicelib.store.users import UserTable
    from devserver.gateway import emulate_gateway_responses
    from devserver.local_server import local_server

    config = settings()
    create_tables(dynamodb(config), config)
    if tenant_limits:
        # Before the store file appears: the admin CLI may change the demo tenant's limits as soon as it does.
        _hold_tenants_to_their_limits(config, dynamodb_endpoint)
    write_local_store(dynamodb_endpoint, "scim-local", config.region)
    store = CredentialStore(dynamodb(config), config.credentials_table)
    create_service_account(store, DEMO_TENANT, name="Demo SCIM service account")
    # A new tenant: every user it gets is written with its email pointers (chalicelib/store/emails.py).
    UserTable(dynamodb(config), config.users_table, DEMO_TENANT).emails.mark_complete()
    issued = generate_credential(store, config.credential_hash_key, DEMO_TENANT, "make run demo")

    from devserver.streams import start_local_streams

    # The stream functions, as the stage runs them, on the embedded store's streams (python -m admin events).
    start_local_streams(config)
    emulate_gateway_responses(applied=gateway_responses)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    # Bind before printing, so whoever reads the lines can connect at once.
    server = local_server(PROJECT_DIR, host, port, STAGE)
    print(f"SCIM_BASE_URL=http://{host}:{port}/scim/v2")
    print(f"SCIM_CLIENT_ID={issued.client_id}")
    print(f"SCIM_CLIENT_SECRET={issued.client_secret}")
    print(f"SCIM_BEARER_TOKEN={issued.bearer_token}")
    print(f"SCIM_ADMIN_URL=http://{host}:{port}/admin/v1", flush=True)
    # Everything else goes to stderr, so stdout holds only the lines above, ready to source.
    sys.stdout = sys.stderr
    print(
        f"# Serving tenant {DEMO_TENANT!r} on http://{host}:{port} (DynamoDB: {dynamodb_endpoint}); Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    server.serve_forever()


def _hold_tenants_to_their_limits(config: "Settings", endpoint: str) -> None:
    """The stage's default usage plan and the demo tenant's key in the embedded API Gateway, enforced from now on."""
    import boto3

    from chalicelib.auth.tenant_limits import UNAUTHENTICATED, default_limits
    from devserver.gateway import emulate_tenant_limits
    from devserver.throttle import TenantThrottle
    from infra.usage_plans import UsagePlans

    apigateway = boto3.client("apigateway", endpoint_url=endpoint, region_name=config.region)
    plans = UsagePlans(apigateway, config.stage)
    plans.ensure_default_plan(default_limits(config), api_stage=None)
    plans.ensure_keys([UNAUTHENTICATED, DEMO_TENANT])
    emulate_tenant_limits(TenantThrottle(plans.throttles))


if __name__ == "__main__":
    sys.exit(main())
