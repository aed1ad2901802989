"""What an administrative document says, apart from how it is written.

Decree 30/2020/NĐ-CP (Appendix I) fixes the parts of an administrative
document and where they sit on an A4 page: the issuing body (top left, with
the parent body above it), the national title and motto (top right), the
number and symbol (under the issuing body), the place-date line (under the
motto, in italics), the kind of document and its subject (centred), the
recipient («Kính gửi»), the body, the signature block (right) and the list of
recipients («Nơi nhận», left). :class:`AdministrativeDocument` holds those
parts; the PDF and DOCX writers lay them out, so a letter or a report is
built once and written either way.

:func:`letterhead` fills the parts that come from the server's settings (the
commune's name, its leader's name and title).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from server.settings import ServerSettings

__all__ = [
    "NATIONAL_TITLE", "NATIONAL_MOTTO", "Issuer", "Signature", "Paragraph", "Heading", "Table", "Block",
    "AdministrativeDocument", "Letterhead", "letterhead", "front_issuer", "unit_name", "place_date_line",
    "document_number",
]

NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_MOTTO = "Độc lập - Tự do - Hạnh phúc"


@dataclass(frozen=True)
class Issuer:
    """The issuing body, as printed top left: ``parent`` above (may be
    empty), ``name`` in bold (may hold a line break)."""

    name: str
    parent: str = ""


@dataclass(frozen=True)
class Signature:
    """The signature block: the capacity (``TM. ỦY BAN NHÂN DÂN``), the
    signer's title (``CHỦ TỊCH``) and name (empty: room to write it)."""

    capacity: str
    title: str
    name: str = ""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the body (justified, first line indented)."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A section heading in the body (bold)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table in the body. ``rows`` hold text or numbers; ``numeric`` marks
    the columns aligned right; ``widths`` are relative column widths."""

    header: tuple[str, ...]
    rows: tuple[tuple[str | int | float, ...], ...]
    widths: tuple[float, ...] = ()
    numeric: tuple[int, ...] = ()


Block = Paragraph | Heading | Table


@dataclass(frozen=True)
class AdministrativeDocument:
    """An administrative document in the parts Decree 30/2020 names.

    ``kind`` is the document's name in capitals (``BÁO CÁO``, ``THƯ XIN
    LỖI``); ``subject`` its summary line under it (may be empty);
    ``recipients`` the «Kính gửi» lines (none for a report).
    """

    issuer: Issuer
    number: str
    place: str
    day: date
    kind: str
    subject: str
    blocks: tuple[Block, ...]
    signature: Signature
    recipients: tuple[str, ...] = ()
    copies_to: tuple[str, ...] = ()
    author: str = ""
    keywords: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Letterhead:
    """The parts of every document that come from the server's settings."""

    issuer: Issuer
    place: str
    symbol: str
    signature: Signature
    commune: str


# What the commune's name may start with, from the longest: dropped to find
# the place name («UBND phường Hòa Bình» → «Hòa Bình»).
_ADMIN_PREFIXES = ("ủy ban nhân dân", "uỷ ban nhân dân", "ubnd", "thị trấn", "đặc khu", "phường", "xã")


def _without_prefixes(name: str) -> str:
    text = name.strip()
    changed = True
    while changed:
        changed = False
        for prefix in _ADMIN_PREFIXES:
            if text.lower().startswith(prefix + " "):
                text = text[len(prefix):].strip()
                changed = True
    return text


def _unit_name(commune_name: str) -> str:
    """The commune's name without «UBND» («phường Hòa Bình»)."""
    text = commune_name.strip()
    for prefix in ("ủy ban nhân dân", "uỷ ban nhân dân", "ubnd"):
        if text.lower().startswith(prefix + " "):
            return text[len(prefix):].strip()
    return text


def letterhead(settings: ServerSettings) -> Letterhead:
    """The letterhead from the settings, with the defaults Decree 30 implies
    for a commune's People's Committee when a setting is empty."""
    commune = settings.commune_name.strip()
    unit = _unit_name(commune)
    body = settings.issuing_body or ("ỦY BAN NHÂN DÂN\n" + unit.upper() if unit else "ỦY BAN NHÂN DÂN")
    return Letterhead(
        issuer=Issuer(name=body, parent=settings.issuing_parent),
        place=settings.place_name or _without_prefixes(commune),
        symbol=settings.document_symbol or "UBND",
        signature=Signature(capacity=settings.signer_capacity, title=settings.leader_title,
                            name=settings.leader_name),
        commune=commune,
    )


def unit_name(commune_name: str) -> str:
    """The commune's name without «UBND» (``phường Hòa Bình``)."""
    return _unit_name(commune_name)


def front_issuer(settings: ServerSettings) -> Issuer:
    """The commune's Fatherland Front committee as an issuing body, from the
    commune's name: «ỦY BAN MTTQ VIỆT NAM» over «PHƯỜNG HÒA BÌNH»."""
    unit = _unit_name(settings.commune_name)
    return Issuer(name="ỦY BAN MTTQ VIỆT NAM" + (f"\n{unit.upper()}" if unit else ""))


def place_date_line(place: str, day: date) -> str:
    """``Hòa Bình, ngày 05 tháng 03 năm 2026``: Decree 30 writes days below
    10 and the months January and February with a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    line = f"ngày {day.day:02d} tháng {month} năm {day.year}"
    return f"{place}, {line}" if place else line


def document_number(kind_symbol: str, body_symbol: str, number: int | None = None) -> str:
    """``Số: 12/BC-UBND``; without a number, room to write one (``Số:    /BC-UBND``)."""
    head = f"{number}" if number else "    "
    return f"Số: {head}/{kind_symbol}-{body_symbol}" if kind_symbol else f"Số: {head}/{body_symbol}"
