"""One cold start in this fresh process: import the Lambda entry module and serve its first request.

Run by :mod:`bench.cold_start` as ``python -m bench.cold_probe floor|authorizer|route`` with a moto
server's DynamoDB endpoint in the environment. Prints one JSON line last: the milliseconds from
before the first import to the answer (wall and this process's CPU), whether the answer was right,
the peak RSS, whether scim2 or pydantic got loaded, and the same request answered warm
(``WARM_REQUESTS`` more times: the median wall and CPU of one). The modules imported above the
clock are those the Lambda runtime has loaded before it imports a handler.
"""

import json
import os
import resource
import sys
import time
from types import SimpleNamespace
from typing import Any

LAMBDA_CONTEXT = SimpleNamespace(aws_request_id="cold-start", function_name="onemodel-scim")
PROTOCOL_PACKAGES = ("scim2_models", "scim2_server", "pydantic")
WARM_REQUESTS = 20


def authorizer_event() -> dict[str, Any]:
    """What API Gateway hands a TOKEN authorizer."""
    return {
        "type": "TOKEN",
        "authorizationToken": os.environ["BENCH_AUTHORIZATION"],
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:bench/api/GET/scim/v2/Users",
    }


def route_event() -> dict[str, Any]:
    """What API Gateway hands the API Lambda for ``GET /scim/v2/Users/{id}`` once the authorizer allowed it."""
    user_id = os.environ["BENCH_USER_ID"]
    resource_path = "/scim/v2/Users/{user_id}"
    return {
        "resource": resource_path,
        "path": f"/scim/v2/Users/{user_id}",
        "httpMethod": "GET",
        "headers": {"host": "bench.example", "accept": "application/scim+json"},
        "multiValueQueryStringParameters": None,
        "pathParameters": {"user_id": user_id},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource_path,
            "httpMethod": "GET",
            "path": f"/api/scim/v2/Users/{user_id}",
            "requestId": "cold-start",
            "stage": "api",
            "authorizer": {
                "outcome": "allowed",
                "tenant": os.environ["BENCH_TENANT"],
                "client_id": os.environ["BENCH_CLIENT_ID"],
                "principalId": os.environ["BENCH_CLIENT_ID"],
            },
        },
        "body": None,
        "isBase64Encoded": False,
    }


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux keeps ``ru_maxrss`` across exec, so a child started by a large parent
    would report the parent's; VmHWM counts this program's memory alone."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _request(kind: str) -> bool:
    """Answer one request of ``kind`` (importing the handler the first time); whether the answer was right."""
    if kind == "floor":
        import boto3  # noqa: F401
        import chalice  # noqa: F401

        return True
    import app

    if kind == "authorizer":
        decision = app.scim_auth(authorizer_event(), LAMBDA_CONTEXT)
        return bool(decision.get("principalId") == os.environ["BENCH_CLIENT_ID"])
    if kind == "route":
        return bool(app.app(route_event(), LAMBDA_CONTEXT)["statusCode"] == 200)
    raise SystemExit(f"unknown cold start {kind!r}")


def main(kind: str) -> dict[str, Any]:
    started, started_cpu = time.perf_counter(), time.process_time()
    ok = _request(kind)
    elapsed_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - started_cpu) * 1000
    cold_rss = peak_rss_mb()
    protocol_loaded = any(name.split(".")[0] in PROTOCOL_PACKAGES for name in sys.modules)
    warm: list[tuple[float, float]] = []
    for _ in range(WARM_REQUESTS if kind != "floor" else 0):
        again, again_cpu = time.perf_counter(), time.process_time()
        ok &= _request(kind)
        warm.append(((time.perf_counter() - again) * 1000, (time.process_time() - again_cpu) * 1000))
    warm.sort()
    return {
        "ms": elapsed_ms,
        "cpu_ms": cpu_ms,
        "ok": ok,
        "rss_mb": cold_rss,
        "protocol_loaded": protocol_loaded,
        "warm_ms": warm[len(warm) // 2][0] if warm else 0.0,
        "warm_cpu_ms": sorted(cpu for _, cpu in warm)[len(warm) // 2] if warm else 0.0,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
