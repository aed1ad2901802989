"""The letters the commune sends citizens: an apology after a follow-up case,
a thank-you for a comment (rules only; the pages are :mod:`server.web.cases`
and :mod:`server.web.comments`, the writers :mod:`server.documents`).

**Who.** A leader issues either letter; the admin issues the apology of a
case given to them (as they act on it). Nobody else: the letter names the
citizen.

**Numbers.** Each letter issued is registered (:mod:`server.store.letters`):
its kind, the case or comment it answers, its number within the year, who
issued it, when and the date it bears. Numbers run from 1 each year, in the
commune's time zone, per kind: each kind has its own symbol (``TXL``, ``TCƠ``)
and so its own sequence, like the commune's other kinds of documents. A case
(or comment) has one letter of a kind: downloading it again, as PDF or DOCX,
gives the same letter, number and date back, which is what a clerk expects
when the first copy was misprinted; the register stays one line per letter
sent, which the periodic reports count (:func:`count_issued`).

**Text.** A letter's words come from a Jinja2 text template
(:class:`LetterTemplates`): header lines (``Loại văn bản:``, ``Trích yếu:``,
``Kính gửi:``, ``Nơi nhận:``), a blank line, then paragraphs separated by
blank lines (``## `` starts a heading). The shipped ones are in
``server/documents/templates``; a file of the same name in the directory
given by ``--letter-templates`` replaces one. The template is rendered before
a number is given, so a broken template costs no number.

**Personal data.** The letter carries the citizen's name when they gave one
(a suggestion's signature), never their phone number nor their comment's
text. The register and the audit entries (``letter.issue``,
``letter.download``) hold only ids, kinds and numbers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Connection, Engine

from server import comments as comment_rules
from server.accounts import Account, AccountBook, Role
from server.cases import Case, CaseBook, CaseOutcome
from server.clock import Clock, utc_now, utc_text
from server.documents.model import (
    AdministrativeDocument,
    Block,
    Heading,
    Paragraph,
    document_number,
    letterhead,
)
from server.settings import ServerSettings, load_settings
from server.store import letters as stored
from server.store import read_transaction, write_transaction
from server.store.ratings import counter_names, officer_names
from sync.scale import SCALES

__all__ = [
    "APOLOGY", "THANKS", "KINDS", "SYMBOLS", "TEMPLATE_FILES", "SHIPPED_TEMPLATES", "LetterError", "TemplateError",
    "LetterText", "IssuedLetter", "Letter", "LetterTemplates", "LetterDesk", "count_issued",
    "write_shipped_templates", "may_issue_apology", "thanks_allowed", "short_date",
]

APOLOGY = "apology"
THANKS = "thanks"
KINDS = (APOLOGY, THANKS)

# The symbols of the kinds in a letter's number («Số: 3/TXL-UBND»). Decree
# 30/2020's list of abbreviations has none for a letter (thư công), so each
# is made as the decree makes the others: the initials of its Vietnamese
# name, Vietnamese letters kept (as in QĐ, HĐ) — Thư Xin Lỗi, Thư Cảm Ơn.
SYMBOLS = {APOLOGY: "TXL", THANKS: "TCƠ"}

TEMPLATE_FILES = {APOLOGY: "apology.vi.txt", THANKS: "thanks.vi.txt"}
SHIPPED_TEMPLATES = Path(__file__).parent / "documents" / "templates"

BLANK = "…………………………………………"
"""The dotted line left for a name to be written by hand."""


class LetterError(ValueError):
    """A letter that cannot be made; ``code`` names why (``not_allowed``,
    ``no_case``, ``no_comment``, ``not_positive``, ``template``)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class TemplateError(LetterError):
    """A template that does not render or does not have a letter's shape:
    ``template`` is its file name, ``detail`` what is wrong (with the line)."""

    def __init__(self, template: str, detail: str):
        super().__init__("template", detail)
        self.template = template


@dataclass(frozen=True)
class LetterText:
    """What a rendered template says."""

    kind: str
    subject: str
    recipients: tuple[str, ...]
    copies_to: tuple[str, ...]
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class IssuedLetter:
    """A letter in the register."""

    id: int
    kind: str
    case_id: int | None
    comment_id: int | None
    year: int
    number: int
    issued_at: str
    issued_on: date
    issued_by: str

    @property
    def reference(self) -> str:
        """``3/TXL-UBND`` without «Số:» (for the audit and file names)."""
        return f"{self.number}/{SYMBOLS[self.kind]}"


