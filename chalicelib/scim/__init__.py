"""The SCIM side of the API Lambda: scim2-server behind Chalice, with our provider, dialects and trail.

Importing this package is the route's first step towards scim2-models: from here on, model
classes skip reading their attribute docstrings until ``/Schemas`` needs them
(:mod:`chalicelib.model_docs`, about 200 ms of a cold start), two modules it rarely uses load on
first use and the filter grammar's parser is loaded as saved (:mod:`chalicelib.import_cost`).
The authorizer never imports it.
"""

from chalicelib import import_cost, model_docs

model_docs.defer()  # first: the grammar's import below creates model classes
import_cost.defer()
