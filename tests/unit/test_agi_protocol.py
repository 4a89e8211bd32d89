"""The FastAGI protocol values: environment, responses, command quoting and injection."""

from __future__ import annotations

import pytest

from callcenter.asterisk import agi_protocol as proto
from callcenter.asterisk.agi_protocol import (
    HANGUP_NOTICE,
    AgiResult,
    EnvironmentParser,
    ResponseParser,
    dtmf_digit,
    format_command,
    parse_environment,
    parse_result_line,
    parse_script,
    script_args,
)
from callcenter.errors import AgiError

# --- a port of Asterisk's res_agi.c parse_args(), to check quoting round trips -----------


def asterisk_parse_args(line: str) -> list[str]:
    """Split a command line the way Asterisk 22 does (quotes toggle, backslash escapes)."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line.removesuffix("\n"):
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
                args.append("")
            continue
        if char in " \t" and not quoted and not escaped:
            if current is not None:
                args[-1] = "".join(current)
            current = None
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
            args.append("")
        current.append(char)
        escaped = False
    if current is not None:
        args[-1] = "".join(current)
    return args


# --- environment ----------------------------------------------------------------------------

REAL_ENV = [
    "agi_network: yes",
    "agi_network_script: hotline",
    "agi_request: agi://127.0.0.1:4573/hotline",
    "agi_channel: Local/s@probe-00000000;2",
    "agi_uniqueid: probe-1795436419.1",
    "agi_callerid: 0612345678",
    'agi_calleridname: Evil "Name"',
    "agi_accountcode: ",
    "agi_arg_1: first arg",
    "agi_arg_2: second",
    "",
]


def test_environment_as_asterisk_sends_it() -> None:
    env = parse_environment(REAL_ENV)
    assert env["agi_network_script"] == "hotline"
    assert env["agi_calleridname"] == 'Evil "Name"'
    assert env["agi_accountcode"] == ""
    assert script_args(env) == ("first arg", "second")


def test_environment_parser_returns_none_until_the_empty_line() -> None:
    parser = EnvironmentParser()
    assert parser.feed("agi_network: yes") is None
    assert parser.feed("") == {"agi_network": "yes"}


@pytest.mark.parametrize(
    "line",
    [
        "agi_network yes",  # no colon
        "network: yes",  # not an agi_ key
        "AGI_NETWORK: yes",  # Asterisk's keys are lower case
        "agi_: x",
        "agi_x y: z",
        " agi_network: yes",
        "200 result=0",
        "HANGUP",
    ],
)
def test_malformed_environment_lines_are_refused(line: str) -> None:
    with pytest.raises(AgiError):
        parse_environment([line, ""])


def test_environment_is_bounded_in_lines() -> None:
    lines = [f"agi_arg_{n}: x" for n in range(1, 20)] + [""]
    with pytest.raises(AgiError, match="longer than 10 lines"):
        parse_environment(lines, max_lines=10)
    assert len(parse_environment(lines, max_lines=20)) == 19


def test_environment_refuses_repeated_keys_empty_blocks_and_missing_end() -> None:
    with pytest.raises(AgiError, match="repeats"):
        parse_environment(["agi_channel: a", "agi_channel: b", ""])
    with pytest.raises(AgiError, match="empty"):
        parse_environment([""])
    with pytest.raises(AgiError, match="not terminated"):
        parse_environment(["agi_channel: a"])


@pytest.mark.parametrize(
    "name",
    ['"evil\\" <1>', "${SHELL}", "$(rm -rf /)", "x" * 10_000, 'a: b\tc "d" \\e', "名前"],
)
def test_hostile_caller_names_are_kept_raw_as_values(name: str) -> None:
    env = parse_environment(["agi_callerid: 1", f"agi_calleridname: {name}", ""])
    assert env["agi_calleridname"] == name


def test_script_path_and_query() -> None:
    route = parse_script("/hotline?lang=en&vip=")
    assert route.path == "hotline"
    assert dict(route.query) == {"lang": "en", "vip": ""}
    assert parse_script("hotline").path == "hotline"
    assert dict(parse_script("a/b?x=%20y").query) == {"x": " y"}
    assert parse_script("").path == ""


def test_script_args_stop_at_the_first_gap() -> None:
    assert script_args({"agi_arg_1": "a", "agi_arg_3": "c"}) == ("a",)
    assert script_args({}) == ()


# --- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=0", AgiResult(200, 0, value="0")),
        ("200 result=49", AgiResult(200, 49, value="49")),
        ("200 result=-1", AgiResult(200, -1, value="-1")),
        ("200 result=-2", AgiResult(200, -2, value="-2")),
        ("200 result=0 (timeout)", AgiResult(200, 0, "timeout", value="0")),
        ("200 result= (timeout)", AgiResult(200, None, "timeout", value="")),
        ("200 result=0123 (timeout)", AgiResult(200, 123, "timeout", value="0123")),
        ("200 result=12*3", AgiResult(200, None, value="12*3")),
        ("200 result=49 endpos=13600", AgiResult(200, 49, "", {"endpos": "13600"}, "49")),
        ("200 result=-1 endpos=0", AgiResult(200, -1, "", {"endpos": "0"}, "-1")),
        (
            "200 result=1 (speech) endpos=1234",
            AgiResult(200, 1, "speech", {"endpos": "1234"}, "1"),
        ),
        (
            "200 result=1 (digit) digit=5 endpos=80",
            AgiResult(200, 1, "digit", {"digit": "5", "endpos": "80"}, "1"),
        ),
        (
            '200 result=1 (speech) endpos=0 results=1 score0=900 text0="a (b) c" grammar0=g',
            AgiResult(
                200,
                1,
                "speech",
                {
                    "endpos": "0",
                    "results": "1",
                    "score0": "900",
                    "text0": "a (b) c",
                    "grammar0": "g",
                },
                "1",
            ),
        ),
        ("200 result=1 (probe-1795436419.0)", AgiResult(200, 1, "probe-1795436419.0", value="1")),
        (
            '200 result=1 (a "quoted" value, with comma)',
            AgiResult(200, 1, 'a "quoted" value, with comma', value="1"),
        ),
        # a variable's value may look like anything, parentheses and key=value included
        ("200 result=1 (x) endpos=5)", AgiResult(200, 1, "x) endpos=5", value="1")),
        ("200 result=1 ()", AgiResult(200, 1, "", value="1")),
        ("510 Invalid or unknown command", AgiResult(510, data="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AgiResult(511, data="Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AgiResult(520, data="Invalid command syntax.  Proper usage not available."),
        ),
    ],
)
def test_result_lines(line: str, expected: AgiResult) -> None:
    assert parse_result_line(line) == expected


def test_hangup_line_is_a_notice() -> None:
    assert parse_result_line("HANGUP") is HANGUP_NOTICE
    assert ResponseParser().feed("HANGUP") is HANGUP_NOTICE


@pytest.mark.parametrize(
    "line",
    ["", "garbage", "200", "200 resalt=1", "2000 result=1", "600 x", "hangup", "200-result=1"],
)
def test_garbage_responses_are_refused(line: str) -> None:
    with pytest.raises(AgiError):
        ResponseParser().feed(line)


def test_usage_block_is_joined_into_one_result() -> None:
    parser = ResponseParser()
    assert parser.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert parser.in_block
    assert parser.feed("Send the given file, allowing playback to be interrupted") is None
    assert parser.feed("    <value>SUCCESS</value>") is None
    result = parser.feed("520 End of proper usage.")
    assert result == AgiResult(
        520,
        data="Send the given file, allowing playback to be interrupted\n    <value>SUCCESS</value>",
    )
    assert not parser.in_block
    assert parser.feed("200 result=0") == AgiResult(200, 0, value="0")


def test_empty_usage_block_as_asterisk_sends_it_sometimes() -> None:
    parser = ResponseParser()
    assert parser.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert parser.feed("520 End of proper usage.") == AgiResult(520, data="")


def test_usage_block_is_bounded() -> None:
    parser = ResponseParser(max_usage_lines=3)
    parser.feed("520-Invalid command syntax.  Proper usage follows:")
    for _ in range(3):
        parser.feed("text")
    with pytest.raises(AgiError, match="longer than 3 lines"):
        parser.feed("text")


def test_parsing_is_linear_on_hostile_variable_values() -> None:
    hostile = "200 result=1 (" + ") a=b " * 1300 + ")x"
    result = parse_result_line(hostile)  # a backtracking regex would take ages here
    assert isinstance(result, AgiResult)
    assert (result.code, result.result, result.data) == (200, 1, "")


@pytest.mark.parametrize(
    ("code", "digit"),
    [(48, "0"), (49, "1"), (57, "9"), (42, "*"), (35, "#"), (65, "A"), (68, "D"), (0, None)],
)
def test_dtmf_digits(code: int, digit: str | None) -> None:
    assert dtmf_digit(code) == digit


@pytest.mark.parametrize("code", [-1, 1, 69, 97, 300])
def test_non_dtmf_codes_are_refused(code: int) -> None:
    with pytest.raises(AgiError):
        dtmf_digit(code)


# --- commands -------------------------------------------------------------------------------


def test_every_argument_is_quoted() -> None:
    assert format_command("STREAM FILE", "welcome", "0123456789") == (
        'STREAM FILE "welcome" "0123456789"\n'
    )
    assert format_command("GET DATA", "beep", 500, 4) == 'GET DATA "beep" "500" "4"\n'
    assert format_command("ANSWER") == "ANSWER\n"
    assert format_command("STREAM FILE", "x", "") == 'STREAM FILE "x" ""\n'


def test_quotes_and_backslashes_are_escaped() -> None:
    line = format_command("SET VARIABLE", "NAME", 'Evil "Name" \\ end')
    assert line == 'SET VARIABLE "NAME" "Evil \\"Name\\" \\\\ end"\n'


@pytest.mark.parametrize(
    "value",
    [
        '"evil\\" <1>',
        '" "ANSWER',
        '\\" HANGUP "',
        "${SHELL}",
        "a\tb",
        "\\",
        '"',
        "",
        "名前 ünïcode",
        "x" * 1500,
    ],
)
def test_hostile_values_stay_one_argument_in_asterisks_parser(value: str) -> None:
    line = format_command("SET VARIABLE", "CC_NAME", value)
    assert asterisk_parse_args(line) == ["SET", "VARIABLE", "CC_NAME", value]


@pytest.mark.parametrize(
    "value", ["a\nANSWER", "a\rHANGUP", "a\r\nHANGUP", "nul\x00byte", "\n", "end\n"]
)
def test_cr_lf_and_nul_are_refused(value: str) -> None:
    with pytest.raises(AgiError, match="CR, LF or NUL"):
        format_command("SET VARIABLE", "X", value)
    with pytest.raises(AgiError):
        proto.set_variable("X", value)
    with pytest.raises(AgiError):
        proto.verbose(value)


def test_commands_are_bounded_in_length() -> None:
    assert len(format_command("VERBOSE", "x" * 1900, 1)) <= proto.MAX_COMMAND_BYTES
    with pytest.raises(AgiError, match="longer than"):
        format_command("VERBOSE", "x" * 2000, 1)
    with pytest.raises(AgiError, match="longer than"):
        format_command("VERBOSE", "é" * 1000, 1)  # counted in bytes


@pytest.mark.parametrize("verb", ["answer", "ANSWER\nHANGUP", "", "GET  DATA", "EXEC;", 'A "B"'])
def test_verbs_are_validated(verb: str) -> None:
    with pytest.raises(AgiError, match="invalid AGI verb"):
        format_command(verb)


def test_arguments_must_be_text_or_int() -> None:
    with pytest.raises(AgiError):
        format_command("VERBOSE", True)
    with pytest.raises(AgiError):
        format_command("VERBOSE", 1.5)  # type: ignore[arg-type]


def test_typed_commands() -> None:
    def line(cmd: proto.AgiCommand) -> str:
        return cmd.line()

    assert line(proto.answer()) == "ANSWER\n"
    assert line(proto.hangup()) == "HANGUP\n"
    assert line(proto.noop()) == "NOOP\n"
    assert line(proto.stream_file("welcome", "12#")) == 'STREAM FILE "welcome" "12#"\n'
    assert line(proto.stream_file("welcome", offset=800)) == 'STREAM FILE "welcome" "" "800"\n'
    assert line(proto.get_data("menu", 5000, 4)) == 'GET DATA "menu" "5000" "4"\n'
    assert line(proto.wait_for_digit(-1)) == 'WAIT FOR DIGIT "-1"\n'
    assert line(proto.say_digits("0612", "#")) == 'SAY DIGITS "0612" "#"\n'
    assert line(proto.say_number(42)) == 'SAY NUMBER "42" ""\n'
    assert line(proto.set_variable("__CC_QUEUE", "sales")) == 'SET VARIABLE "__CC_QUEUE" "sales"\n'
    assert line(proto.get_variable("CHANNEL(linkedid)")) == 'GET VARIABLE "CHANNEL(linkedid)"\n'
    assert line(proto.verbose("hello", 3)) == 'VERBOSE "hello" "3"\n'
    assert line(proto.set_music(True, "default")) == 'SET MUSIC "on" "default"\n'
    assert line(proto.set_music(False)) == 'SET MUSIC "off"\n'
    assert line(proto.record_file("/tmp/m", "wav", "#", 60000, beep=True, silence_s=5)) == (
        'RECORD FILE "/tmp/m" "wav" "#" "60000" "BEEP" "s=5"\n'
    )
    assert line(proto.exec_app("Queue", "support", "t", "", "", 300)) == (
        'EXEC "Queue" "support,t,,,300"\n'
    )
    assert line(proto.exec_app("Answer")) == 'EXEC "Answer" ""\n'


@pytest.mark.parametrize("digits", ["1x", "12 ", "a", "1,2"])
def test_escape_digits_are_validated(digits: str) -> None:
    with pytest.raises(AgiError, match="escape digits"):
        proto.stream_file("welcome", digits)


@pytest.mark.parametrize("digits", ["", "12a", "1 2", "${X}"])
def test_say_digits_takes_digits_only(digits: str) -> None:
    with pytest.raises(AgiError):
        proto.say_digits(digits)


@pytest.mark.parametrize("name", ["", "A B", "X=1", "${X}", "F(a)(b)", '"X"', "1ABC", "F(a b)"])
def test_variable_names_are_validated(name: str) -> None:
    with pytest.raises(AgiError, match="variable name"):
        proto.get_variable(name)


@pytest.mark.parametrize(
    "arg",
    [
        "PJSIP/a&PJSIP/b",  # a second Dial target
        "sales,t",  # a second argument
        "x|y",
        "1(evil)",
        "a[b]",
        "{x}",
        '"quoted"',
        "back\\slash",
        "${SHELL}",
        "opt^arg",
        "tab\there",
        "esc\x1b",
        "line\nbreak",
    ],
)
def test_exec_arguments_cannot_add_arguments_or_options(arg: str) -> None:
    with pytest.raises(AgiError):
        proto.exec_app("Dial", arg, 30)


@pytest.mark.parametrize("app", ["", "Dial,x", "Dial(x)", "9Dial", "Di al", "Dial\n"])
def test_exec_application_names_are_validated(app: str) -> None:
    with pytest.raises(AgiError, match="application name"):
        proto.exec_app(app)


def test_exec_allows_plain_values() -> None:
    cmd = proto.exec_app("Dial", "PJSIP/agent1001", 30, "tT")
    assert asterisk_parse_args(cmd.line()) == ["EXEC", "Dial", "PJSIP/agent1001,30,tT"]
    cmd = proto.exec_app("Playback", "callcenter/en/welcome")
    assert asterisk_parse_args(cmd.line()) == ["EXEC", "Playback", "callcenter/en/welcome"]
