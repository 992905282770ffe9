"""The generic models a request parametrized (``ResponseParameters[User]``, ``PatchOp[User]``, ``SearchRequest[...]``,
``ListResponse[...]``) outlive a full garbage collection: pydantic holds them weakly, and building one again cost a GET
user 1.75 ms of CPU each time the collector had freed it."""

import gc
import weakref
from typing import Any, Union

from scim2_models import ListResponse, PatchOp, ResponseParameters, SearchRequest

from chalicelib.scim.adapter import scim_api
from tests.conftest import Scim, user_body
from tests.helpers import patch_body


def test_the_generic_models_requests_used_outlive_a_full_garbage_collection(scim: Scim) -> None:
    user = scim.post("/Users", user_body()).json["id"]
    assert scim.get(f"/Users/{user}").status_code == 200
    title = patch_body({"op": "replace", "path": "title", "value": "CFO"})
    assert scim.patch(f"/Users/{user}", title).status_code == 200
    assert scim.get("/Users", query={"filter": 'userName eq "bjensen@example.com"'}).json["totalResults"] == 1
    models = scim_api().service.get_models()
    (user_model,) = [model for model in models if model.__name__.startswith("User")]
    everything: Any = Union[tuple(models)]  # noqa: UP007 (as scim2-server spells it)
    used = [
        weakref.ref(generic)
        for generic in (
            ResponseParameters[user_model],
            PatchOp[user_model],
            SearchRequest[user_model],
            ListResponse[everything],
        )
    ]

    gc.collect()

    assert [ref() is not None for ref in used] == [True, True, True, True]
