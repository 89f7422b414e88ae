"""The purge of a deleted user's rows in the application database."""

from __future__ import annotations

import uuid

from alt.platform.db import Connection

# Children first. Inoreader's own tables hang off the account and go with it (ON DELETE
# CASCADE); shared rows (feeds, articles) are nobody's and stay.
_PURGE = [
    ("favorites", "DELETE FROM favorites WHERE user_id = %(user_id)s"),
    ("read_states", "DELETE FROM read_states WHERE user_id = %(user_id)s"),
    ("subscriptions", "DELETE FROM subscriptions WHERE user_id = %(user_id)s"),
    ("categories", "DELETE FROM categories WHERE user_id = %(user_id)s"),
    ("inoreader_accounts", "DELETE FROM inoreader_accounts WHERE user_id = %(user_id)s"),
]


async def user_data(conn: Connection, user_id: uuid.UUID) -> dict[str, int]:
    """Delete every row of the user; how many per table. Run in a transaction: all or none
    go. Deleting what is already gone is fine."""
    counts: dict[str, int] = {}
    for table, statement in _PURGE:
        cursor = await conn.execute(statement, {"user_id": user_id})
        counts[table] = cursor.rowcount
    return counts
