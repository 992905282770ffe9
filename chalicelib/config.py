"""Every setting of the service, read from the environment in this one place.

The stages of ``.chalice/config.json`` set these variables. Settings are read
on each call rather than once at import, because Chalice's test client swaps
``os.environ`` per request, and a Lambda container never changes them anyway.
"""

import os
from dataclasses import dataclass

from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET, SecretSource

# The environment variable naming each streamed table's stream ARN (a stage's .chalice/config.json).
STREAM_VARIABLES = {
    "users": "USERS_STREAM_ARN",
    "groups": "GROUPS_STREAM_ARN",
    "role_mappings": "ROLE_MAPPINGS_STREAM_ARN",
    "credentials": "CREDENTIALS_STREAM_ARN",
}


@dataclass(frozen=True)
class Settings:
    users_table: str
    groups_table: str
    role_mappings_table: str
    credentials_table: str
    activity_table: str
    activity_retention_days: int
    stage: str
    dynamodb_endpoint_url: str | None
    region: str
    secrets: SecretSource
    password_min_length: int
    password_max_length: int
    password_min_character_classes: int
    default_page_size: int
    max_page_size: int
    max_filter_length: int
    max_filter_depth: int
    max_filter_terms: int
    max_attribute_paths: int
    max_patch_operations: int
    max_body_bytes: int
    max_members_in_response: int
    cursor_timeout_seconds: int
    public_base_url: str | None
    request_budget_seconds: int
    authorizer_budget_seconds: int
    event_bus: str
    events_dead_letter_queue_url: str | None
    events_operator_queue_url: str | None
    users_stream_arn: str | None
    groups_stream_arn: str | None
    role_mappings_stream_arn: str | None
    credentials_stream_arn: str | None
    tenant_rate_limit: int
    tenant_burst_limit: int
    in_lambda: bool
    """Served by AWS Lambda (not ``make run`` or a test): a management route then demands an IAM principal."""

    @property
    def stream_arns(self) -> list[tuple[str, str]]:
        """The streamed tables that have a stream ARN set, as (logical table name, ARN)."""
        arns = {
            "users": self.users_stream_arn,
            "groups": self.groups_stream_arn,
            "role_mappings": self.role_mappings_stream_arn,
            "credentials": self.credentials_stream_arn,
        }
        return [(table, arn) for table, arn in arns.items() if arn]

    @property
    def credential_hash_key(self) -> bytes:
        """Read from Secrets Manager once per container; raises ``SecretUnavailable`` (fail closed)."""
        return self.secrets.read(CREDENTIAL_HASH_KEY).encode()

    @property
    def cursor_secret(self) -> str:
        """Read from Secrets Manager once per container; raises ``SecretUnavailable`` (fail closed)."""
        return self.secrets.read(CURSOR_SECRET)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def settings() -> Settings:
    """Return the settings in force now."""
    # The stage's name in AWS: the tables are <prefix>-users, ...; the stages of .chalice/config.json set it.
    prefix = os.environ.get("TABLE_PREFIX", "scim-dev")
    # The AWS region of the tables and secrets; Lambda sets AWS_REGION.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Settings(
        # The users table: users and their userName claims (chalicelib/store/users.py).
        users_table=os.environ.get("USERS_TABLE", f"{prefix}-users"),
        # The groups table: groups, their displayName claims and memberships (chalicelib/store/groups.py).
        groups_table=os.environ.get("GROUPS_TABLE", f"{prefix}-groups"),
        # The role mappings and tenants' password policies (chalicelib/store/role_mappings.py).
        role_mappings_table=os.environ.get("ROLE_MAPPINGS_TABLE", f"{prefix}-role-mappings"),
        # Service accounts and credentials, read by the authorizer (chalicelib/store/credentials.py).
        credentials_table=os.environ.get("CREDENTIALS_TABLE", f"{prefix}-credentials"),
        # The provisioning activity trail (chalicelib/store/activity.py).
        activity_table=os.environ.get("ACTIVITY_TABLE", f"{prefix}-activity"),
        # How long the provisioning activity trail keeps an entry (DynamoDB's TTL removes it after).
        activity_retention_days=_int("ACTIVITY_RETENTION_DAYS", 90),
        # The Stage dimension of the CloudWatch metrics; unset, TABLE_PREFIX without its "scim-".
        stage=os.environ.get("STAGE", prefix.removeprefix("scim-")),
        # Another DynamoDB endpoint than AWS's: make run and the tests point it at moto.
        dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
        region=region,
        # The stage's two secrets (chalicelib/stage_secrets.py): SECRETS_PREFIX names them in Secrets Manager
        # (<prefix>/credential-hash-key, <prefix>/cursor-secret); SCIM_DEV_SECRETS=true (make run, tests; refused
        # inside Lambda) uses the dev-only defaults instead.
        secrets=SecretSource.from_environment(region),
        # The stage's default password policy; a tenant may set its own (python -m admin password-policy).
        password_min_length=_int("PASSWORD_MIN_LENGTH", 12),
        password_max_length=_int("PASSWORD_MAX_LENGTH", 256),
        password_min_character_classes=_int("PASSWORD_MIN_CHARACTER_CLASSES", 3),
        # Resources per page when a list names no count; announced in /ServiceProviderConfig.
        default_page_size=_int("DEFAULT_PAGE_SIZE", 100),
        # The largest count a list answers (a larger one is clamped, RFC 7644 §3.4.2.4); announced too.
        max_page_size=_int("MAX_PAGE_SIZE", 1000),
        # What a request may make us parse, checked on the raw text first (chalicelib/provisioning/limits.py):
        # the characters of a filter, PATCH path, attributes or sortBy, its nesting and its terms.
        max_filter_length=_int("MAX_FILTER_LENGTH", 2048),
        max_filter_depth=_int("MAX_FILTER_DEPTH", 32),
        max_filter_terms=_int("MAX_FILTER_TERMS", 100),
        # Paths in one attributes or excludedAttributes parameter.
        max_attribute_paths=_int("MAX_ATTRIBUTE_PATHS", 100),
        # Operations in one PATCH request (the members inside one operation's value are not counted).
        max_patch_operations=_int("MAX_PATCH_OPERATIONS", 1000),
        # The largest request body; past it, 413 before anything is parsed.
        max_body_bytes=_int("MAX_BODY_BYTES", 1_048_576),
        # Members a group GET may return (a Lambda response stops at 6 MB); past it, 400 tooMany.
        max_members_in_response=_int("MAX_MEMBERS_IN_RESPONSE", 20_000),
        # How long an RFC 9865 paging cursor stays valid; announced in /ServiceProviderConfig.
        cursor_timeout_seconds=_int("CURSOR_TIMEOUT_SECONDS", 3600),
        # The URL IdPs are given, e.g. https://scim.example.com/scim/v2; unset, API Gateway's stage URL.
        public_base_url=os.environ.get("PUBLIC_BASE_URL") or None,
        # The DynamoDB time of one request (chalicelib/store/deadline.py): with one attempt's timeouts it
        # ends within API Gateway's and the Lambda's 29 s. The local and test stages give moto more.
        request_budget_seconds=_int("REQUEST_BUDGET_SECONDS", 15),
        # The authorizer's DynamoDB time: with one attempt's timeouts (2 s + 5 s) it decides within its 10 s
        # Lambda timeout; a spent budget is "unavailable" (503 with Retry-After from the route), never a
        # timeout that API Gateway would answer with a bare 500.
        authorizer_budget_seconds=_int("AUTHORIZER_BUDGET_SECONDS", 2),
        # The stage's EventBridge bus (infra/stack.json) that the stream functions publish provisioning events to.
        event_bus=os.environ.get("EVENT_BUS_NAME") or f"{prefix}-events",
        # Where a stream record that cannot be read is set aside (the stream's on-failure destination too).
        events_dead_letter_queue_url=os.environ.get("EVENTS_DEAD_LETTER_QUEUE_URL") or None,
        # Every event of the bus, for operators (python -m admin events --stage STAGE).
        events_operator_queue_url=os.environ.get("EVENTS_OPERATOR_QUEUE_URL") or None,
        # Each streamed table's DynamoDB stream: make deploy-infra writes them; chalice deploy makes a stream
        # function (provisioning events) for each one set.
        users_stream_arn=os.environ.get("USERS_STREAM_ARN") or None,
        groups_stream_arn=os.environ.get("GROUPS_STREAM_ARN") or None,
        role_mappings_stream_arn=os.environ.get("ROLE_MAPPINGS_STREAM_ARN") or None,
        credentials_stream_arn=os.environ.get("CREDENTIALS_STREAM_ARN") or None,
        # Requests a second, and at once, each tenant's IdP may send: the stage's default usage plan, which make
        # deploy and make run apply (docs/operations/tenant-limits.md: twice Entra ID's 25 a second per tenant).
        tenant_rate_limit=_int("TENANT_RATE_LIMIT", 50),
        tenant_burst_limit=_int("TENANT_BURST_LIMIT", 100),
        # Set by AWS Lambda, never by a stage: served by Lambda, a management route demands an IAM principal.
        in_lambda=bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")),
    )
