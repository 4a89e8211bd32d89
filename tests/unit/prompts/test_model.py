"""Prompt names, the WAV header reader, recording codes and the prompts a script plays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from callcenter.ivr.load import load_text
from callcenter.prompts.model import (
    InvalidAudio,
    InvalidPromptName,
    PromptId,
    RecordingCodes,
    TooManyCodes,
    check_duration,
    parse_wav,
    prompts_used,
)
from tests.unit.prompts.samples import fmt, riff, tone_wav

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "name"), [("en", "welcome"), ("zh", "main_menu_2"), ("yue", "a"), ("en", "x" * 64)]
)
def test_valid_prompt_names(language: str, name: str) -> None:
    assert str(PromptId(language, name)) == f"{language}/{name}"


@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("EN", "welcome"),
        ("e", "welcome"),
        ("engl", "welcome"),
        ("en", "Welcome"),
        ("en", "../etc/passwd"),
        ("en", "wel come"),
        ("en", "welcome.wav"),
        ("en", ""),
        ("en", "x" * 65),
        ("..", "welcome"),
    ],
)
def test_invalid_prompt_names_are_refused(language: str, name: str) -> None:
    with pytest.raises(InvalidPromptName):
        PromptId(language, name)


def test_a_pcm_wav_header_gives_format_and_duration() -> None:
    info = parse_wav(tone_wav(1.5, rate=16_000, channels=2))
    assert (info.channels, info.rate, info.bits) == (2, 16_000, 16)
    assert info.seconds == pytest.approx(1.5)
    assert not info.is_prompt_format
    assert parse_wav(tone_wav(0.5, rate=8000, channels=1)).is_prompt_format


def test_extra_chunks_are_skipped_and_a_streamed_data_size_is_cut_to_the_file() -> None:
    data = b"\0" * 1600  # 0.1 s at 8 kHz 16-bit
    raw = riff((b"LIST", b"odd"), (b"fmt ", fmt()), (b"data", data))
    assert parse_wav(raw).seconds == pytest.approx(0.1)
    streamed = raw[: -len(data) - 4] + b"\xff\xff\xff\xff" + data
    assert parse_wav(streamed).seconds == pytest.approx(0.1)
    # Only the head read from disk, with the real size of the file.
    assert parse_wav(raw[:64], total=len(raw)).seconds == pytest.approx(0.1)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"ID3\x03 an mp3 file.........",
        b"RIFF\x00\x00\x00\x00AVI LIST",
        riff((b"data", b"\0" * 100)),
        riff((b"fmt ", fmt()[:10]), (b"data", b"\0" * 100)),
        riff((b"fmt ", fmt(tag=0x55)), (b"data", b"\0" * 100)),
        riff((b"fmt ", fmt(channels=0)), (b"data", b"\0" * 100)),
        riff((b"fmt ", fmt(rate=1)), (b"data", b"\0" * 100)),
        riff((b"fmt ", fmt())),
    ],
    ids=["empty", "mp3", "avi", "no-fmt", "short-fmt", "mp3-in-wav", "channels", "rate", "no-data"],
)
def test_what_is_not_a_usable_wav_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidAudio):
        parse_wav(raw)


def test_durations_must_be_sane() -> None:
    check_duration(parse_wav(tone_wav(0.2, rate=8000, channels=1)))
    with pytest.raises(InvalidAudio, match="duration"):
        check_duration(parse_wav(tone_wav(0.05, rate=8000, channels=1)))
    long = riff((b"fmt ", fmt()), (b"data", b""))[:-4] + (16_000 * 301).to_bytes(4, "little")
    with pytest.raises(InvalidAudio, match="duration"):
        check_duration(parse_wav(long, total=len(long) + 16_000 * 301))


def test_a_code_works_once() -> None:
    codes = RecordingCodes(draw=lambda: 42)
    issued = codes.issue(PromptId("en", "welcome"), T0)
    assert issued.code == "000042"
    assert issued.expires_at == T0 + timedelta(minutes=10)
    assert codes.claim("000042", T0) == PromptId("en", "welcome")
    assert codes.claim("000042", T0) is None


def test_a_code_expires() -> None:
    codes = RecordingCodes(ttl=timedelta(minutes=10), draw=lambda: 7)
    codes.issue(PromptId("en", "welcome"), T0)
    assert codes.claim("000007", T0 + timedelta(minutes=10)) is None
    assert codes.claim("000007", T0 + timedelta(minutes=1)) is None  # already spent


def test_unknown_codes_and_a_newer_code_for_the_same_prompt() -> None:
    draws = count(100)
    codes = RecordingCodes(draw=lambda: next(draws))
    first = codes.issue(PromptId("en", "welcome"), T0)
    other = codes.issue(PromptId("zh", "welcome"), T0)
    second = codes.issue(PromptId("en", "welcome"), T0)
    assert codes.claim("999999", T0) is None
    assert codes.claim(first.code, T0) is None  # replaced by the newer code
    assert codes.claim(second.code, T0) == PromptId("en", "welcome")
    assert codes.claim(other.code, T0) == PromptId("zh", "welcome")


def test_codes_are_distinct_and_bounded() -> None:
    codes = RecordingCodes(draw=lambda: 5)
    codes.issue(PromptId("en", "a"), T0)
    with pytest.raises(TooManyCodes):
        codes.issue(PromptId("en", "b"), T0)  # the only code a fixed draw can give is taken
    codes = RecordingCodes(draw=count().__next__)
    for n in range(100):
        codes.issue(PromptId("en", f"p{n}"), T0)
    with pytest.raises(TooManyCodes):
        codes.issue(PromptId("en", "one_more"), T0)
    # Expired codes make room again.
    codes.issue(PromptId("en", "later"), T0 + timedelta(minutes=11))


SCRIPT = """
name: t
languages: [en, zh]
start: menu
nodes:
  menu:
    type: menu
    prompts: [welcome, main_menu]
    choices: {"1": bye}
    timeout: 5
    retries: 1
    invalid_prompts: [invalid_choice]
    on_invalid: bye
    on_timeout: bye
  bye:
    type: hangup
    prompts: [goodbye]
    outcome: completed_in_ivr
"""


def test_prompts_a_script_plays_in_each_of_its_languages() -> None:
    loaded = load_text(SCRIPT)
    assert loaded.script is not None, loaded.problems
    used = prompts_used(loaded.script)
    names = {"welcome", "main_menu", "invalid_choice", "goodbye"}
    assert used == {PromptId(lang, n) for lang in ("en", "zh") for n in names}
