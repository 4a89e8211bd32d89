"""The cover page as PostScript text (pure): sender, recipient, date, the documents sent.

Everything printed may come from a caller (caller ID, a customer's name) or an admin (titles):
it is reduced to printable ASCII (anything else becomes '?'; fax machines print no fonts for
it anyway) and escaped as a PostScript string, so no text can end the string and run as
PostScript. Ghostscript renders it with ``-dSAFER`` besides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LINE = 90
MAX_DOCUMENT_LINES = 30


@dataclass(frozen=True, slots=True)
class CoverDocument:
    code: str
    title: str
    pages: int


@dataclass(frozen=True, slots=True)
class Cover:
    sender: str
    recipient: str  # the caller's number, or the destination
    customer: str  # the customer's name when known
    at: datetime
    job: str
    documents: tuple[CoverDocument, ...]

    @property
    def pages(self) -> int:
        """Pages of the whole fax, this cover included."""
        return 1 + sum(d.pages for d in self.documents)


def printable(text: str, limit: int = LINE) -> str:
    """Printable ASCII only, on one line, at most ``limit`` characters."""
    flat = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    return flat[:limit]


def ps_string(text: str) -> str:
    """``text`` (printable ASCII) as a PostScript string literal."""
    escaped = printable(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


def cover_postscript(cover: Cover) -> bytes:
    lines: list[tuple[str, int, str]] = [
        ("Helvetica-Bold", 26, "FAX"),
        ("Helvetica", 13, f"From: {cover.sender}"),
        ("Helvetica", 13, f"To: {cover.recipient or 'caller'}"),
    ]
    if cover.customer:
        lines.append(("Helvetica", 13, f"Customer: {cover.customer}"))
    lines += [
        ("Helvetica", 13, f"Date: {cover.at.strftime('%Y-%m-%d %H:%M %Z').strip()}"),
        ("Helvetica", 13, f"Pages: {cover.pages} including this cover"),
        ("Helvetica", 11, f"Reference: {cover.job}"),
        ("Helvetica-Bold", 15, "Documents"),
    ]
    for document in cover.documents[:MAX_DOCUMENT_LINES]:
        lines.append(("Helvetica", 13, f"{document.code}  {document.title}  ({document.pages} p.)"))
    out = ["%!PS-Adobe-3.0", "%%Pages: 1", "%%EndComments"]
    y = 770
    for font, size, text in lines:
        y -= size + 12
        setfont = f"/{font} findfont {size} scalefont setfont"
        out.append(f"{setfont} 60 {y} moveto {ps_string(text)} show")
    out += ["newpath 60 90 moveto 535 90 lineto 2 setlinewidth stroke", "showpage", "%%EOF", ""]
    return "\n".join(out).encode("ascii")
