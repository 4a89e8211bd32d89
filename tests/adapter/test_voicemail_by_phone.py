"""A mailbox by phone over the real FastAGI server (both backends), Asterisk played by the fake
client: a wrong PIN is refused; with the right one the messages play from Asterisk's sounds
tree, 7 deletes one (audited, audio gone), 9 keeps the other (heard)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.clock import FixedClock
from callcenter.settings import FastAgiSettings
from callcenter.storage.db import Database
from callcenter.voicemail.retrieval import AGI_PATH, MailboxByPhone
from tests.adapter.test_voicemail_recorder import Phone
from tests.adapter.voicemail_parts import (
    MESSAGE_ID,
    T0,
    Parts,
    build,
    free_port,
    message,
    take,
    voicemail_settings,
)

OLDER_ID = "fedcba9876543210fedcba9876543210"
SOUNDS = Path("root/usr/share/asterisk/sounds")


async def parts_with_pin(database: Database, tmp_path: Path) -> Parts:
    settings = voicemail_settings(tmp_path, free_port())
    repair = settings.mailboxes["repair"].model_copy(
        update={"number": "101", "pin": SecretStr("4321")}
    )
    settings = settings.model_copy(update={"mailboxes": {"repair": repair}})
    parts = build(database, settings, tmp_path, FixedClock(T0))
    await parts.service.keep(message(), take(tmp_path, name="new"))
    older = message(OLDER_ID, created_at=T0.replace(hour=7))
    await parts.service.keep(older, take(tmp_path, name="older"))
    await parts.service.mark_heard(OLDER_ID, "agent1001")
    return parts


async def call(parts: Parts, phone: Phone) -> None:
    server = FastAgiServer(
        FastAgiSettings(port=0), {AGI_PATH: MailboxByPhone(parts.service).handle}
    )
    await server.start()
    try:
        assert server.bound_port is not None
        await phone.call(server.bound_port)
    finally:
        await server.stop()


async def test_a_wrong_pin_is_refused(database: Database, tmp_path: Path) -> None:
    parts = await parts_with_pin(database, tmp_path)
    phone = Phone({"GET DATA": ["200 result=101", "200 result=9999"]}, path=AGI_PATH)
    await call(parts, phone)
    data = [c[2] for c in phone.commands if c[:2] == ["GET", "DATA"]]
    assert data == ["vm-login", "vm-password"] * 3
    played = [c[2] for c in phone.commands if c[:2] == ["STREAM", "FILE"]]
    assert played == ["vm-incorrect", "vm-incorrect", "vm-goodbye"]
    stored = await parts.service.get(MESSAGE_ID)
    assert stored.heard_at is None and stored.deleted_at is None


async def test_listen_delete_and_save(database: Database, tmp_path: Path) -> None:
    parts = await parts_with_pin(database, tmp_path)
    staged: list[bool] = []

    def playing(words: list[str]) -> str:
        name = words[2]
        if name.startswith("callcenter-voicemail/"):
            staged.append((tmp_path / SOUNDS / f"{name}.wav").is_file())
            return "200 result=55 endpos=8000" if len(staged) == 1 else "200 result=0 endpos=8000"
        if name == "vm-opts":
            return "200 result=57 endpos=100"  # 9: save
        return "200 result=0 endpos=100"

    phone = Phone(
        {"GET DATA": ["200 result=101", "200 result=4321"], "STREAM FILE": [playing]},
        path=AGI_PATH,
    )
    await call(parts, phone)
    played = [c[2] for c in phone.commands if c[:2] == ["STREAM", "FILE"]]
    assert played[0] == "vm-youhave" and ["SAY", "NUMBER", "2", ""] in phone.commands
    assert played[2].startswith("callcenter-voicemail/p_")  # the new message first: 7
    assert played[3] == "vm-deleted"
    assert played[4].startswith("callcenter-voicemail/p_")  # the old one
    assert played[5:] == ["vm-opts", "vm-saved", "vm-nomore", "vm-goodbye"]
    assert staged == [True, True]
    deleted = await parts.service.get(MESSAGE_ID)
    assert (deleted.deleted_by, deleted.heard_by) == ("phone:repair", "phone:repair")
    assert not parts.store.path(MESSAGE_ID).exists()
    kept = await parts.service.get(OLDER_ID)
    assert (kept.deleted_at, kept.heard_by) == (None, "agent1001")
    assert parts.store.path(OLDER_ID).is_file()
    assert not list((tmp_path / SOUNDS / "callcenter-voicemail").glob("p_*.wav"))
    assert ["SET", "VARIABLE", "CC_HANDLED", "1"] in phone.commands
