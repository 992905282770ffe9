"""Groups' displayNames a container keeps between requests, each valid for one group-names generation.

A user's groups are named by their group items, which the user's first round trip cannot read: it
does not know which groups they are until its memberships come back. So a container keeps the names
it read, filed under the tenant's group-names generation (:mod:`chalicelib.store.group_names`),
which every rename and delete increments in its own transaction. A read that learns generation *g*
in its first trip (with the tenant's role mappings and role source, one query) takes the names kept
under *g* and reads only the others, in a second trip.

Why a kept name is never wrong: a name is kept under *g* only when its group's item was read
(strongly consistent) after a read that returned *g*. Any rename or delete of that group after the
item was read increments the generation past *g*, so a reader that then reads the generation
does not look under *g* any more; a reader that read *g* before that rename committed may still
show the old name, which was the name when its request began. A deleted group's leftover
memberships are never named from here: its name was kept under an earlier generation.

Memory is bounded: at most :data:`MAX_NAMES` names, the least recently used going first; the names
of an old generation are never read again and go the same way.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

MAX_NAMES = 20_000
"""About 6 MB at the longest names SCIM clients send (256 characters), under 2 MB at usual ones."""

Scope = tuple[str, str, str, int]
"""(groups table, role_mappings table, tenant, generation): one tenant's groups' names as of one generation (a table
restored from a backup is a new table, and its generation starts again)."""


class GroupNames:
    """Names of groups by (scope, group id), least recently used first; safe to share between threads."""

    def __init__(self, max_names: int = MAX_NAMES) -> None:
        self.max_names = max_names
        self._names: OrderedDict[tuple[Scope, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, scope: Scope, group_ids: Iterable[str]) -> dict[str, str]:
        """The names kept for these groups under ``scope``: those it has, by group id."""
        found: dict[str, str] = {}
        with self._lock:
            for group_id in group_ids:
                name = self._names.get((scope, group_id))
                if name is not None:
                    self._names.move_to_end((scope, group_id))
                    found[group_id] = name
        return found

    def keep(self, scope: Scope, names: Mapping[str, str]) -> None:
        """Keep names read from group items after the generation of ``scope`` was read."""
        with self._lock:
            for group_id, name in names.items():
                self._names[(scope, group_id)] = name
                self._names.move_to_end((scope, group_id))
            while len(self._names) > self.max_names:
                self._names.popitem(last=False)

    def __len__(self) -> int:
        return len(self._names)

    def clear(self) -> None:
        with self._lock:
            self._names.clear()


CONTAINER = GroupNames()
"""The container's: every tenant's storage in this process shares it."""
