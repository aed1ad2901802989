"""The commune server: receives the tablets' batches, verifies and
de-duplicates them, corrects their times, pairs and revokes devices and
pushes the roster to them.

``python -m server --db PATH`` serves the HTTP API (``/api/v1/``, described
at ``/openapi.json``); ``python -m server --help`` lists the technician's
commands (approve, revoke, devices, export, roster).

Imports run one way, from HTTP down to the rules:

* :mod:`server.api` builds the application (:func:`server.api.create_app`);
  :mod:`server.routes` holds one router per resource, and
  :mod:`server.deps` their dependencies: the services, and who may call.
* The services put rules and storage together: :mod:`server.registry`
  (pairing and devices), :mod:`server.batches` (receiving a batch),
  :mod:`server.roster` (the roster pushed to tablets), :mod:`server.export`.
* The rules are free of HTTP and SQL: :mod:`server.ingest` (chain, sequence
  and idempotency decisions, the flags a record carries) and
  :mod:`server.clock` (time correction, and the server's injectable clock).
* :mod:`server.store` holds every table, query and migration.

The server shares the device↔server contract of :mod:`sync` with the tablets
and imports nothing of the tablet's own code.
"""
