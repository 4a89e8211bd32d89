"""Voicemail on the real Asterisk: a caller whose queue has nobody logged in is sent to the
mailbox, hears the greeting and the beep, speaks for 10 s (tests/sipp/caller_voicemail.xml)
and hangs up. The engine recorded the message itself: the WAV is in its store with the length
spoken, its row is listed by the API, a real SMTP server (aiosmtpd) received exactly one mail
with the audio attached, a websocket client of the queue's group got exactly one event, and
the message became one open callback task. With the database stopped while the message is
left, the audio is kept on disk with its row beside it, and once the database is back the
message is committed and notified once on every channel. And the sample hotline's key 9
leaves a message that the mailbox by phone (*98, with its PIN) plays and deletes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from array import array
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.asterisk.ami import AmiClient
from callcenter.clock import SystemClock
from callcenter.prompts.model import parse_wav
from callcenter.settings import AmiSettings, Settings
from tests.adapter.voicemail_parts import SmtpServer, free_port
from tests.e2e.api import closed_calls, get
from tests.e2e.conftest import (
    API_TOKEN,
    RunningEngine,
    asterisk_prompts,
    engine_settings,
    running_engine,
)
from tests.e2e.harness import Asterisk
from tests.e2e.ivr_callers import LocalTimeClock, menu_scenario, shanghai
from tests.e2e.observer import RECEIVED, AmiObserver
from tests.e2e.phones import agent_phones, step
from tests.pgserver import PgServer

pytestmark = pytest.mark.e2e

SENT_SECONDS = 80_000 / 8000  # tests/sipp/caller_message.alaw
ACD = {
    "queues": {
        "q1": {"no_agents": "overflow", "overflow": {"kind": "voicemail", "target": "repair"}}
    },
    "agents": {"agent1001": {"queues": {"q1": 1}}},
}


def ports(asterisk: Asterisk) -> tuple[int, int, int]:
    """SIP, AMI and FastAGI ports of the Asterisk under test (scripts/asterisk's defaults)."""
    agi = asterisk.env.get("CALLCENTER_AGI_URL", "agi://127.0.0.1:4573")
    return (
        int(asterisk.env.get("CALLCENTER_SIP_PORT", "5060")),
        int(asterisk.env.get("CALLCENTER_AMI_PORT", "5038")),
        int(agi.rpartition(":")[2]),
    )


def settings_for(
    asterisk: Asterisk, url: str, voicemail: dict[str, Any], acd: dict[str, Any] = ACD
) -> Settings:
    _, ami, agi = ports(asterisk)
    return engine_settings(asterisk, url, ami, acd=acd, voicemail=voicemail, fastagi={"port": agi})


@contextlib.asynccontextmanager
async def observing(asterisk: Asterisk) -> AsyncIterator[AmiObserver]:
    """Every AMI event, as tests/e2e/observer.py records them, on this Asterisk's AMI port."""
    observer = AmiObserver()
    settings = {"username": "observer", "secret": asterisk.ami_secret, "port": ports(asterisk)[1]}
    client = AmiClient(AmiSettings.model_validate(settings), SystemClock(), lambda _e: None)
    client.subscribe("*", observer.record)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(15)
        yield observer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer(free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def voicemail_section(tmp_path: Path, smtp: SmtpServer) -> dict[str, Any]:
    return {
        "mailboxes": {
            "repair": {
                "greeting": "vm-nobodyavail",
                "max_seconds": 60,
                "email_to": ["repair-team@example.com"],
                "group": "q1",
            }
        },
        "store": str(tmp_path / "voicemail"),
        "smtp": {"host": "127.0.0.1", "port": smtp.port},
        "retry_min": 0.2,
        "poll_interval": 0.2,
    }


@pytest.fixture
async def engine(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, smtp: SmtpServer
) -> AsyncIterator[RunningEngine]:
    voicemail = voicemail_section(tmp_path, smtp)
    async with running_engine(settings_for(asterisk, sqlite_url, voicemail)) as running:
        yield running


async def leave_message(asterisk: Asterisk) -> None:
    code, output = await asterisk.sipp(
        f"127.0.0.1:{ports(asterisk)[0]}",
        *("-sf", "caller_voicemail.xml", "-s", "4110", "-m", "1"),
        *("-i", "127.0.0.1", "-p", "0", "-nostdin"),
        timeout=60,
    )
    assert code == 0, output[-2000:]


async def listen(running: RunningEngine, events: list[dict[str, Any]]) -> None:
    url = f"{running.base_url}/api/v1/voicemail/feed?group=q1&access_token={API_TOKEN}"
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as ws:
        async for frame in ws:
            events.append(json.loads(frame.data))


async def deliveries_done(running: RunningEngine, message_id: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = (await get(running, f"/api/v1/voicemail/messages/{message_id}/deliveries"))[
            "deliveries"
        ]
        if all(d["status"] == "sent" for d in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def messages(running: RunningEngine, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found: list[dict[str, Any]] = (
            await get(running, "/api/v1/voicemail/messages?mailbox=repair")
        )["messages"]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_a_caller_leaves_a_message_notified_once_on_every_channel(
    asterisk: Asterisk, engine: RunningEngine, smtp: SmtpServer
) -> None:
    events: list[dict[str, Any]] = []
    feed = asyncio.create_task(listen(engine, events))
    await asyncio.sleep(0.3)  # the feed is open before the call
    try:
        async with observing(asterisk) as observer:
            await leave_message(asterisk)
            (message,) = await messages(engine)
            deliveries = await deliveries_done(engine, message["id"])
            await asyncio.sleep(1.0)  # time for a duplicate to show, if there were one
        started = observer.matching(Event="AGIExecStart")
        record = [e for e in started if str(e.get("Command", "")).startswith("RECORD FILE")]
        fallback = observer.matching(Event="Newexten", Application="VoiceMail")
    finally:
        feed.cancel()
    assert fallback == [], "Asterisk's VoiceMail() took the message, not the engine"
    assert len(record) == 1, started

    # The file, in the engine's store, with the length spoken.
    store = Path(engine.engine.settings.voicemail.store)
    wav = (store / f"{message['id']}.wav").read_bytes()
    info = parse_wav(wav)
    print(f"\nmessage: {info.seconds:.3f} s recorded of {SENT_SECONDS:.3f} s sent")
    assert abs(info.seconds - SENT_SECONDS) <= 0.5, info.seconds
    samples = array("h", wav[info.data_offset : info.data_offset + info.data_bytes])
    assert max(abs(s) for s in samples) > 1000, "the recording is silent"

    # Its row.
    assert (message["mailbox"], message["caller"], message["queue"]) == (
        "repair",
        "13800138000",
        "q1",
    )
    assert abs(message["duration"] - info.seconds) < 0.01
    assert message["call"] == record[0]["Linkedid"]

    # Notified exactly once on every channel.
    assert {d["channel"]: (d["status"], d["attempts"]) for d in deliveries} == {
        "websocket": ("sent", 1),
        "email": ("sent", 1),
        "callback": ("sent", 1),
    }
    assert len(smtp.inbox.mails) == 1
    (attachment,) = [p for p in smtp.inbox.mails[0].walk() if p.get_filename()]
    assert attachment.get_payload(decode=True) == wav
    assert [e["id"] for e in events] == [message["id"]]
    assert (events[0]["group"], events[0]["caller"]) == ("q1", "13800138000")
    (task,) = (await get(engine, "/api/v1/callbacks?status=open"))["callbacks"]
    assert (task["source"], task["number"], task["queue"], task["call"]) == (
        "voicemail",
        "13800138000",
        "q1",
        message["call"],
    )
    # The take Asterisk recorded was moved, not copied.
    takes = Path(engine.engine.settings.ivr.asterisk_sounds or "").parent / "callcenter-voicemail"
    assert not list(takes.glob("*.wav"))
    print(f"record started {record[0][RECEIVED] - started[0][RECEIVED]:.3f} s after the AGI")


async def sidecars(store: Path, timeout: float = 20) -> list[Path]:
    """The rows waiting beside their audio, once there is one."""
    deadline = time.monotonic() + timeout
    while not (found := list(store.glob("*.pending.json"))) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    server = PgServer.create()
    yield server
    server.destroy()


@pytest.mark.postgres
async def test_a_message_left_while_the_database_is_down_is_kept_and_notified_once(
    asterisk: Asterisk, own_pg_server: PgServer, smtp: SmtpServer, tmp_path: Path
) -> None:
    url = await own_pg_server.create_database()
    voicemail = voicemail_section(tmp_path, smtp)
    async with running_engine(settings_for(asterisk, url, voicemail)) as running:
        await asyncio.to_thread(own_pg_server.stop)
        await leave_message(asterisk)
        store = Path(voicemail["store"])
        pending = await sidecars(store)  # on disk, synced, its row beside it
        (audio,) = store.glob("*.wav")
        assert [p.name for p in pending] == [f"{audio.stem}.pending.json"]
        assert running.engine.voicemail.backlog == 1 and smtp.inbox.mails == []
        await asyncio.to_thread(own_pg_server.start)
        (message,) = await messages(running)
        deliveries = await deliveries_done(running, message["id"])
        await asyncio.sleep(1.0)
    assert message["id"] == audio.stem
    assert abs(message["duration"] - SENT_SECONDS) <= 0.5
    assert {d["channel"]: (d["status"], d["attempts"]) for d in deliveries} == {
        "websocket": ("sent", 1),
        "email": ("sent", 1),
        "callback": ("sent", 1),
    }
    assert len(smtp.inbox.mails) == 1
    assert not (store / f"{audio.stem}.pending.json").exists()


async def test_a_mailbox_the_engine_does_not_have_is_left_to_asterisk(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """The queue's target is no mailbox of the engine: AGI ends with FAILURE and the dialplan's
    own VoiceMail() takes the message (in the hotline's mailbox), as before the engine did."""
    overflow = {"kind": "voicemail", "target": "elsewhere"}
    acd = {**ACD, "queues": {"q1": {"no_agents": "overflow", "overflow": overflow}}}
    settings = settings_for(asterisk, sqlite_url, voicemail_section(tmp_path, smtp), acd)
    async with running_engine(settings) as running, observing(asterisk) as observer:
        await leave_message(asterisk)
        taken = await observer.wait_for(
            lambda e: e.get("Event") == "Newexten" and e.get("Application") == "VoiceMail", 10
        )
        status = observer.matching(Event="VarSet", Variable="AGISTATUS")
        listed = await get(running, "/api/v1/voicemail/messages")
    assert (taken["Context"], taken["AppData"]) == ("cc-elsewhere", "hotline@callcenter")
    assert [e["Value"] for e in status] == ["FAILURE"]
    assert listed["messages"] == [] and smtp.inbox.mails == []


# --- the hotline's key 9, then the mailbox by phone -----------------------------------------

REPO = Path(__file__).resolve().parents[2]
HOTLINE_ACD = {
    "queues": {q: {"ring_timeout": 5} for q in ("repair", "products", "complaints")},
    "agents": {"agent1001": {"queues": {"repair": 1}}},
}
PHONE_TEMPLATE = REPO / "tests" / "sipp" / "agent_record_prompt.xml"
PHONE_KEYS_START = '  <!-- "Please enter your password followed by the pound key"'
PHONE_KEYS_END = '  <!-- "Thank you", then Asterisk hangs up. -->'


def speaking_caller(directory: Path) -> Path:
    """A hotline caller (tests/e2e/ivr_callers.py) who presses 2 (English), then 9 (leave a
    message), and speaks (caller_message.alaw, so the call offers A-law) from before the beep
    until past the mailbox's 5 s; Asterisk hangs up after "goodbye"."""
    scenario = menu_scenario([(1500, "2"), (2500, "9")], 60_000, directory, "13900139000")
    text = scenario.read_text()
    last = '<exec play_dtmf="9,200,101"/></action></nop>\n'
    assert text.count(last) == 1
    speech = (
        '  <pause milliseconds="9000"/>\n'
        '  <nop><action><exec rtp_stream="caller_message.alaw,1,8"/></action></nop>\n'
    )
    pcmu = ("RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000")
    assert all(line in text for line in pcmu), "caller_dtmf.xml changed: update the caller"
    text = text.replace(pcmu[0], "RTP/AVP 8 101").replace(pcmu[1], "a=rtpmap:8 PCMA/8000")
    scenario.write_text(text.replace(last, last + speech))
    return scenario


def mailbox_phone_scenario(keys: list[tuple[int, str]], directory: Path) -> Path:
    """An agent phone (authenticated, as agent_record_prompt.xml) that dials the service and
    sends ``keys`` (milliseconds after the previous group, digits), then waits for the BYE."""
    text = PHONE_TEMPLATE.read_text()
    start, end = text.find(PHONE_KEYS_START), text.find(PHONE_KEYS_END)
    assert 0 < start < end, "agent_record_prompt.xml changed: update the mailbox phone"
    steps = "".join(
        f'  <pause milliseconds="{pause}"/>\n'
        f'  <nop><action><exec play_dtmf="{digits},200,101"/></action></nop>\n'
        for pause, digits in keys
    )
    path = directory / "mailbox_phone.xml"
    path.write_text(text[:start] + steps + "\n" + text[end:])
    return path


async def test_key_9_on_the_hotline_leaves_a_message_played_and_deleted_by_phone(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    """The sample hotline (ivr/hotline.yaml) in business hours: English (2), then 9 "leave a
    message". The message lands in the engine's store with its row. Then an agent phone dials
    *98: a wrong PIN is refused ("login incorrect"), the right one lets the message play, and
    7 deletes it: the AGI command trace shows each step, storage shows heard and deleted (by
    the mailbox, audited) and the audio gone."""
    voicemail = {
        "mailboxes": {
            "hotline": {"max_seconds": 5, "group": "repair", "number": "5000", "pin": "1234"}
        },
        "store": str(tmp_path / "voicemail"),
        "retry_min": 0.2,
        "poll_interval": 0.2,
    }
    ivr = {
        "entries": {"hotline": {"script": str(REPO / "ivr" / "hotline.yaml")}},
        "versions": str(tmp_path / "versions"),
        "asterisk_sounds": str(asterisk_prompts(asterisk)),
    }
    settings = engine_settings(
        asterisk, sqlite_url, ports(asterisk)[1], acd=HOTLINE_ACD, voicemail=voicemail, ivr=ivr
    )
    store = tmp_path / "voicemail"
    clock = LocalTimeClock(shanghai("2026-11-25", "10:00"))
    async with running_engine(settings, clock) as running, observing(asterisk) as observer:
        code, output = await asterisk.sipp(
            f"127.0.0.1:{ports(asterisk)[0]}",
            *("-sf", str(speaking_caller(tmp_path)), "-s", "4000", "-m", "1"),
            *("-i", "127.0.0.1", "-p", "0", "-key", "digits", "1", "-nostdin"),
            timeout=90,
        )
        assert code == 0, output[-2000:]
        (message,) = await messages_of(running, "hotline")
        (call,) = await closed_calls(running, 1)
        wav = store / f"{message['id']}.wav"
        recorded = parse_wav(wav.read_bytes()).seconds

        keys = [(1500, "5000#"), (2500, "9999#"), (3500, "5000#"), (2500, "1234#"), (6000, "7")]
        code, output = await asterisk.sipp(
            f"127.0.0.1:{ports(asterisk)[0]}",
            *("-sf", str(mailbox_phone_scenario(keys, tmp_path)), "-s", "*98", "-m", "1"),
            *("-i", "127.0.0.1", "-p", "0", "-nostdin"),
            *("-au", "agent1001", "-ap", asterisk.env["CALLCENTER_AGENT_SIP_SECRET"]),
            *("-key", "agent", "agent1001", "-key", "code", "0"),
            timeout=90,
        )
        assert code == 0, output[-2000:]
        after = await get(running, f"/api/v1/voicemail/messages/{message['id']}")
        commands = [
            str(e.get("Command", ""))
            for e in observer.matching(Event="AGIExecStart")
            if e.get("Context") == "cc-voicemail-main"
        ]

    # Key 9 on the hotline: the message and its row.
    assert (message["mailbox"], message["caller"], message["call"]) == (
        "hotline",
        "13900139000",
        call["linkedid"],
    )
    assert (
        call["path"][-3:] == ["key:9", "message", "voicemail:hotline"]
        or "message" in (call["path"])
    ), call["path"]
    assert 4.0 <= recorded <= 5.5 and abs(message["duration"] - recorded) < 0.01

    # By phone: refused once, then in; the message played, then deleted.
    logins = [c for c in commands if c.startswith('GET DATA "vm-login"')]
    assert len(logins) == 2, commands
    assert [c for c in commands if c.startswith('STREAM FILE "vm-incorrect"')], commands
    played = [c for c in commands if c.startswith('STREAM FILE "callcenter-voicemail/p_')]
    assert played, commands
    assert [c for c in commands if c.startswith('STREAM FILE "vm-deleted"')], commands
    assert commands.index(played[0]) > commands.index(logins[1])
    assert (after["heard_by"], after["deleted_by"]) == ("phone:hotline", "phone:hotline")
    assert after["deleted_at"] is not None and not wav.exists()


async def messages_of(running: RunningEngine, mailbox: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = (await get(running, f"/api/v1/voicemail/messages?mailbox={mailbox}"))["messages"]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


ON_DUTY = "13900001111"


async def test_the_on_duty_number_is_called_once_and_hears_the_message(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """The mailbox names an on-duty number, called through the trunk endpoint (here agent1005,
    whose contact is the agents' SIPp UAS: the UAS logs the number it is called on) and, once
    answered, played the message from the engine's store."""
    voicemail = voicemail_section(tmp_path, smtp)
    voicemail["mailboxes"]["repair"]["on_duty"] = ON_DUTY
    voicemail["on_duty_trunk"] = "agent1005"
    async with (
        running_engine(settings_for(asterisk, sqlite_url, voicemail)) as engine,
        agent_phones(asterisk, talk_ms=8_000) as phones,
        observing(asterisk) as observer,
    ):
        await leave_message(asterisk)
        (message,) = await messages(engine)
        await phones.wait_for("answer", ON_DUTY, timeout=20)
        played = await observer.wait_for(step("cc-voicemail-play", "Playback"), 10)
        deliveries = await deliveries_done(engine, message["id"])
        sound = await observer.wait_for(
            lambda e: (
                e.get("Event") == "Newexten"
                and e.get("Context") == "cc-voicemail-play"
                and e.get("Application") == "Playback"
                and e.get("AppData") not in ("beep", "vm-goodbye")
            ),
            10,
        )
        await asyncio.sleep(1.0)  # time for a second call, if there were one
    assert played["Context"] == "cc-voicemail-play"
    assert message["id"] in str(sound["AppData"]), sound  # the staged copy of this message
    assert len(phones.seen("invite", ON_DUTY)) == 1
    assert {d["channel"]: (d["status"], d["attempts"]) for d in deliveries}["phone"] == (
        "sent",
        1,
    )
