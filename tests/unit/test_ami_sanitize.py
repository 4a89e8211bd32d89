"""The AMI sanitiser: hostile values never reach the wire as line breaks."""

from __future__ import annotations

import pytest
from panoramisk.actions import Action

from callcenter.asterisk.sanitize import (
    MAX_LINE_BYTES,
    Kind,
    clean_text,
    kind_of,
    sanitize_action,
    sanitize_value,
)
from callcenter.errors import AmiError

HOSTILE = [
    "Mallory\r\n\r\nAction: Originate\r\nChannel: PJSIP/evil",
    "bare\nLF",
    "bare\rCR",
    "nul\x00byte",
    "next-line\x85and\u2028line\u2029separators",
    "${SHELL(rm -rf /)}",
    "$[1+1]",
    "a&PJSIP/evil",
    "a,b,c",
    "\"quoted\" 'single'",
    "Zoë Müller 李小龍 🙂",
    "x" * 10_000,
    "ü" * 10_000,
    "\x1b[31mred\x7f",
    "",
]


def wire(headers: dict[str, str | list[str]]) -> str:
    """The bytes panoramisk would write for these headers (its Action needs a running loop)."""
    return str(Action(headers))


# Keys and action names.


@pytest.mark.parametrize(
    "key",
    ["Bad Key", "Key:", "Key\r\nAction", "Ключ", "", "x" * 65, "Key\x00", "Key\n"],
)
def test_bad_header_keys_are_refused(key: str) -> None:
    with pytest.raises(AmiError):
        sanitize_action("Setvar", {key: "1"})


@pytest.mark.parametrize("action", ["Originate\r\nAction: Hangup", "Ping Pong", "", "Ping\n"])
def test_bad_action_names_are_refused(action: str) -> None:
    with pytest.raises(AmiError):
        sanitize_action(action, {})


@pytest.mark.parametrize("key", ["ActionID", "actionid", "Action", "CommandID"])
def test_reserved_keys_are_refused(key: str) -> None:
    with pytest.raises(AmiError, match="set by the client"):
        sanitize_action("Ping", {key: "x"})


def test_keys_differing_only_in_case_are_refused() -> None:
    with pytest.raises(AmiError, match="twice"):
        sanitize_action("Setvar", {"Value": "a", "value": "b"})


def test_valid_keys_with_digits_dashes_underscores_pass() -> None:
    headers = sanitize_action("UserEvent", {"UserEvent": "X", "Cause-txt": "a", "my_key2": "b"})
    assert headers == {"Action": "UserEvent", "UserEvent": "X", "Cause-txt": "a", "my_key2": "b"}


# Free text: replaced, bounded, kept otherwise.


@pytest.mark.parametrize("value", HOSTILE)
def test_free_text_never_contains_a_line_break(value: str) -> None:
    clean = sanitize_value("Value", value)
    assert not any(c in clean for c in "\r\n\x00\x85\u2028\u2029")
    assert len(f"Value: {clean}".encode()) <= MAX_LINE_BYTES


def test_free_text_replaces_each_control_run_with_one_space() -> None:
    value = "Mallory\r\n\r\nAction: Originate"
    assert sanitize_value("CallerID", value) == "Mallory Action: Originate"
    assert sanitize_value("Value", "nul\x00byte") == "nul byte"


@pytest.mark.parametrize("value", ["${SHELL(rm -rf /)}", "a&b", "Smith, John", '"Q" <1>', "李 🙂"])
def test_free_text_keeps_inert_characters(value: str) -> None:
    assert sanitize_value("Value", value) == value


def test_free_text_is_cut_on_a_character_boundary() -> None:
    clean = sanitize_value("Value", "ü" * 10_000)
    encoded = f"Value: {clean}".encode()
    assert MAX_LINE_BYTES - 1 <= len(encoded) <= MAX_LINE_BYTES
    assert set(clean) == {"ü"}


# Structural values: refused unless plainly safe.


