"""``make run``'s stand-in for the stage's bus and dead-letter queue: the events it would publish, in a file.

One JSON line per event, as ``PutEvents`` would have carried it (``DetailType``, ``Source``, the
``Detail`` object), appended in publication order; one line per record set aside in a second file.
``python -m admin events`` reads them back (``admin/events.py``). The files sit beside the
local store's file (``SCIM_LOCAL_STORE_FILE``) and are emptied when ``make run`` starts.
"""

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from admin.target import dead_letters_file, events_file
from chalicelib.events.catalog import SOURCE, Event
from chalicelib.store.streams import StreamPosition


class EventLog:
    """A :class:`~chalicelib.events.publishing.Publisher` and dead-letter queue writing to the local files."""

    def __init__(self, events: Path, dead_letters: Path) -> None:
        self.events = events
        self.dead_letters = dead_letters
        self._lock = threading.Lock()

    @classmethod
    def fresh(cls) -> "EventLog":
        """The local files, emptied: a new ``make run`` starts a new store."""
        log = cls(events_file(), dead_letters_file())
        for path in (log.events, log.dead_letters):
            path.write_text("")
        return log

    def publish(self, events: Sequence[Event]) -> None:
        lines = [
            json.dumps({"Source": SOURCE, "DetailType": event.name, "Detail": event.detail()}, sort_keys=True)
            for event in events
        ]
        self._append(self.events, lines)

    def set_aside(self, position: StreamPosition, reason: str) -> None:
        line = {
            "setAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "reason": reason[:500],
            "table": position.table,
            "eventID": position.event_id,
            "sequenceNumber": position.sequence_number,
        }
        self._append(self.dead_letters, [json.dumps(line, sort_keys=True)])

    def _append(self, path: Path, lines: Sequence[str]) -> None:
        if not lines:
            return
        with self._lock, path.open("a") as file:
            file.write("".join(line + "\n" for line in lines))
            file.flush()