@dataclass(frozen=True)
class Letter:
    """A letter ready to write: the document, its register entry, and
    whether this download issued it (False: it was issued before)."""

    document: AdministrativeDocument
    issued: IssuedLetter
    new: bool

    @property
    def file_stem(self) -> str:
        """An ASCII file name without extension: ``thu-xin-loi-so-3-2026``."""
        name = "thu-xin-loi" if self.issued.kind == APOLOGY else "thu-cam-on"
        return f"{name}-so-{self.issued.number}-{self.issued.year}"


def short_date(day: date) -> str:
    """``05/3/2026``: as Decree 30 writes dates in running text (a leading
    zero for days below 10 and for January and February)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{day.day:02d}/{month}/{day.year}"


# -- templates ----------------------------------------------------------------------

_HEADER_KEYS = {"loại văn bản": "kind", "trích yếu": "subject", "kính gửi": "recipients", "nơi nhận": "copies_to"}


class LetterTemplates:
    """The letters' templates: the shipped ones, each replaced by a file of
    the same name in ``override_dir`` when there is one. Edits to a file are
    read on the next letter (no restart)."""

    def __init__(self, override_dir: Path | str | None = None):
        self.override_dir = Path(override_dir) if override_dir else None
        paths = [str(self.override_dir)] if self.override_dir else []
        paths.append(str(SHIPPED_TEMPLATES))
        # Sandboxed: a template is a file a commune edits; it reaches only the
        # values it is given. Undefined names fail loudly, with their line.
        self.environment = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(paths, encoding="utf-8"), undefined=jinja2.StrictUndefined,
            autoescape=False, keep_trailing_newline=True, auto_reload=True)

    def source_of(self, kind: str) -> Path:
        """The file a kind's letter is written from (the override when present)."""
        name = TEMPLATE_FILES[kind]
        if self.override_dir is not None and (self.override_dir / name).is_file():
            return self.override_dir / name
        return SHIPPED_TEMPLATES / name

    def render(self, kind: str, values: Mapping[str, Any]) -> LetterText:
        """The letter's text from its template and ``values``. Raises :class:`TemplateError`."""
        name = TEMPLATE_FILES[kind]
        try:
            text = self.environment.get_template(name).render(**values)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(name, f"line {exc.lineno}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(name, f"{type(exc).__name__}: {exc}") from None
        except UnicodeDecodeError:
            raise TemplateError(name, "the file is not UTF-8 text") from None
        except Exception as exc:  # noqa: BLE001 - whatever a template does wrong is the template's fault
            raise TemplateError(name, f"{type(exc).__name__}: {exc}") from None
        return parse_letter(name, text)


def parse_letter(name: str, text: str) -> LetterText:
    """A rendered template's header lines and paragraphs. Raises :class:`TemplateError`."""
    lines = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    position = 0
    while position < len(lines) and not lines[position].strip():
        position += 1
    header: dict[str, list[str]] = {"kind": [], "subject": [], "recipients": [], "copies_to": []}
    while position < len(lines) and lines[position].strip():
        line = lines[position].strip()
        key, colon, value = line.partition(":")
        field = _HEADER_KEYS.get(" ".join(key.lower().split())) if colon else None
        if field is None:
            raise TemplateError(name, f"header line {position + 1}: «{line[:60]}» is not one of "
                                      "Loại văn bản:, Trích yếu:, Kính gửi:, Nơi nhận: (a blank line ends them)")
        header[field].append(" ".join(value.split()))
        position += 1
    if not header["kind"] or not header["kind"][0]:
        raise TemplateError(name, "no «Loại văn bản:» line (the letter's kind, e.g. THƯ XIN LỖI)")
    blocks: list[Block] = []
    paragraph: list[str] = []
    for line in [*lines[position:], ""]:
        if line.strip():
            paragraph.append(line.strip())
            continue
        if paragraph:
            joined = " ".join(" ".join(paragraph).split())
            blocks.append(Heading(joined[2:].strip()) if joined.startswith("## ") else Paragraph(joined))
            paragraph = []
    if not blocks:
        raise TemplateError(name, "the letter has no paragraph after the header lines")
    return LetterText(kind=header["kind"][0], subject=" ".join(header["subject"]),
                      recipients=tuple(r for r in header["recipients"] if r),
                      copies_to=tuple(c for c in header["copies_to"] if c), blocks=tuple(blocks))


def write_shipped_templates(out_dir: Path | str, *, overwrite: bool = False) -> list[Path]:
    """Copy the shipped templates into ``out_dir`` (made if missing) for a
    commune to edit; an existing file is kept unless ``overwrite``. The files written."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TEMPLATE_FILES.values():
        destination = target / name
        if destination.exists() and not overwrite:
            continue
        destination.write_bytes((SHIPPED_TEMPLATES / name).read_bytes())
        written.append(destination)
    return written


# -- who may ------------------------------------------------------------------------


def may_issue_apology(case: Case, account: Account) -> bool:
    """A leader, or the admin the case is given to (as on the case's page)."""
    return account.role is Role.LEADER or (account.role is Role.ADMIN and case.owner_id == account.id)


def thanks_allowed(found: comment_rules.Comment) -> bool:
    """A thank-you answers a suggestion or a comment on a satisfied rating."""
    if found.kind == comment_rules.KIND_SUGGESTION:
        return True
    scale = SCALES.get(found.scale) if found.scale is not None else None
    levels = {level.key: level for level in scale.levels} if scale else {}
    level = levels.get(found.level or "")
    return level is not None and level.satisfied


# -- issuing ------------------------------------------------------------------------


def _body_name(settings: ServerSettings) -> str:
    """The issuing body as a sentence names it: «Ủy ban nhân dân xã Hòa Bình»."""
    name = " ".join(settings.commune_name.split())
    lowered = name.lower()
    for prefix in ("ủy ban nhân dân ", "uỷ ban nhân dân ", "ubnd "):
        if lowered.startswith(prefix):
            name, lowered = name[len(prefix):], lowered[len(prefix):]
            break
    for unit in ("xã ", "phường ", "thị trấn ", "đặc khu "):
        if lowered.startswith(unit):
            name = unit + name[len(unit):]
            break
    return f"Ủy ban nhân dân {name}".strip()


def _issued(row: Mapping[str, Any]) -> IssuedLetter:
    return IssuedLetter(id=int(row["id"]), kind=row["kind"], case_id=row["case_id"], comment_id=row["comment_id"],
                        year=int(row["year"]), number=int(row["number"]), issued_at=row["issued_at"],
                        issued_on=date.fromisoformat(row["issued_on"]), issued_by=row["issued_by"])


class LetterDesk:
    """Makes the letters: checks who asks, renders the template, issues (or
    finds) the letter's number and builds the document; audited through the
    :class:`AccountBook`."""

    def __init__(self, engine: Engine, accounts: AccountBook, cases: CaseBook, *,
                 templates: LetterTemplates | None = None, clock: Clock = utc_now):
        self.engine = engine
        self.accounts = accounts
        self.cases = cases
        self.templates = templates or LetterTemplates()
        self.clock = clock

    def apology(self, case_id: int, actor: Account, address: str | None = None) -> Letter:
        """The apology letter of a case (issued on first request). Raises :class:`LetterError`."""
        case = self.cases.get(case_id)
        if case is None:
            raise LetterError("no_case")
        if not may_issue_apology(case, actor):
            raise LetterError("not_allowed")
        found = comment_rules.comment(self.engine, case.comment_id) if case.comment_id is not None else None
        visit = None
        if case.rating_uuid is not None:
            with read_transaction(self.engine) as conn:
                visit = stored.visit_of_rating(conn, case.rating_uuid)
        values = {"outcome": case.outcome.value if isinstance(case.outcome, CaseOutcome) else None,
                  "source": found.kind if found else "rating"}
        return self._letter(APOLOGY, actor, address, values, found=found, visit=visit, case_id=case.id)

    def thanks(self, comment_id: int, actor: Account, address: str | None = None) -> Letter:
        """The thank-you letter of a comment (issued on first request). Raises :class:`LetterError`."""
        if actor.role is not Role.LEADER:
            raise LetterError("not_allowed")
        found = comment_rules.comment(self.engine, comment_id)
        if found is None:
            raise LetterError("no_comment")
        visit = None
        if found.rating_uuid is not None:
            with read_transaction(self.engine) as conn:
                visit = stored.visit_of_rating(conn, found.rating_uuid)
            if visit is not None:
                found = replace(found, scale=visit["scale"], level=visit["level"])
        if not thanks_allowed(found):
            raise LetterError("not_positive")
        return self._letter(THANKS, actor, address, {"source": found.kind}, found=found, visit=visit,
                            comment_id=found.id)

    def issued(self, kind: str, *, case_id: int | None = None, comment_id: int | None = None) -> IssuedLetter | None:
        """The letter of that kind already issued for a case or comment, if any."""
        with read_transaction(self.engine) as conn:
            row = stored.letter_for(conn, kind, case_id=case_id, comment_id=comment_id)
        return _issued(row) if row else None

    def issued_for_comments(self, comment_ids: list[int]) -> dict[int, IssuedLetter]:
        """The thank-you letters already issued for these comments, by comment id."""
        with read_transaction(self.engine) as conn:
            rows = stored.letters_for_comments(conn, THANKS, comment_ids)
        return {int(row["comment_id"]): _issued(row) for row in rows}

    # -- inside -------------------------------------------------------------------

    def _letter(self, kind: str, actor: Account, address: str | None, values: dict[str, Any], *,
                found: comment_rules.Comment | None, visit: Mapping[str, Any] | None,
                case_id: int | None = None, comment_id: int | None = None) -> Letter:
        settings = load_settings(self.engine)
        head = letterhead(settings)
        now = self.clock()
        today = now.astimezone(settings.zone).date()
        existing = self.issued(kind, case_id=case_id, comment_id=comment_id)
        day = existing.issued_on if existing else today
        context = self._context(settings, head.commune, found, visit, day)
        context.update(values)
        # Rendered before a number is issued: a broken template costs none.
        text = self.templates.render(kind, context)
        letter, new = (existing, False) if existing else self._issue(kind, actor, now, today, case_id, comment_id)
        target = f"case {case_id}" if case_id is not None else f"comment {comment_id}"
        self.accounts.audit(actor.username, "letter.issue" if new else "letter.download", target,
                            f"{kind} {letter.number}/{SYMBOLS[kind]}-{head.symbol} {letter.year}", address)
        document = AdministrativeDocument(
            issuer=head.issuer, number=document_number(SYMBOLS[kind], head.symbol, letter.number),
            place=head.place, day=letter.issued_on, kind=text.kind, subject=text.subject, blocks=text.blocks,
            signature=head.signature, recipients=text.recipients, copies_to=text.copies_to,
            author=_body_name(settings), keywords=(text.kind.lower(),))
        return Letter(document=document, issued=letter, new=new)

    def _context(self, settings: ServerSettings, commune: str, found: comment_rules.Comment | None,
                 visit: Mapping[str, Any] | None, day: date) -> dict[str, Any]:
        """The values a template may use (never a phone number, never the comment's text)."""
        officer_id = (visit or {}).get("officer_id") or (found.officer_id if found else None)
        counter_id = (visit or {}).get("counter_id") or (found.counter_id if found else None)
        with read_transaction(self.engine) as conn:
            officers, counters = officer_names(conn), counter_names(conn)
        visited = (visit or {}).get("corrected_time") or (found.rated_at if found else None)
        return {
            "body_name": _body_name(settings),
            "commune": commune,
            "citizen": (found.name or "").strip() if found and not found.erased_at else "",
            "blank": BLANK,
            "visit_date": self._local_day(visited, settings),
            "written_date": self._local_day(found.created_at, settings) if found else "",
            "counter": counters.get(counter_id or "", "") if counter_id else "",
            "officer": officers.get(officer_id or "", "") if officer_id else "",
            "date": short_date(day),
            "leader_title": settings.leader_title,
            "leader_name": settings.leader_name,
            "outcome": None,
            "source": "rating",
        }

    @staticmethod
    def _local_day(stamp: str | None, settings: ServerSettings) -> str:
        if not stamp:
            return ""
        return short_date(datetime.fromisoformat(stamp).astimezone(settings.zone).date())

    def _issue(self, kind: str, actor: Account, now: datetime, today: date, case_id: int | None,
               comment_id: int | None) -> tuple[IssuedLetter, bool]:
        """Register the letter with the next number of its kind in the year
        (or find the one another request registered first)."""

        def work(conn: Connection) -> tuple[dict[str, Any], bool]:
            present = stored.letter_for(conn, kind, case_id=case_id, comment_id=comment_id)
            if present is not None:
                return present, False
            number = stored.last_number(conn, kind, today.year) + 1
            return stored.add_letter(conn, kind=kind, case_id=case_id, comment_id=comment_id, year=today.year,
                                     number=number, issued_at=utc_text(now), issued_on=today.isoformat(),
                                     issued_by=actor.username), True

        row, new = write_transaction(self.engine, work)
        return _issued(row), new


def count_issued(engine: Engine, start_utc: datetime, end_utc: datetime) -> dict[str, int]:
    """How many letters of each kind (``apology``, ``thanks``) were issued
    from ``start_utc`` (included) to ``end_utc`` (excluded); both aware datetimes."""
    with read_transaction(engine) as conn:
        found = stored.count_by_kind(conn, utc_text(start_utc), utc_text(end_utc))
    return {kind: found.get(kind, 0) for kind in KINDS}
