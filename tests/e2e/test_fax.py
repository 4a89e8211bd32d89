"""Fax on demand on the real Asterisk, with real T.30 faxes (spandsp over G.711 through Local
channels; tests/e2e/asterisk-overlay/dialplans/extensions_fax_test.conf holds the far ends).

* A caller whose phone is a fax machine calls the hotline, keys in documents 101 and 102 and
  receives them on the same call: the received TIFF has the documents' pages plus the cover,
  and each received page matches the page sent (share of equal pixels and overlap of the
  black pixels, after the best alignment within a few pixels).
* Faxes to a number through the API (AMI Originate, cc-fax-dial): one at a set time reaches a
  fax machine; a far end that answers without fax tones and a busy one are retried with
  backoff and end ``failed``, never ``sent``; the report per document counts them.
* A restricted document is refused without its PIN (by phone and through the API).
* A fax sent to the fax number is stored as TIFF and PDF and listed in the inbox.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageChops, ImageSequence

from callcenter.voicemail.settings import SmtpSettings
from tests.adapter.voicemail_parts import SmtpServer, free_port
from tests.e2e.api import closed_calls, get, request
from tests.e2e.conftest import (
    API_TOKEN,
    RunningEngine,
    asterisk_prompts,
    engine_settings,
    running_engine,
)
from tests.e2e.harness import Asterisk

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
name: faxline
languages: [en, zh]
start: documents
nodes:
  documents:
    type: collect
    prompts: [enter_documents]
    into: documents
    min_length: 3
    max_length: 31
    pattern: "[0-9]{3}(\\\\*[0-9]{3}){0,7}"
    timeout: 6
    retries: 0
    next: send
    on_invalid: bye
  send:
    type: fax
    documents_from: documents
    mode: same_call
    next: bye
    on_failure: bye
  bye:
    type: hangup
    prompts: [goodbye]
    outcome: completed_in_ivr
"""
ACD: dict[str, Any] = {"queues": {"q1": {}}, "agents": {"agent1001": {"queues": {"q1": 1}}}}
SHIFT = 4  # pixels tried each way when aligning a received page on the sent one


def root(asterisk: Asterisk) -> Path:
    return Path(asterisk.env.get("CALLCENTER_ASTERISK_ROOT", "/var/cache/callcenter/asterisk-root"))


def fresh_spool(asterisk: Asterisk) -> Path:
    folder = root(asterisk) / "var/spool/asterisk/callcenter-fax-test"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def settings_for(asterisk: Asterisk, url: str, tmp: Path, **fax: Any) -> Any:
    script = tmp / "faxline.yaml"
    script.write_text(SCRIPT)
    documents = tmp / "documents"
    shutil.copytree(REPO / "fax" / "documents", documents)
    return engine_settings(
        asterisk,
        url,
        5038,
        acd=ACD,
        ivr={
            "entries": {"hotline": {"script": str(script)}},
            "versions": str(tmp / "versions"),
            "asterisk_sounds": str(asterisk_prompts(asterisk)),
        },
        fax={
            "documents": str(documents),
            "store": str(tmp / "fax"),
            "max_attempts": 3,
            "retry_min": 1,
            "retry_max": 2,
            "ring_timeout": 10,
            "poll_interval": 0.2,
            "limits": {"concurrent": 3},
            **fax,
        },
    )


async def final_jobs(engine: RunningEngine, count: int, timeout: float = 240) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        jobs: list[Any] = (await get(engine, "/api/v1/fax/jobs"))["jobs"]
        done = [j for j in jobs if j["status"] in ("sent", "failed", "cancelled")]
        if len(done) >= count or time.monotonic() > deadline:
            return jobs
        await asyncio.sleep(0.5)


async def files(folder: Path, pattern: str, timeout: float = 20) -> list[Path]:
    deadline = time.monotonic() + timeout
    while not (found := sorted(folder.glob(pattern))) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return found


def pages(path: Path) -> list[Image.Image]:
    with Image.open(path) as image:
        return [frame.convert("1").copy() for frame in ImageSequence.Iterator(image)]


def ink(image: Image.Image) -> int:
    """Black pixels of a bilevel page."""
    return image.histogram()[0]


