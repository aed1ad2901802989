"""The commune server: receives the tablets' batches, verifies and
de-duplicates them, corrects their times, pairs and revokes devices and
pushes the roster to them.

``python -m server --db PATH`` serves the HTTP API (``/api/v1/``, described
at ``/openapi.json``); ``python -m server --help`` lists the technician's
commands (approve, revoke, devices, export, roster).

The business rules live in modules free of HTTP: :mod:`server.ingest`
(chain, sequence and idempotency decisions) and :mod:`server.clock` (time
correction). :mod:`server.api` only translates HTTP to and from them.
"""
