"""``make run``: the SCIM API on this machine, with moto's server as an in-memory DynamoDB.

Starts moto on 127.0.0.1, creates the tables from the definitions ``infra/``
deploys, creates a demo tenant with its SCIM service account and one
credential, prints the four lines a person or a script can source, then
serves the API through Chalice's local server (``chalice local``'s code path)
with API Gateway's 401 answers emulated. Ctrl-C stops everything.
"""

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
STAGE = "local"
DEMO_TENANT = "demo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--no-gateway-responses",
        action="store_true",
        help="answer a missing Authorization header and an unknown path as a plain `chalice deploy` does",
    )
    args = parser.parse_args()
    # Ctrl-C (and a plain kill) stop the server and moto, even when started from a script.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "TABLE_PREFIX": "scim-local",
            "SCIM_DEV_SECRETS": "true",
        }
    )
    try:
        from admin.target import write_local_store
        from chalicelib.auth.credentials import create_service_account, generate_credential
        from chalicelib.config import settings
        from chalicelib.store.connection import dynamodb
        from chalicelib.store.credentials import CredentialStore
        from chalicelib.store.tables import create_tables

        config = settings()
        create_tables(dynamodb(config), config)
        write_local_store(os.environ["DYNAMODB_ENDPOINT_URL"], "scim-local", config.region)
        store = CredentialStore(dynamodb(config), config.credentials_table)
        create_service_account(store, DEMO_TENANT, name="Demo SCIM service account")
        issued = generate_credential(store, config.credential_hash_key, DEMO_TENANT, "make run demo")

        from chalice.cli import create_local_server
        from chalice.cli.factory import CLIFactory

        from devserver.gateway import emulate_gateway_responses

        emulate_gateway_responses(applied=not args.no_gateway_responses)
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
        # Bind before printing, so whoever reads the lines can connect at once.
        server = create_local_server(CLIFactory(str(PROJECT_DIR)), args.host, args.port, STAGE)
        print(f"SCIM_BASE_URL=http://{args.host}:{args.port}/scim/v2")
        print(f"SCIM_CLIENT_ID={issued.client_id}")
        print(f"SCIM_CLIENT_SECRET={issued.client_secret}")
        print(f"SCIM_BEARER_TOKEN={issued.bearer_token}", flush=True)
        # Everything else goes to stderr, so stdout holds only the lines above, ready to source.
        sys.stdout = sys.stderr
        print(
            f"# Serving tenant {DEMO_TENANT!r} on http://{args.host}:{args.port} "
            f"(DynamoDB: moto on 127.0.0.1:{moto_port}); Ctrl-C stops.",
            file=sys.stderr,
            flush=True,
        )

        server.serve_forever()
    except KeyboardInterrupt:
        return 0
    finally:
        from admin.target import forget_local_store

        forget_local_store()
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