def compare(sent: Image.Image, received: Image.Image) -> tuple[float, float]:
    """(share of equal pixels, black pixels in both over black pixels in either) at the best
    alignment of ``received`` on ``sent`` within SHIFT pixels each way."""
    width, height = min(sent.width, received.width), min(sent.height, received.height)
    a = ImageChops.invert(sent.crop((0, 0, width, height)).convert("L")).convert("1")
    best = (0.0, 0.0)
    for dy in range(-SHIFT, SHIFT + 1):
        for dx in range(-SHIFT, SHIFT + 1):
            moved = ImageChops.offset(received.crop((0, 0, width, height)), dx, dy)
            b = ImageChops.invert(moved.convert("L")).convert("1")
            both = ImageChops.logical_and(a, b).histogram()[255]
            either = ImageChops.logical_or(a, b).histogram()[255]
            differ = ImageChops.logical_xor(a, b).histogram()[255]
            score = (1 - differ / (width * height), both / either if either else 1.0)
            best = max(best, score, key=lambda s: s[1])
    return best


async def originate(asterisk: Asterisk, channel: str, target: str) -> None:
    await asyncio.to_thread(asterisk.cli, f"channel originate {channel} extension {target}")


async def test_a_caller_gets_two_documents_on_the_same_call(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, no_call_left: None
) -> None:
    spool = fresh_spool(asterisk)
    async with running_engine(settings_for(asterisk, sqlite_url, tmp_path)) as engine:
        await originate(asterisk, "Local/4000@from-callers", "two@cc-fax-test-caller")
        (job,) = await final_jobs(engine, 1)
        (received,) = await files(spool, "caller-*.tif")
        (call,) = await closed_calls(engine, 1, timeout=30)
        sent_path = engine.engine.fax.images.job_path(job["id"])
        documents = {
            d["code"]: d for d in (await get(engine, "/api/v1/fax/documents"))["documents"]
        }
    assert (job["mode"], job["status"], job["documents"]) == ("same_call", "sent", ["101", "102"])
    expected = 1 + documents["101"]["pages"] + documents["102"]["pages"]
    assert expected == 4
    assert (job["pages"], job["pages_sent"], job["remote_station"]) == (4, 4, "CALLER FAX")
    assert "fax:sent" in call["path"], call["path"]
    sent, got = pages(sent_path), pages(received)
    assert len(sent) == len(got) == expected
    print(f"\nsame-call fax: {len(got)} pages received ({received.stat().st_size} bytes)")
    for number, (a, b) in enumerate(zip(sent, got, strict=True), 1):
        equal, overlap = compare(a, b)
        others = [compare(x, b)[1] for x in sent if x is not a]
        print(
            f"page {number}: {a.size} sent, {b.size} received, {ink(a)} black pixels sent;"
            f" equal pixels {equal:.4f}, black overlap {overlap:.3f}"
            f" (best with another page {max(others):.3f})"
        )
        assert ink(a) > 1000, "a sent page is blank"
        assert equal >= 0.99 and overlap >= 0.9, (number, equal, overlap)
        assert overlap > max(others) + 0.2, "the page matches another page as well"


