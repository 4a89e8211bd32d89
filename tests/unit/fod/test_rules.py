"""Allow-list, rate limits, catalogue access, the report, the cover page, TIFF pages, and how
Asterisk's fax variables are read (pure)."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callcenter.fod.catalogue import (
    Access,
    Document,
    InvalidDocument,
    Requester,
    hash_pin,
    pin_matches,
    refusal,
)
from callcenter.fod.cover import Cover, CoverDocument, cover_postscript, printable, ps_string
from callcenter.fod.dialing import RecentJobs, destination_refusal, rate_refusal
from callcenter.fod.model import AttemptResult, JobStatus
from callcenter.fod.report import document_figures
from callcenter.fod.routes import classify
from callcenter.fod.settings import DestinationSettings, FaxSettings, LimitSettings
from callcenter.fod.tiff import NotTiff, page_count
from tests.unit.fod.test_jobs import queued

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RULES = DestinationSettings()


@pytest.mark.parametrize("number", ["5550100", "02155500101", "13800138000"])
def test_domestic_numbers_are_allowed(number: str) -> None:
    assert destination_refusal(number, RULES) is None


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("+441234567", "international"),
        ("00441234567", "international"),
        ("19001234567", "premium"),
        ("16801234", "premium"),
        ("123", "digits"),
        ("5550100\r\nAction: Originate", "digits"),
        ("5550100&PJSIP/evil", "digits"),
        ("${CALLERID(num)}", "digits"),
        ("5550100@cc-hotline", "digits"),
        ("555-0100", "digits"),
    ],
)
def test_international_premium_and_hostile_numbers_are_refused(number: str, why: str) -> None:
    reason = destination_refusal(number, RULES)
    assert reason is not None and why in reason


def test_international_and_premium_when_configured() -> None:
    open_rules = DestinationSettings(international=True, premium=True)
    assert destination_refusal("+441234567", open_rules) is None
    assert destination_refusal("19001234567", open_rules) is None


def test_blocked_and_allowed_prefixes() -> None:
    rules = DestinationSettings(blocked_prefixes=["555"], allowed_prefixes=["0", "555"])
    assert "blocked" in (destination_refusal("5550100", rules) or "")
    assert "allow-list" in (destination_refusal("13800138000", rules) or "")
    assert destination_refusal("02155500101", rules) is None


def test_rate_limits_per_caller_per_destination_and_in_all() -> None:
    limits = LimitSettings(per_caller=3, per_destination=5, total=10)
    assert rate_refusal(RecentJobs(2, 4, 9), "138", limits) is None
    assert "caller" in (rate_refusal(RecentJobs(3, 0, 0), "138", limits) or "")
    assert rate_refusal(RecentJobs(3, 0, 0), "", limits) is None  # the API has no caller
    assert "number" in (rate_refusal(RecentJobs(0, 5, 5), "138", limits) or "")
    assert rate_refusal(RecentJobs(0, 0, 10), "138", limits) is not None


def document(access: Access, pin: str = "") -> Document:
    return Document("103", "Terms", access, hash_pin(pin) if pin else "", 1, "0" * 64, "api", NOW)


def test_catalogue_access() -> None:
    nobody = Requester({})
    assert refusal(document(Access.PUBLIC), nobody) is None
    assert refusal(document(Access.CUSTOMERS), nobody) is not None
    assert refusal(document(Access.CUSTOMERS), Requester({}, known_customer=True)) is None
    assert refusal(document(Access.CUSTOMERS), Requester({}, staff=True)) is None
    restricted = document(Access.PIN, "2468")
    assert "PIN" in (refusal(restricted, nobody) or "")
    assert refusal(restricted, Requester({"103": "1111"})) is not None
    assert refusal(restricted, Requester({"103": "2468"}, staff=True)) is None
    assert refusal(restricted, Requester({"104": "2468"})) is not None  # another document's
    assert "none is set" in (refusal(document(Access.PIN), Requester({}, staff=True)) or "")


def test_pins_are_salted_hashes() -> None:
    first, second = hash_pin("2468"), hash_pin("2468")
    assert first != second and "2468" not in first
    assert pin_matches(first, "2468") and pin_matches(second, "2468")
    assert not pin_matches(first, "2469") and not pin_matches(first, "24680")
    assert not pin_matches("garbage", "2468")
    with pytest.raises(InvalidDocument):
        hash_pin("12a4")


def test_report_per_document() -> None:
    jobs = [
        replace(queued(), documents=("101", "102"), status=JobStatus.SENT),
        replace(queued(), documents=("101",), status=JobStatus.FAILED),
        replace(queued(), documents=("101",), status=JobStatus.QUEUED),
    ]
    lines = {line.code: line for line in document_figures(jobs, {"101": 1, "102": 2})}
    assert (lines["101"].requests, lines["101"].sent, lines["101"].failed) == (3, 1, 1)
    assert (lines["101"].pages, lines["101"].success_rate) == (1, 0.5)
    assert (lines["102"].pages, lines["102"].success_rate) == (2, 1.0)
    assert document_figures([], {}) == []


def test_cover_text_cannot_escape_its_postscript_string() -> None:
    assert ps_string("a (b) \\ c") == "(a \\(b\\) \\\\ c)"
    assert printable("王先生\r\nshowpage") == "??? showpage"
    cover = Cover(
        sender="Hotline",
        recipient=") show quit (",
        customer="李",
        at=NOW,
        job="a" * 32,
        documents=(CoverDocument("101", "Sites (all)", 1), CoverDocument("102", "Guide", 2)),
    )
    text = cover_postscript(cover).decode("ascii")
    assert "(To: \\) show quit \\()" in text and "Sites \\(all\\)" in text
    assert cover.pages == 4 and text.count("showpage") == 1


def tiff(pages: int, order: str = "<") -> bytes:
    """A minimal TIFF with ``pages`` empty directories."""
    data = bytearray(b"II" if order == "<" else b"MM") + struct.pack(f"{order}HI", 42, 8)
    for page in range(pages):
        offset = len(data)
        following = offset + 2 + 12 + 4 if page < pages - 1 else 0
        data += struct.pack(f"{order}H", 1) + bytes(12) + struct.pack(f"{order}I", following)
    return bytes(data)


def test_tiff_pages_are_counted_and_broken_files_refused() -> None:
    assert page_count(tiff(3)) == 3 and page_count(tiff(2, ">")) == 2
    with pytest.raises(NotTiff):
        page_count(b"%PDF-1.4")
    looped = bytearray(tiff(1))
    looped[-4:] = struct.pack("<I", 8)  # the directory points at itself
    with pytest.raises(NotTiff):
        page_count(bytes(looped))
    with pytest.raises(NotTiff):
        page_count(tiff(2)[:-10])


def test_asterisk_fax_variables_are_classified() -> None:
    assert classify("SUCCESS", "OK", "OK", 4, "FAR").result is AttemptResult.SENT
    silent = classify("FAILED", "HANGUP", "The call dropped prematurely", 0, "")
    assert silent.result is AttemptResult.NO_FAX and silent.detail.count("dropped") == 1
    assert classify("FAILED", "HANGUP", "", 2, "FAR").result is AttemptResult.INTERRUPTED
    assert classify("SUCCESS", "", "", 0, "FAR").result is AttemptResult.INTERRUPTED


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="retry_min"):
        FaxSettings(retry_min=100, retry_max=10)
    with pytest.raises(ValueError, match="absolute"):
        FaxSettings(asterisk_spool="relative/path")
    with pytest.raises(ValueError, match="digits"):
        DestinationSettings(premium_prefixes=["19x"])
