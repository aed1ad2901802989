"""E-mail alerts: when a follow-up case opens, the leaders get a message in
Vietnamese with a link to it, the officer's name and the level given — never
the citizen's phone number, nor a comment's text.

Mail is sent off the upload's and the page's thread: :class:`AlertSender`
queues the new cases' ids (it listens through :func:`server.cases.on_opened`)
and one background thread writes and sends each message, retrying a failed
one a few times, later each time. The mail server is the server settings'
(``smtp_host``, ``smtp_port``, ``smtp_from``, ``smtp_starttls``,
``smtp_user``, ``smtp_password``) and the recipients ``alert_to``; with no
host, or nobody to tell, nothing is sent. Failures are logged with the case's
number and the error's kind only.
"""

from __future__ import annotations

import heapq
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import Engine

from server.cases import Case, CaseBook
from server.i18n import translate
from server.settings import ServerSettings, load_settings
from server.store import read_transaction
from server.store.ratings import officer_names

__all__ = ["AlertSender", "alert_message", "RETRY_DELAYS_S"]

log = logging.getLogger("hailong.server.alerts")

RETRY_DELAYS_S: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0)
"""How long to wait before each new attempt at a message that failed."""
IDLE_S = 60.0
"""How long the sending thread waits for work before it ends."""


def alert_message(case: Case, officer_name: str | None, settings: ServerSettings, public_url: str) -> EmailMessage:
    """The message announcing ``case`` to ``settings.alert_to``: a link to
    ``<public_url>/cases/<id>`` (without a public URL, where to find the case
    instead: a link relative to nothing would lead nowhere from a mailbox),
    the officer and the level. Nothing the citizen wrote or left (number,
    comment) is in it."""
    def t(key: str, **values: object) -> str:
        return translate("vi", key, **values)

    level = t(f"board.level.{case.level}") if case.level else t("cases.mail.no_level")
    if level.startswith("board.level."):
        level = case.level or ""
    officer = officer_name or case.officer_id or t("cases.mail.no_officer")
    commune = settings.commune_name or t("app.commune_unknown")
    message = EmailMessage()
    message["Subject"] = t("cases.mail.subject", id=case.id, officer=officer)
    message["From"] = settings.smtp_from or "hailong@localhost"
    message["To"] = ", ".join(settings.alert_to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="hailong.local")
    lines = [
        t("cases.mail.greeting"),
        "",
        t("cases.mail.opened", id=case.id, commune=commune),
        t("cases.mail.officer", officer=officer),
        t("cases.mail.level", level=level),
        t("cases.mail.cause", cause=t(f"cases.cause.{case.cause.value}")),
    ]
    if case.callback:
        lines.append(t("cases.mail.callback"))
    lines += ["", t("cases.mail.due", due=_local_day(case.due_on)), ""]
    if public_url:
        lines += [t("cases.mail.link"), f"{public_url.rstrip('/')}/cases/{case.id}"]
    else:
        lines.append(t("cases.mail.no_link", id=case.id))
    lines += ["", t("cases.mail.footer")]
    message.set_content("\n".join(lines), charset="utf-8")
    return message


def _local_day(iso_day: str) -> str:
    year, month, day = iso_day.split("-")
    return f"{day}/{month}/{year}"


class AlertSender:
    """Sends the alert of each new case, on its own thread, with retries.

    ``public_url``: the dashboard's address as leaders reach it (the links);
    ``retry_delays_s``: the waits before each new attempt; ``connect``: how to
    reach the mail server (``smtplib.SMTP`` by default; tests may replace it)."""

    def __init__(self, engine: Engine, cases: CaseBook, *, public_url: str | None,
                 retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
                 connect: Callable[..., smtplib.SMTP] = smtplib.SMTP, timeout_s: float = 20.0):
        self.engine = engine
        self.cases = cases
        self.public_url = (public_url or "").rstrip("/")
        self.retry_delays_s = tuple(retry_delays_s)
        self.connect = connect
        self.timeout_s = timeout_s
        self._waiting: list[tuple[float, int, int]] = []  # (when, case id, attempts made): a heap
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.sent = 0
        """Messages sent so far (for tests and the log)."""

    def cases_opened(self, case_ids: list[int]) -> None:
        """Queue the alerts of new cases (returns at once)."""
        with self._wake:
            for case_id in case_ids:
                heapq.heappush(self._waiting, (time.monotonic(), case_id, 0))
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="hailong-alerts", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread (messages still waiting are dropped)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._waiting or self._waiting[0][0] > time.monotonic()):
                    if not self._waiting:
                        # Idle: the thread ends after a while and the next case starts another.
                        if not self._wake.wait(IDLE_S) and not self._waiting:
                            self._thread = None
                            return
                        continue
                    self._wake.wait(self._waiting[0][0] - time.monotonic())
                if self._stopped:
                    return
                _when, case_id, attempts = heapq.heappop(self._waiting)
            try:
                self.send(case_id)
            except Exception as error:  # noqa: BLE001 - logged, retried, never raised into the server
                # The kind of error only: an SMTP answer may quote addresses.
                if attempts < len(self.retry_delays_s):
                    log.warning("alert for case %d not sent (attempt %d, %s); trying again later", case_id,
                                attempts + 1, type(error).__name__)
                    with self._wake:
                        heapq.heappush(self._waiting,
                                       (time.monotonic() + self.retry_delays_s[attempts], case_id, attempts + 1))
                else:
                    log.error("alert for case %d given up after %d attempts (%s)", case_id, attempts + 1,
                              type(error).__name__)

    def send(self, case_id: int) -> bool:
        """Write and send one case's alert now; whether a message went out
        (not when no mail server or recipient is set). Raises on failure."""
        settings = load_settings(self.engine)
        if not settings.smtp_host or not settings.alert_to:
            return False
        case = self.cases.get(case_id)
        if case is None:
            return False
        with read_transaction(self.engine) as conn:
            name = officer_names(conn).get(case.officer_id or "")
        message = alert_message(case, name, settings, self.public_url)
        with self.connect(settings.smtp_host, settings.smtp_port, timeout=self.timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message, from_addr=message["From"], to_addrs=list(settings.alert_to))
        self.sent += 1
        log.info("alert for case %d sent to %d address(es)", case_id, len(settings.alert_to))
        return True
