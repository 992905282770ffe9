"""Provisioning events: the tables' changes, as the domain events One Model acts on.

The stream functions of ``app.py`` hand each batch of DynamoDB stream records to
:func:`chalicelib.events.consumer.consume`, which reads them through the store
(:mod:`chalicelib.store.streams`), turns them into events (:mod:`.changes`, with the roles a
user has before and after from :mod:`.user_roles`) and publishes them to the stage's
EventBridge bus (:mod:`.publishing`). ``make run`` runs the same consumer on the embedded
store's streams (``devserver/streams.py``). docs/reference/events.md is the consumer's guide.
"""

STREAM_BATCH_SIZE = 10
"""Records per invocation of a stream function (Chalice's event source; ``make run`` feeds as many)."""
RETRY_ATTEMPTS = 3
"""How often a record that failed is delivered again before it is set aside on the dead-letter queue:
``make deploy`` sets the event source mapping's ``MaximumRetryAttempts`` to it, ``make run`` does the same."""
