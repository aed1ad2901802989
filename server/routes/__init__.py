"""The HTTP API's routes, one router per resource: :mod:`.health`,
:mod:`.pairing`, :mod:`.seal_key`, :mod:`.batches`, :mod:`.roster`, :mod:`.devices` and :mod:`.surveys`.

Each route says in its docstring who may use it, and that is a dependency in
its signature (:mod:`server.deps`). Routes translate between HTTP and the
services; they hold no rules and write no SQL.
"""

from server.routes import batches, devices, health, pairing, roster, seal_key, surveys

ROUTERS = (health.router, pairing.router, seal_key.router, batches.router, roster.router, devices.router,
           surveys.router)
"""Every router, in the order the OpenAPI description lists them."""

__all__ = ["ROUTERS"]
