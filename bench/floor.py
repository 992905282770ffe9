"""The floor every latency is divided by: a minimal Chalice route behind the same authorizer, one GetItem.

It runs where the SCIM routes run (``chalice.test.Client``, the same moto backend, the same
stage), behind the very function ``app.py`` registers as its authorizer, so what an operation
costs above the floor is the SCIM work of its route and nothing of the harness.
"""

import json
from typing import Any

from chalice.app import Chalice, Response

from app import CONTENT_TYPES, scim_auth
from chalicelib.config import settings
from chalicelib.store.connection import dynamodb
from chalicelib.store.users import UserTable

floor_app = Chalice(app_name="scim-bench-floor")
floor_authorizer = floor_app.authorizer(ttl_seconds=60)(scim_auth.func)
FLOOR_PATH = "/floor/{user_id}"


@floor_app.route(FLOOR_PATH, methods=["GET"], authorizer=floor_authorizer, content_types=CONTENT_TYPES)
def read_one_user(user_id: str) -> Response:
    """One strongly consistent GetItem of a user, and its id back."""
    request = floor_app.current_request
    assert request is not None
    context: dict[str, Any] = request.context.get("authorizer") or {}
    config = settings()
    record = UserTable(dynamodb(config), config.users_table, str(context["tenant"])).get(user_id)
    if record is None:
        return Response(body="", status_code=404)
    return Response(body=json.dumps({"id": record.id}), status_code=200, headers={"Content-Type": "application/json"})
