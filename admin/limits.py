"""``python -m admin limits``: the request rate and burst a tenant's IdP is held to (docs/operations/tenant-limits.md).

On a deployed stage these are API Gateway's usage plans (the operator's AWS credentials); under
``make run`` the same calls go to its embedded moto, which serves API Gateway beside DynamoDB, and
``make run`` enforces them within a second.
"""

import argparse
import sys
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from admin.terminal import say
from chalicelib.auth.tenant_limits import Limits
from chalicelib.config import Settings
from infra.usage_plans import LimitsNotApplied, TenantLimits, UsagePlans


def add_parser(commands: Any) -> None:
    limits = commands.add_parser("limits", help="a tenant's request rate and burst").add_subparsers(
        dest="action", required=True
    )
    limits.add_parser("show", help="the limits the tenant's requests are held to").add_argument("tenant")
    limits.add_parser("reset", help="back to the stage's default limits").add_argument("tenant")
    set_limits = limits.add_parser("set", help="limits of the tenant's own; one left out keeps its value")
    set_limits.add_argument("tenant")
    set_limits.add_argument("--rate", type=int, help="requests a second, on average")
    set_limits.add_argument("--burst", type=int, help="requests at once, above the rate")


def usage_plans(config: Settings) -> UsagePlans:
    """The stage's usage plans; ``make run``'s moto serves API Gateway on its DynamoDB endpoint."""
    apigateway = boto3.client(
        "apigateway",
        endpoint_url=config.dynamodb_endpoint_url,
        region_name=config.region,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    return UsagePlans(apigateway, config.stage)


def _describe(found: TenantLimits) -> str:
    whose = "its own" if found.own else "the stage's default"
    return f"{found.tenant}: {found.limits.rate} requests/s, burst {found.limits.burst} ({whose})"


def run(args: argparse.Namespace, config: Settings) -> int:
    plans = usage_plans(config)
    try:
        if args.action == "show":
            found = plans.show(args.tenant)
        elif args.action == "reset":
            found = plans.reset(args.tenant)
        else:
            if args.rate is None and args.burst is None:
                raise ValueError("give --rate, --burst or both")
            current = plans.show(args.tenant).limits
            wanted = Limits(
                rate=current.rate if args.rate is None else args.rate,
                burst=current.burst if args.burst is None else args.burst,
            )
            found = plans.set(args.tenant, wanted)
    except LimitsNotApplied as error:
        say(f"error: {error}", file=sys.stderr)
        return 1
    say(_describe(found))
    return 0


def give_key(config: Settings, tenant: str) -> None:
    """A new tenant's API key, in the stage's default plan: without it, a stage with limits answers its IdP 403."""
    try:
        usage_plans(config).ensure_key(tenant)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        say(
            f"warning: the tenant's API key was not created ({error}); `make deploy` creates it, and until then "
            "a stage with per-tenant limits answers its IdP 403",
            file=sys.stderr,
        )
