"""The management API (``/admin/v1``): what One Model's platform does for a customer's administrator.

Beside the SCIM adapter, never loaded by the authorizer. :mod:`.operations` holds each rule once;
``python -m admin`` calls the same functions.
"""
