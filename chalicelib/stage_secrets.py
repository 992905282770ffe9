"""The stage's two secrets, read at run time from Secrets Manager, once per Lambda container.

A deployed stage names its secrets with ``SECRETS_PREFIX`` (``.chalice/config.json``): the
credential hash key is ``<prefix>/credential-hash-key`` and the cursor secret
``<prefix>/cursor-secret``, both created by ``infra/stack.json``. No secret value is ever in an
environment variable, ``.chalice/`` or a template.

Fail closed: a secret that cannot be read raises :class:`SecretUnavailable` (answered 503 with
Retry-After, and logged with the secret's name), and is read again on the next request. The
dev-only defaults are used only when ``SCIM_DEV_SECRETS=true`` is set (``make run``, tests) and
no prefix is, and never inside a Lambda.

Hand-written rather than Powertools' parameters utility: that adds about 40 ms to every cold
start of the authorizer (docs/operations/secrets.md) for what is one GetSecretValue call and
``functools.cache``. Must not import scim2 or pydantic (the authorizer imports it).
"""

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.exceptions
from botocore.config import Config

from chalicelib import aws_session

CREDENTIAL_HASH_KEY = "credential-hash-key"
CURSOR_SECRET = "cursor-secret"
DEV_DEFAULTS = {
    CREDENTIAL_HASH_KEY: "dev-only-credential-hash-key",
    # Cursors are sealed (AES-GCM) so clients cannot read or forge them.
    CURSOR_SECRET: "dev-only-cursor-secret",
}
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=3)


class SecretUnavailable(Exception):
    """A stage secret cannot be read: no request may be served with a guessed or default value."""

    def __init__(self, secret_id: str, reason: str) -> None:
        super().__init__(f"secret {secret_id} unavailable: {reason}")
        self.secret_id = secret_id


@dataclass(frozen=True)
class SecretSource:
    """Where a process takes the stage's secrets from: Secrets Manager under ``prefix``, or the dev defaults."""

    prefix: str | None
    dev_defaults: bool
    region: str

    @classmethod
    def from_environment(cls, region: str) -> "SecretSource":
        in_lambda = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
        return cls(
            prefix=os.environ.get("SECRETS_PREFIX") or None,
            dev_defaults=os.environ.get("SCIM_DEV_SECRETS") == "true" and not in_lambda,
            region=region,
        )

    def secret_id(self, name: str) -> str:
        return f"{self.prefix or '<SECRETS_PREFIX unset>'}/{name}"

    def read(self, name: str) -> str:
        """Return the secret's value.

        :raises SecretUnavailable: When it cannot be read, or when no prefix is set outside dev mode.
        """
        if self.prefix is None:
            if self.dev_defaults:
                return DEV_DEFAULTS[name]
            raise SecretUnavailable(self.secret_id(name), "SECRETS_PREFIX is not set and dev secrets are off")
        return _fetch(self.secret_id(name), self.region)


@cache
def _client(region: str) -> Any:
    # boto3 honours AWS_ENDPOINT_URL (moto's server in the deploy test).
    return aws_session.session().client("secretsmanager", region_name=region, config=_CLIENT_CONFIG)


@cache
def _fetch(secret_id: str, region: str) -> str:
    # functools.cache keeps values only: a failed read is tried again on the next request.
    try:
        value: str = _client(region).get_secret_value(SecretId=secret_id)["SecretString"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, KeyError) as error:
        reason = error.response["Error"]["Code"] if isinstance(error, botocore.exceptions.ClientError) else error
        raise SecretUnavailable(secret_id, str(reason)) from None
    if not value:
        raise SecretUnavailable(secret_id, "the secret is empty")
    return value


def reset() -> None:
    """Forget the values read and the client (tests, when a new moto mock starts)."""
    _fetch.cache_clear()
    _client.cache_clear()