@pytest.mark.parametrize("value", [v for v in HOSTILE if v] + ["PJSIP/a b", "x" * 257])
@pytest.mark.parametrize("key", ["Channel", "Context", "Exten", "Application", "Data", "Queue"])
def test_structural_values_with_hostile_content_are_refused(key: str, value: str) -> None:
    with pytest.raises(AmiError, match=key):
        sanitize_action("Originate", {key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Channel", "PJSIP/agent1001"),
        ("Channel", "Local/100@hotline-00000001;1"),
        ("Channel", "PJSIP/agent@[::1]:5070"),
        ("Exten", "+4930123456"),
        ("Exten", "*21#"),
        ("Context", "agent-hold"),
        ("Device", "Custom:agent1001"),
        ("ChannelId", "cc-3f2a.1"),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", "30000"),
    ],
)
def test_plain_structural_values_pass(key: str, value: str) -> None:
    assert sanitize_action("Originate", {key: value})[key] == value


def test_structural_value_is_never_silently_changed() -> None:
    assert kind_of("channel") is Kind.STRUCTURAL
    with pytest.raises(AmiError):
        sanitize_value("Channel", "PJSIP/agent1001\r\n")


# Other kinds.


def test_event_masks_allow_commas_but_nothing_else() -> None:
    assert sanitize_value("Events", "call,user,!dtmf") == "call,user,!dtmf"
    with pytest.raises(AmiError):
        sanitize_value("Events", "on\r\nAction: Originate")


@pytest.mark.parametrize("secret", ["s3cr$t & 'quoted' \"x\" ünï", "${X}"])
def test_secrets_pass_unchanged(secret: str) -> None:
    assert sanitize_value("Secret", secret) == secret


@pytest.mark.parametrize("secret", ["line\r\nbreak", "nul\x00", "x" * 2000])
def test_secrets_that_would_change_are_refused(secret: str) -> None:
    with pytest.raises(AmiError, match="Secret"):
        sanitize_value("Secret", secret)


def test_variable_value_is_free_text_and_name_is_checked() -> None:
    assert (
        sanitize_value("Variable", "CALLER_NAME=Eve\r\n\r\nAction: Hangup")
        == "CALLER_NAME=Eve Action: Hangup"
    )
    assert sanitize_value("Variable", "__INHERITED=1") == "__INHERITED=1"
    assert sanitize_value("Variable", "CALLERID(name)") == "CALLERID(name)"


@pytest.mark.parametrize(
    "name", ["FILE(/etc/passwd)=x", "A B=1", "X\r\nY=1", "${X}=1", "=1", "SHELL(rm -rf)"]
)
def test_hostile_variable_names_are_refused(name: str) -> None:
    with pytest.raises(AmiError, match="variable name"):
        sanitize_value("Variable", name)


def test_multi_valued_headers_are_lists_and_each_value_is_checked() -> None:
    headers = sanitize_action("Originate", {"Variable": ["A=1", "B=x\ny"]})
    assert headers["Variable"] == ["A=1", "B=x y"]
    assert "Variable" not in sanitize_action("Originate", {"Variable": []})
    with pytest.raises(AmiError):
        sanitize_action("Originate", {"Variable": ["A=1", "B C=2"]})


def test_non_text_values_are_refused() -> None:
    with pytest.raises(AmiError, match="text"):
        sanitize_action("Setvar", {"Value": 42})  # type: ignore[dict-item]


def test_too_many_header_lines_are_refused() -> None:
    with pytest.raises(AmiError, match="header lines"):
        sanitize_action("Originate", {"Variable": [f"V{i}=1" for i in range(99)]})


# On the wire: one action, every time.


@pytest.mark.parametrize("value", HOSTILE)
async def test_sanitised_action_is_exactly_one_action_on_the_wire(value: str) -> None:
    text = wire(
        sanitize_action("Setvar", {"Channel": "PJSIP/a-1", "Variable": "N", "Value": value})
    )
    body, end = text[:-4], text[-4:]
    assert end == "\r\n\r\n"
    assert "\n" not in body.replace("\r\n", "")
    assert "\r" not in body.replace("\r\n", "")
    lines = body.split("\r\n")
    assert [line.split(": ", 1)[0] for line in lines] == [
        "Action",
        "ActionID",
        "Channel",
        "Value",
        "Variable",
    ]


def test_clean_text_removes_control_characters_and_bounds_length() -> None:
    assert clean_text("a\r\nb\x00c\u2028d", 100) == "abcd"
    assert clean_text("a\r\nb", 100, " ") == "a b"
    assert clean_text("x" * 500, 128) == "x" * 128
