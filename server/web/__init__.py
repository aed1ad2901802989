"""The commune dashboard: web pages served by the same application and
database as the tablets' API (``/api/v1/``).

:func:`mount_dashboard` is called once by :func:`server.api.create_app`. A
page module is one resource (:mod:`.auth`, :mod:`.home`, :mod:`.accounts`,
:mod:`.audit`, :mod:`.devices`…): an ``APIRouter`` named ``router`` whose
routes each state who may use them with :func:`server.web.auth.require`,
protect every POST with :func:`server.web.auth.csrf_protect`, and answer with
:func:`server.web.render.page`. Add a new module's router to
:data:`PAGE_ROUTERS`.

Every asset (CSS, htmx and Chart.js under ``static/vendor/``) is served by the server
itself from ``/static``: the commune network may have no internet.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from server.accounts import AccountBook
from server.alerts import AlertSender
from server.cases import CaseBook, on_opened
from server.web import (
    accounts,
    audit,
    auth,
    board,
    cases,
    comment_form,
    comments,
    devices,
    exports,
    home,
    home_rating,
    home_visits,
    menu,
    officers,
    reports,
    roster,
    server_settings,
    survey_form,
    survey_results,
    surveys,
)
from server.web.render import STATIC_DIR

__all__ = ["mount_dashboard", "PAGE_ROUTERS"]

PAGE_ROUTERS = (auth.router, home.router, accounts.router, audit.router, devices.router, roster.router,
                board.router, officers.router, exports.router, server_settings.router, comment_form.router,
                comments.router, cases.router, reports.router, home_visits.router, home_rating.router,
                surveys.router, survey_form.router, survey_results.router, menu.router)
"""Every page router of the dashboard."""


def mount_dashboard(app: FastAPI, engine: Engine) -> None:
    """Add the dashboard to the application: its services on ``app.state``
    (``accounts``: the :class:`~server.accounts.AccountBook`; ``cases``: the
    :class:`~server.cases.CaseBook`; ``alerts``: the
    :class:`~server.alerts.AlertSender` that e-mails leaders of new cases;
    ``engine``), the answer to refused access, the page routers and ``/static``."""
    app.state.engine = engine
    app.state.accounts = AccountBook(engine, clock=app.state.clock)
    app.state.cases = CaseBook(engine, app.state.accounts, clock=app.state.clock)
    app.state.alerts = AlertSender(engine, app.state.cases, public_url=app.state.launch.public_url)
    on_opened(engine, app.state.alerts.cases_opened)
    auth.handle_access_denied(app)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
