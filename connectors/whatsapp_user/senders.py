"""Who wrote each WhatsApp message the account saw, kept on disk.

A quote names the quoted message's sender. The connector's message cache holds whole
messages only for a while; a quote of an older one is built from its ids, and without
the sender WhatsApp shows it as written by the group. So every message's chat, id and
sender is also written here: a small SQLite file per instance next to the session store,
which outlives the cache and a restart. It keeps the last ``keep`` messages.

The file is local to the supervisor's machine: when an instance moves to another machine
(``settings.session_db`` on a shared database), quotes of messages seen before the move
fall back to the chat.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

PRUNE_EVERY = 1000  # inserts between two trims of the oldest rows


class SenderRecords:
    """(chat, message id) → sender JID, as strings; used from the connector's event loop."""

    def __init__(self, path: Path | str, keep: int = 200_000) -> None:
        self.keep = keep
        self._inserts = 0
        # neonize calls back on the loop thread, which need not be the one that built us
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # one small write per message on the event loop: no fsync per commit (WAL + NORMAL
        # loses at most the last few records on a power cut, never the file)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sender ("
            " chat TEXT NOT NULL, message_id TEXT NOT NULL, sender TEXT NOT NULL,"
            " PRIMARY KEY (chat, message_id))"
        )

    def record(self, chat: str, message_id: str, sender: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sender (chat, message_id, sender) VALUES (?, ?, ?)",
            (chat, message_id, sender),
        )
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self._db.execute(
                "DELETE FROM sender WHERE rowid <= (SELECT MAX(rowid) FROM sender) - ?",
                (self.keep,),
            )

    def sender_of(self, chat: str, message_id: str) -> str | None:
        row = self._db.execute(
            "SELECT sender FROM sender WHERE chat = ? AND message_id = ?", (chat, message_id)
        ).fetchone()
        return row[0] if row else None