async def test_faxes_to_numbers_are_retried_and_end_sent_or_failed(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, no_call_left: None
) -> None:
    spool = fresh_spool(asterisk)
    async with running_engine(settings_for(asterisk, sqlite_url, tmp_path)) as engine:
        at = datetime.now(UTC) + timedelta(seconds=3)
        bodies = [
            {"documents": ["101"], "number": "5550100", "at": at.isoformat()},
            {"documents": ["101", "102"], "number": "5550101"},  # answers, no fax tones
            {"documents": ["101"], "number": "5550102"},  # busy
        ]
        created = []
        for body in bodies:
            status, job = await request(engine, "POST", "/api/v1/fax/jobs", body)
            assert status == 201, job
            created.append(job["id"])
        status, refused = await request(
            engine, "POST", "/api/v1/fax/jobs", {"documents": ["101"], "number": "00441234567"}
        )
        assert status == 400 and refused["error"]["code"] == "fax_destination_refused"
        await final_jobs(engine, 3)
        jobs = [await get(engine, f"/api/v1/fax/jobs/{job_id}") for job_id in created]
        (received,) = await files(spool, "far-*.tif")
        report = await get(engine, "/api/v1/fax/reports/documents")
    scheduled, silent, busy = jobs
    first = datetime.fromisoformat(scheduled["attempt_log"][0]["started_at"])
    assert first >= at, "the scheduled fax left before its time"
    assert (scheduled["status"], scheduled["attempts"], scheduled["pages_sent"]) == ("sent", 1, 2)
    assert scheduled["remote_station"] == "FAR END 5550100"
    assert len(pages(received)) == 2
    for job, result in ((silent, "no_fax"), (busy, "busy")):
        log = job["attempt_log"]
        print(f"\n{job['number']}: {[(a['result'], a['detail']) for a in log]}")
        assert (job["status"], job["attempts"], job["last_result"]) == ("failed", 3, result)
        assert [a["result"] for a in log] == [result] * 3
        starts = [datetime.fromisoformat(a["started_at"]) for a in log]
        ends = [datetime.fromisoformat(a["ended_at"]) for a in log]
        gaps = [(s - e).total_seconds() for e, s in zip(ends, starts[1:], strict=False)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps  # backoff: 1 s, then 2 s
        assert job["pages_sent"] == 0 and job["finished_at"]
    figures = {line["code"]: line for line in report["documents"]}
    assert figures["101"] == {
        "code": "101",
        "requests": 3,
        "sent": 1,
        "failed": 2,
        "pages": 1,
        "success_rate": 0.3333,
    }
    assert figures["102"]["requests"] == 1 and figures["102"]["success_rate"] == 0.0


async def test_a_restricted_document_is_refused_without_its_pin(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, no_call_left: None
) -> None:
    fresh_spool(asterisk)
    async with running_engine(settings_for(asterisk, sqlite_url, tmp_path)) as engine:
        status, document = await request(
            engine, "PATCH", "/api/v1/fax/documents/103", {"pin": "2468"}
        )
        assert status == 200 and document["access"] == "pin" and document["pin_set"], document
        await originate(asterisk, "Local/4000@from-callers", "pin@cc-fax-test-caller")
        (call,) = await closed_calls(engine, 1, timeout=40)
        jobs_after_call = (await get(engine, "/api/v1/fax/jobs"))["jobs"]
        answers = []
        for pins in ({}, {"103": "1111"}, {"103": "2468"}):
            body = {"documents": ["103"], "number": "5550199", "pins": pins}
            answers.append(await request(engine, "POST", "/api/v1/fax/jobs", body))
    assert "fax:failed" in call["path"] and "fax:sent" not in call["path"], call["path"]
    assert jobs_after_call == []
    assert [status for status, _ in answers] == [403, 403, 201]
    assert answers[0][1]["error"]["code"] == "fax_access_denied"


async def test_a_fax_to_the_fax_number_is_stored_as_tiff_and_pdf(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, no_call_left: None
) -> None:
    spool = fresh_spool(asterisk)
    mail_server = SmtpServer(free_port())
    await asyncio.to_thread(mail_server.start)
    settings = settings_for(asterisk, sqlite_url, tmp_path, inbox_email_to=["office@example.com"])
    smtp = SmtpSettings(host="127.0.0.1", port=mail_server.port)
    settings = settings.model_copy(
        update={"voicemail": settings.voicemail.model_copy(update={"smtp": smtp})}
    )
    async with (
        running_engine(settings) as engine,
        aiohttp.ClientSession() as client,
    ):
        desk = f"/api/v1/desk/feed?agent=agent1001&access_token={API_TOKEN}"
        ws = await client.ws_connect(engine.base_url.replace("http", "ws") + desk)
        image, _ = await engine.engine.fax.images.document_image(
            "102", REPO / "fax/documents/102.pdf", "e2e-inbound-test"
        )
        shutil.copyfile(image, spool / "send.tif")
        await originate(asterisk, "Local/4900@from-callers", "s@cc-fax-test-sender")
        deadline = time.monotonic() + 120
        while not (faxes := (await get(engine, "/api/v1/fax/inbox"))["faxes"]):
            assert time.monotonic() < deadline, "no fax received"
            await asyncio.sleep(0.5)
        (fax,) = faxes
        # the desks hear of it, like a voicemail
        async with asyncio.timeout(10):
            while (notice := await ws.receive_json())["type"] != "fax_received":
                pass
        assert (notice["fax"]["id"], notice["fax"]["pages"]) == (fax["id"], 2)
        await ws.close()
        # and e-mailed once, the PDF attached
        deadline = time.monotonic() + 20
        while not mail_server.inbox.mails:
            assert time.monotonic() < deadline, "no e-mail of the received fax"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        tiff = engine.engine.fax.images.inbox_path(fax["id"], "tiff")
        pdf = engine.engine.fax.images.inbox_path(fax["id"], "pdf")
    await asyncio.to_thread(mail_server.stop)
    (mail,) = mail_server.inbox.mails
    (attachment,) = [p for p in mail.walk() if p.get_filename()]
    assert (fax["status"], fax["pages"], fax["remote_station"]) == ("received", 2, "SENDER 12345")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert attachment.get_payload(decode=True) == pdf.read_bytes()
    for a, b in zip(pages(image), pages(tiff), strict=True):
        equal, overlap = compare(a, b)
        print(f"\ninbound page: equal pixels {equal:.4f}, black overlap {overlap:.3f}")
        assert overlap >= 0.9
