"""Prompt files and conversion with the real sox: both directories, atomic, sources, deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.clock import FixedClock
from callcenter.ivr.library import catalogue_for
from callcenter.ivr.settings import IvrSettings
from callcenter.prompts.audio import SoxConverter
from callcenter.prompts.model import (
    AudioTooLarge,
    ConversionFailed,
    InvalidAudio,
    PromptGenerated,
    PromptId,
    PromptInUse,
    PromptNotFound,
    RecordingCodes,
    RecordingUnavailable,
    Source,
    parse_wav,
)
from callcenter.prompts.repository import PromptStore
from callcenter.prompts.service import PromptService
from tests.unit.prompts.samples import fmt, riff, tone_wav

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
WELCOME = PromptId("en", "welcome")
GOODBYE = PromptId("en", "goodbye")


@dataclass
class Setup:
    service: PromptService
    sounds: Path
    asterisk: Path


def setup(tmp: Path, *, asterisk: bool = True, in_use: frozenset[PromptId] = frozenset()) -> Setup:
    """``sounds`` with one generated prompt (en/goodbye); Asterisk's folder inside a root."""
    sounds = tmp / "sounds"
    (sounds / "en").mkdir(parents=True)
    (sounds / "en" / "goodbye.wav").write_bytes(tone_wav(0.5, rate=8000, channels=1))
    (sounds / "en" / "goodbye.txt").write_text("Goodbye.")
    asterisk_dir = tmp / "root/usr/share/asterisk/sounds/callcenter"
    store = PromptStore(sounds, asterisk_dir if asterisk else None)
    codes = RecordingCodes()
    service = PromptService(store, SoxConverter(), codes, FixedClock(T0), lambda: in_use)
    return Setup(service, sounds, asterisk_dir)


async def test_sox_converts_any_wav_to_8khz_mono_16bit() -> None:
    out = await SoxConverter().to_prompt(tone_wav(1.0, rate=44_100, channels=2))
    info = parse_wav(out)
    assert info.is_prompt_format
    assert info.seconds == pytest.approx(1.0, abs=0.01)


async def test_sox_refusing_a_file_is_invalid_audio_without_server_paths() -> None:
    garbage = riff((b"fmt ", fmt(tag=6, bits=8)), (b"data", b"\x55" * 800))[:-400] + b"\xff" * 3
    with pytest.raises(InvalidAudio) as caught:
        await SoxConverter().to_prompt(b"RIFF\x10\x00\x00\x00WAVEjunkjunk" + garbage)
    assert "/tmp" not in str(caught.value) and "prompt-" not in str(caught.value)


async def test_a_missing_sox_is_a_conversion_failure() -> None:
    with pytest.raises(ConversionFailed):
        await SoxConverter(sox="/nonexistent/sox").to_prompt(tone_wav(0.5))


async def test_an_upload_lands_in_both_directories_and_is_listed(tmp_path: Path) -> None:
    s = setup(tmp_path)
    stored = await s.service.upload(WELCOME, tone_wav(1.2, rate=22_050, channels=2))
    assert (stored.id, stored.source) == (WELCOME, Source.UPLOADED)
    assert stored.seconds == pytest.approx(1.2, abs=0.01)
    ours, theirs = s.sounds / "en/welcome.wav", s.asterisk / "en/welcome.wav"
    assert ours.read_bytes() == theirs.read_bytes()
    assert parse_wav(theirs.read_bytes()).is_prompt_format
    assert theirs.stat().st_mode & 0o777 == 0o644
    assert not [p.name for p in theirs.parent.iterdir() if p.name.startswith(".")]
    listed = {str(p.id): p for p in await s.service.list()}
    assert listed["en/goodbye"].source is Source.GENERATED
    assert listed["en/goodbye"].seconds == pytest.approx(0.5)
    assert listed["en/welcome"].source is Source.UPLOADED
    assert listed["en/welcome"].seconds == pytest.approx(1.2, abs=0.01)
    # The script library sees it at its next check.
    catalogue = catalogue_for(frozenset(), s.sounds, IvrSettings())()
    assert "welcome" in catalogue.prompts["en"]


async def test_uploading_over_a_generated_prompt_marks_it_uploaded(tmp_path: Path) -> None:
    s = setup(tmp_path)
    await s.service.upload(GOODBYE, tone_wav(0.8, rate=8000, channels=1))
    (listed,) = [p for p in await s.service.list() if p.id == GOODBYE]
    assert listed.source is Source.UPLOADED


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"not a wav at all", InvalidAudio),
        (tone_wav(0.05, rate=8000, channels=1), InvalidAudio),
        (riff((b"fmt ", fmt()), (b"data", b"\0" * 16_000 * 301)), InvalidAudio),
        (b"RIFF" + b"\0" * (10 * 1024 * 1024), AudioTooLarge),
    ],
    ids=["not-wav", "too-short", "too-long", "too-large"],
)
async def test_bad_uploads_write_nothing(
    tmp_path: Path, raw: bytes, error: type[Exception]
) -> None:
    s = setup(tmp_path)
    with pytest.raises(error):
        await s.service.upload(WELCOME, raw)
    assert not (s.sounds / "en/welcome.wav").exists()
    assert not (s.asterisk / "en/welcome.wav").exists()


async def test_delete_refuses_prompts_in_use_and_generated_ones(tmp_path: Path) -> None:
    s = setup(tmp_path, in_use=frozenset({WELCOME}))
    await s.service.upload(WELCOME, tone_wav(0.5))
    with pytest.raises(PromptInUse):
        await s.service.delete(WELCOME)
    with pytest.raises(PromptGenerated):
        await s.service.delete(GOODBYE)
    with pytest.raises(PromptNotFound):
        await s.service.delete(PromptId("en", "nothing"))
    other = PromptId("zh", "extra")
    await s.service.upload(other, tone_wav(0.5))
    deleted = await s.service.delete(other)
    assert deleted.id == other
    assert not (s.sounds / "zh/extra.wav").exists()
    assert not (s.sounds / "zh/extra.source").exists()
    assert not (s.asterisk / "zh/extra.wav").exists()


async def test_without_asterisk_sounds_uploads_go_to_sounds_and_recording_is_refused(
    tmp_path: Path,
) -> None:
    s = setup(tmp_path, asterisk=False)
    await s.service.upload(WELCOME, tone_wav(0.5))
    assert (s.sounds / "en/welcome.wav").is_file()
    assert not s.asterisk.exists()
    with pytest.raises(RecordingUnavailable):
        s.service.request_recording(WELCOME)


async def test_a_take_is_read_from_the_parent_of_asterisk_sounds(tmp_path: Path) -> None:
    s = setup(tmp_path)
    store = s.service.store
    assert store.take_name("take_1") == "callcenter-recordings/take_1"
    take = store.take_path("take_1")
    assert take == tmp_path / "root/usr/share/asterisk/sounds/callcenter-recordings/take_1.wav"
    assert take.parent.is_dir()
    take.write_bytes(tone_wav(2.0, rate=8000, channels=1))  # as Asterisk's RECORD FILE wav
    code = s.service.request_recording(WELCOME)
    assert s.service.claim(code.code) == WELCOME
    assert s.service.claim(code.code) is None
    kept = await s.service.keep_recording(WELCOME, take)
    assert kept.source is Source.RECORDED
    assert kept.seconds == pytest.approx(2.0, abs=0.01)
    assert (s.asterisk / "en/welcome.wav").is_file()
    (listed,) = [p for p in await s.service.list() if p.id == WELCOME]
    assert listed.source is Source.RECORDED
    with pytest.raises(ValueError):
        store.take_path("../../etc/passwd")
