"""A stage's per-tenant limits on API Gateway: a key per tenant, a default usage plan, a plan per tenant with its own.

Every tenant's key (and the key of requests the authorizer did not allow) is in the stage's default
plan, unless an operator gave the tenant limits of its own (``python -m admin limits set``): then it
is in the tenant's plan. A key is in exactly one plan of the stage's API stage, as API Gateway
requires. Key values come from :func:`chalicelib.auth.tenant_limits.usage_key`, the value the
authorizer returns, and are never printed.

Used by ``make deploy`` (:mod:`infra.rest_api`, on every release), by ``python -m admin limits`` and
``admin tenant create``, and by ``make run``, whose embedded moto answers the same API Gateway calls
(:mod:`devserver.throttle` reads the plans back and enforces them).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.tenant_limits import Limits, usage_key

APP = "onemodel-scim"


class LimitsNotApplied(Exception):
    """The stage has no default usage plan yet: ``make deploy`` (or ``make run``) creates it."""


@dataclass(frozen=True)
class TenantLimits:
    """The limits a tenant's requests are held to, and whether they are the stage's default or its own."""

    tenant: str
    limits: Limits
    own: bool


def _pages(apigateway: Any, operation: str, **parameters: Any) -> Iterator[dict[str, Any]]:
    for page in apigateway.get_paginator(operation).paginate(**parameters):
        yield from page.get("items", [])


def _limits(plan: dict[str, Any]) -> Limits:
    throttle = plan.get("throttle") or {}
    return Limits(rate=int(float(throttle["rateLimit"])), burst=int(throttle["burstLimit"]))


def _throttle(limits: Limits) -> dict[str, Any]:
    return {"rateLimit": float(limits.rate), "burstLimit": limits.burst}


def _stage_key(api_stage: dict[str, Any]) -> str:
    return f"{api_stage['apiId']}:{api_stage['stage']}"


class UsagePlans:
    """The usage plans and API keys of one stage, found by name (``onemodel-scim-<stage>-...``)."""

    def __init__(self, apigateway: Any, stage: str) -> None:
        self.apigateway = apigateway
        self.stage = stage
        self.prefix = f"{APP}-{stage}-"

    @property
    def default_plan_name(self) -> str:
        return f"{self.prefix}default"

    def tenant_plan_name(self, tenant: str) -> str:
        return f"{self.prefix}tenant-{tenant}"

    def key_name(self, identity: str) -> str:
        return f"{self.prefix}{identity}"

    # -- reading ---------------------------------------------------------------------------------

    def plans(self) -> dict[str, dict[str, Any]]:
        """The stage's usage plans by name."""
        found = _pages(self.apigateway, "get_usage_plans")
        return {plan["name"]: plan for plan in found if plan.get("name", "").startswith(self.prefix)}

    def key(self, identity: str) -> dict[str, Any] | None:
        name = self.key_name(identity)
        found = _pages(self.apigateway, "get_api_keys", nameQuery=name)
        return next((key for key in found if key["name"] == name), None)

    def key_ids(self, plan: dict[str, Any]) -> set[str]:
        return {key["id"] for key in _pages(self.apigateway, "get_usage_plan_keys", usagePlanId=plan["id"])}

    def default_plan(self) -> dict[str, Any]:
        plan = self.plans().get(self.default_plan_name)
        if plan is None:
            raise LimitsNotApplied(
                f"stage {self.stage!r} has no usage plan {self.default_plan_name!r} on API Gateway: run "
                f"`make deploy STAGE={self.stage}` first (a plain `chalice deploy` sets no per-tenant limits)"
            )
        return plan

    def throttles(self) -> dict[str, Limits]:
        """The limits each API key value is held to: what API Gateway enforces, for ``make run`` to do the same."""
        values = {
            key["id"]: key["value"]
            for key in _pages(self.apigateway, "get_api_keys", nameQuery=self.prefix, includeValues=True)
            if key.get("enabled", True)
        }
        return {
            values[key_id]: _limits(plan)
            for plan in self.plans().values()
            for key_id in self.key_ids(plan)
            if key_id in values
        }

    def show(self, tenant: str) -> TenantLimits:
        """The limits the tenant's requests are held to.

        :raises LimitsNotApplied: When the stage has no default plan, or the tenant's key is in no plan.
        """
        default = self.default_plan()
        key = self.key(tenant)
        own = self.plans().get(self.tenant_plan_name(tenant))
        if key is not None and own is not None and key["id"] in self.key_ids(own):
            return TenantLimits(tenant, _limits(own), own=True)
        if key is not None and key["id"] in self.key_ids(default):
            return TenantLimits(tenant, _limits(default), own=False)
        raise LimitsNotApplied(
            f"tenant {tenant!r} has no API key in a usage plan of stage {self.stage!r}: run "
            f"`make deploy STAGE={self.stage}` (it gives every tenant its key)"
        )

    # -- writing ---------------------------------------------------------------------------------

    def ensure_default_plan(self, limits: Limits, api_stage: dict[str, str] | None) -> dict[str, Any]:
        """Create or update the stage's default plan: the limits, and the API stage on it and on every tenant plan."""
        plans = self.plans()
        plan = plans.get(self.default_plan_name)
        if plan is None:
            plan = self.apigateway.create_usage_plan(
                name=self.default_plan_name,
                description=f"Per-tenant default limits of stage {self.stage} (make deploy)",
                throttle=_throttle(limits),
                apiStages=[api_stage] if api_stage else [],
            )
            plans[self.default_plan_name] = plan
        elif _limits(plan) != limits:
            plan = self.apigateway.update_usage_plan(
                usagePlanId=plan["id"],
                patchOperations=[
                    {"op": "replace", "path": "/throttle/rateLimit", "value": str(limits.rate)},
                    {"op": "replace", "path": "/throttle/burstLimit", "value": str(limits.burst)},
                ],
            )
        if api_stage is not None:
            for each in plans.values():
                self._add_api_stages(each, [api_stage])
        return plan

    def ensure_key(self, identity: str) -> str:
        """The API key of a tenant (or the unauthenticated identity): created if missing, put in the default plan."""
        return self.ensure_keys([identity])[identity]

    def ensure_keys(self, identities: list[str]) -> dict[str, str]:
        """The key ids of these identities: each created if missing, and put in the default plan if in no plan.

        A few listings whatever the number of tenants, then one call per key created or placed.
        """
        existing = {key["name"]: key for key in _pages(self.apigateway, "get_api_keys", nameQuery=self.prefix)}
        plans = self.plans()
        placed = {key_id for plan in plans.values() for key_id in self.key_ids(plan)}
        default = plans.get(self.default_plan_name)
        ids = {}
        for identity in identities:
            key = existing.get(self.key_name(identity)) or self.apigateway.create_api_key(
                name=self.key_name(identity),
                description=f"Usage identifier of {identity} on stage {self.stage}; the authorizer supplies it",
                enabled=True,
                value=usage_key(self.stage, identity),
            )
            if default is not None and key["id"] not in placed:
                self.apigateway.create_usage_plan_key(usagePlanId=default["id"], keyId=key["id"], keyType="API_KEY")
                placed.add(key["id"])
            ids[identity] = key["id"]
        return ids

    def set(self, tenant: str, limits: Limits) -> TenantLimits:
        """Hold the tenant to ``limits``: its own plan, created the first time (the key moves out of the default)."""
        default = self.default_plan()
        key_id = self.ensure_key(tenant)
        own = self.plans().get(self.tenant_plan_name(tenant))
        if own is None:
            # Without API stages first: a key cannot be in two plans of one API stage, even for a moment.
            own = self.apigateway.create_usage_plan(
                name=self.tenant_plan_name(tenant),
                description=f"Limits of tenant {tenant} on stage {self.stage} (python -m admin limits set)",
                throttle=_throttle(limits),
                apiStages=[],
            )
        elif _limits(own) != limits:
            self.apigateway.update_usage_plan(
                usagePlanId=own["id"],
                patchOperations=[
                    {"op": "replace", "path": "/throttle/rateLimit", "value": str(limits.rate)},
                    {"op": "replace", "path": "/throttle/burstLimit", "value": str(limits.burst)},
                ],
            )
        if key_id not in self.key_ids(own):
            self.apigateway.create_usage_plan_key(usagePlanId=own["id"], keyId=key_id, keyType="API_KEY")
        if key_id in self.key_ids(default):
            self.apigateway.delete_usage_plan_key(usagePlanId=default["id"], keyId=key_id)
        self._add_api_stages(own, default.get("apiStages") or [])
        return TenantLimits(tenant, limits, own=True)

    def reset(self, tenant: str) -> TenantLimits:
        """Back to the stage's default limits: the key returns to the default plan and the tenant's plan goes."""
        default = self.default_plan()
        key_id = self.ensure_key(tenant)
        own = self.plans().get(self.tenant_plan_name(tenant))
        if own is not None:
            for api_stage in own.get("apiStages") or []:
                self.apigateway.update_usage_plan(
                    usagePlanId=own["id"],
                    patchOperations=[{"op": "remove", "path": "/apiStages", "value": _stage_key(api_stage)}],
                )
            if key_id in self.key_ids(own):
                self.apigateway.delete_usage_plan_key(usagePlanId=own["id"], keyId=key_id)
            self.apigateway.delete_usage_plan(usagePlanId=own["id"])
        if key_id not in self.key_ids(default):
            self.apigateway.create_usage_plan_key(usagePlanId=default["id"], keyId=key_id, keyType="API_KEY")
        return TenantLimits(tenant, _limits(default), own=False)

    def remove_all(self) -> int:
        """Every usage plan and API key of the stage, for ``make destroy``; returns how many went.

        Plans first, detached from their API stages: API Gateway refuses to delete an API a plan still names.
        """
        removed = 0
        for plan in self.plans().values():
            for api_stage in plan.get("apiStages") or []:
                self.apigateway.update_usage_plan(
                    usagePlanId=plan["id"],
                    patchOperations=[{"op": "remove", "path": "/apiStages", "value": _stage_key(api_stage)}],
                )
            for key_id in self.key_ids(plan):
                self.apigateway.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key_id)
            self.apigateway.delete_usage_plan(usagePlanId=plan["id"])
            removed += 1
        for key in list(_pages(self.apigateway, "get_api_keys", nameQuery=self.prefix)):
            if key["name"].startswith(self.prefix):
                self.apigateway.delete_api_key(apiKey=key["id"])
                removed += 1
        return removed

    def _add_api_stages(self, plan: dict[str, Any], api_stages: list[dict[str, Any]]) -> None:
        present = {_stage_key(each) for each in plan.get("apiStages") or []}
        for api_stage in api_stages:
            if _stage_key(api_stage) not in present:
                self.apigateway.update_usage_plan(
                    usagePlanId=plan["id"],
                    patchOperations=[{"op": "add", "path": "/apiStages", "value": _stage_key(api_stage)}],
                )
