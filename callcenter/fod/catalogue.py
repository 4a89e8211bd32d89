"""The document catalogue as plain values: who may have a document faxed (pure, no I/O).

A document is ``public``, ``pin`` (the requester gives the document's PIN; the IVR asks for
it, the API takes it in the request) or ``customers`` (the caller's number belongs to a known
customer; requests through the API are staff's and pass). A ``pin`` document whose PIN was
never set is refused to everyone: a restriction is never lifted by omission. PINs are kept as
salted hashes and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from callcenter.errors import BadRequest, Forbidden, NotFound

CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PIN = re.compile(r"^[0-9]{4,12}$")
TITLE_LENGTH = 200
_ITERATIONS = 100_000


class Access(StrEnum):
    PUBLIC = "public"
    PIN = "pin"
    CUSTOMERS = "customers"


class DocumentNotFound(NotFound):
    code = "fax_document_not_found"


class AccessDenied(Forbidden):
    code = "fax_access_denied"


class InvalidDocument(BadRequest):
    code = "fax_invalid_document"


@dataclass(frozen=True, slots=True)
class Document:
    code: str
    title: str
    access: Access
    pin_hash: str  # "" when no PIN is set
    pages: int  # pages of the fax image (0 until converted)
    sha256: str  # of the PDF: the key of the cached image
    source: str  # "folder" (catalogue.yaml) or "api"
    updated_at: datetime

    @property
    def has_pin(self) -> bool:
        return bool(self.pin_hash)


@dataclass(frozen=True, slots=True)
class Requester:
    """What is known about whoever asks: PINs typed per document code, whether the caller is
    a known customer, whether the request comes from staff (the API)."""

    pins: Mapping[str, str]
    known_customer: bool = False
    staff: bool = False


def check_code(code: str) -> str:
    if not CODE.fullmatch(code):
        raise DocumentNotFound(f"no fax document {code[:40]!r}")
    return code


def refusal(document: Document, requester: Requester) -> str | None:
    """Why ``requester`` may not have ``document``; None when they may."""
    match document.access:
        case Access.PUBLIC:
            return None
        case Access.CUSTOMERS:
            if requester.staff or requester.known_customer:
                return None
            return f"document {document.code} is for known customers only"
        case Access.PIN:
            if not document.has_pin:
                return f"document {document.code} needs a PIN and none is set"
            typed = requester.pins.get(document.code, "")
            if not typed or not pin_matches(document.pin_hash, typed):
                return f"document {document.code} needs its PIN"
            return None


def check_access(documents: list[Document], requester: Requester) -> None:
    for document in documents:
        reason = refusal(document, requester)
        if reason is not None:
            raise AccessDenied(reason)


def hash_pin(pin: str, salt: str | None = None) -> str:
    if not PIN.fullmatch(pin):
        raise InvalidDocument("a PIN is 4 to 12 digits")
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), _ITERATIONS).hex()
    return f"pbkdf2${salt}${digest}"


def pin_matches(stored: str, pin: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 3 or not PIN.fullmatch(pin):
        return False
    return hmac.compare_digest(hash_pin(pin, parts[1]), stored)


def clean_title(title: str) -> str:
    """A title as shown and printed on the cover: one line, at most 200 characters."""
    text = " ".join(title.split())
    if not text:
        raise InvalidDocument("a document needs a title")
    return text[:TITLE_LENGTH]
