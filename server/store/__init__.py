"""Everything the server keeps in its database, in one place: the tables
(:mod:`server.store.tables`), opening the database and its transactions
(:mod:`server.store.database`), bringing an older database up to date
(:mod:`server.store.migrations`) and the queries of each part of the server:
devices and pairings (:mod:`server.store.devices`), received batches
(:mod:`server.store.batches`), the roster (:mod:`server.store.roster`) and
the export (:mod:`server.store.export`).

No SQL is written outside this package. The query functions take an open
``Connection``: the services decide what one transaction holds.
"""

from server.store.database import database_url, open_engine, read_transaction, write_transaction

__all__ = ["open_engine", "database_url", "read_transaction", "write_transaction"]
