"""The SCIM side of the API Lambda: scim2-server behind Chalice, with our provider, dialects and trail.

Importing this package is the route's first step towards scim2-models: from here on, model
classes skip reading their attribute docstrings until ``/Schemas`` needs them
(:mod:`chalicelib.model_docs`, about 200 ms of a cold start). The authorizer never imports it.
"""

from chalicelib.model_docs import defer

defer()
