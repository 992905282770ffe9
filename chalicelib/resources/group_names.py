"""Groups' displayNames a container keeps between requests, brought up to date by the group-names generation.

A user's groups are named by their group items, which the user's first round trip cannot read: it
does not know which groups they are until its memberships come back. So a container keeps the names
it read, per tenant, with the tenant's group-names generation (:mod:`chalicelib.store.group_names`)
they are valid for. Every rename and delete of a group writes the next generation, naming the
group, in the transaction that makes the change. A read learns the current generation in its first
trip (with the tenant's role mappings and role source, one query), forgets the kept names of the
groups changed since the generation it kept them for (all of the tenant's, when the generation no
longer lists them all), takes the names it still has, and reads only the others, in a second trip.

Why a kept name is never wrong: a name is kept for generation *g* only when its group's item was
read (strongly consistent) after a read that returned *g*, and the tenant's names are still kept
for *g* then. A rename or delete of that group after the item was read writes a later generation
that names it, and any read that learns that generation forgets the name before it names anything.
A read whose generation is older than the kept one may name a group by a newer name, one it had
during the request. A deleted group's memberships left behind (a delete interrupted before they
were all deleted) are named by no kept name: the delete's generation made every container forget it.

A name is also kept for :data:`MAX_AGE_SECONDS` at most, then read again: a rename made by a
writer that does not write the generation (a request of the previous release still running while
a deploy switches to this one, an operator editing an item by hand) shows for that long at most.

Memory is bounded: at most :data:`MAX_NAMES` names and :data:`MAX_TENANTS` tenants, the least
recently used going first.
"""

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from chalicelib.store.group_names import GroupNamesGeneration

MAX_NAMES = 20_000
"""About 6 MB at the longest names SCIM clients send (256 characters), under 2 MB at usual ones."""
MAX_TENANTS = 4_096
MAX_AGE_SECONDS = 300.0

Scope = tuple[str, str, str]
"""(groups table, role_mappings table, tenant): a table restored from a backup is a new table, and its generation
starts again."""


@dataclass
class _Tenant:
    generation: int
    epoch: int
    """Part of the key of every name kept for the tenant: a new epoch forgets them all at once."""


class GroupNames:
    """Groups' names by tenant and group id, least recently used first; safe to share between threads."""

    def __init__(
        self, max_names: int = MAX_NAMES, max_tenants: int = MAX_TENANTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_names = max_names
        self.max_tenants = max_tenants
        self.clock = clock
        self._names: OrderedDict[tuple[Scope, int, str], tuple[str, float]] = OrderedDict()
        self._tenants: OrderedDict[Scope, _Tenant] = OrderedDict()
        self._epochs = itertools.count()
        self._lock = threading.Lock()

    def known(self, scope: Scope, current: GroupNamesGeneration, group_ids: Iterable[str]) -> dict[str, str]:
        """The names kept for these groups, once those of the groups changed since they were kept are forgotten:
        those it has, by group id."""
        found: dict[str, str] = {}
        oldest = self.clock() - MAX_AGE_SECONDS
        with self._lock:
            tenant = self._caught_up(scope, current)
            for group_id in group_ids:
                key = (scope, tenant.epoch, group_id)
                kept = self._names.get(key)
                if kept is not None and kept[1] >= oldest:
                    self._names.move_to_end(key)
                    found[group_id] = kept[0]
        return found

    def keep(self, scope: Scope, generation: int, names: Mapping[str, str]) -> None:
        """Keep names read from group items after ``generation`` was read, if the tenant's kept names are still
        those of that generation (else they may be older than a change a later read already applied)."""
        with self._lock:
            tenant = self._tenants.get(scope)
            if tenant is None or tenant.generation != generation:
                return
            now = self.clock()
            for group_id, name in names.items():
                key = (scope, tenant.epoch, group_id)
                self._names[key] = (name, now)
                self._names.move_to_end(key)
            while len(self._names) > self.max_names:
                self._names.popitem(last=False)

    def _caught_up(self, scope: Scope, current: GroupNamesGeneration) -> _Tenant:
        tenant = self._tenants.get(scope)
        if tenant is None:
            tenant = self._tenants[scope] = _Tenant(current.generation, next(self._epochs))
            while len(self._tenants) > self.max_tenants:
                self._tenants.popitem(last=False)
        elif current.generation > tenant.generation:
            changed = current.changed_since(tenant.generation)
            if changed is None:  # more changes than the generation lists: forget the tenant's names
                tenant.epoch = next(self._epochs)
            for group_id in changed or ():
                self._names.pop((scope, tenant.epoch, group_id), None)
            tenant.generation = current.generation
        self._tenants.move_to_end(scope)
        return tenant

    def __len__(self) -> int:
        return len(self._names)

    def clear(self) -> None:
        with self._lock:
            self._names.clear()
            self._tenants.clear()


CONTAINER = GroupNames()
"""The container's: every tenant's storage in this process shares it."""
