"""Validation: every good fixture passes; each bad fixture breaks one rule, found at its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.ivr.load import load_text
from callcenter.ivr.validate import Catalogue, check_text
from callcenter.yamlsource import MAX_BYTES
from tests.unit.ivr.catalogue import CATALOGUE, FIXTURES

GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))

# fixture -> every problem expected: (line, column, a fragment of the message)
EXPECTED: dict[str, list[tuple[int, int, str]]] = {
    "yaml_syntax": [(5, 1, "expected ',' or '}'")],
    "alias": [(6, 10, "aliases are not allowed")],
    "object_tag": [(4, 10, "tag tag:yaml.org,2002:python/object:os.system is not allowed")],
    "unknown_top_key": [(1, 1, "missing key 'nodes'"), (3, 1, "unknown key 'node' in the script")],
    "unknown_key": [(7, 5, "unknown key 'nxet' in node 'hello'")],
    "wrong_type": [(8, 5, "timeout: must be a number of seconds")],
    "missing_key": [(4, 3, "missing key 'next'")],
    "unknown_type": [(5, 5, "node 'hello': unknown or missing type; one of branch,")],
    "bad_key": [(7, 25, "choices: 12: must be one key")],
    "out_of_range": [(7, 5, "priority: must be a whole number within 0..100")],
    "bad_pattern": [(8, 5, "pattern: is not a valid regular expression")],
    "bad_template": [(7, 5, "value: '$' must start a variable reference")],
    "bad_url": [(6, 5, "url: must be an http:// or https:// URL")],
    "collect_lengths": [(8, 5, "node 'ask': min_length is larger than max_length")],
    "exclusive_keys": [(5, 5, "transfer needs exactly one of extension or number")],
    "dangling_target": [(9, 7, "node 'menu': unknown node 'repiar'")],
    "unreachable": [(6, 3, "node 'lost' is unreachable from 'hello'")],
    "spin_loop": [(4, 3, "loop without waiting for the caller through check, again")],
    "no_way_out": [(4, 3, "no way out: from node 'hello'")],
    "return_outside_subflow": [(4, 3, "node 'back': return outside a sub-flow")],
    "unknown_subflow": [(6, 5, "unknown sub-flow 'survey'")],
    "recursive_subflow": [(11, 3, "sub-flow 'again' calls itself")],
    "unused_subflow": [(7, 3, "sub-flow 'survey' is never called")],
    "unknown_queue": [(6, 5, "unknown queue 'billing'; known: complaints, products, repair")],
    "unknown_prompt": [(7, 24, "unknown prompt 'farewell' (missing in zh, en)")],
    "unknown_document": [(6, 24, "unknown document '999'")],
    "transfer_not_allowed": [(6, 5, "outside number '+19005550100' is not on the transfer")],
    "unknown_language": [(8, 33, "language 'fr' is not one of the script's languages")],
    "bad_hours": [(6, 5, "mon: '8-20' is not a span")],
    "unknown_timezone": [(4, 3, "timezone: unknown time zone 'Asia/Beijing'")],
    "hours_without_calendar": [(4, 3, "node 'hours': no business_hours in the script")],
}


def test_every_bad_fixture_is_expected() -> None:
    assert sorted(p.stem for p in BAD) == sorted(EXPECTED)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_passes(path: Path) -> None:
    assert check_text(path.read_bytes(), CATALOGUE) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_reported_where_it_is(path: Path) -> None:
    problems = check_text(path.read_bytes(), CATALOGUE)
    found = [(p.line, p.column, p.message) for p in problems]
    expected = EXPECTED[path.stem]
    assert len(found) == len(expected), found
    for (line, column, message), (want_line, want_column, fragment) in zip(
        found, expected, strict=True
    ):
        assert (line, column) == (want_line, want_column), message
        assert fragment in message


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = """\
start: a
nodes:
  a: {type: play, prompts: [nope], next: b, colour: red}
  b: {type: menu, prompts: [menu], choices: {"1": c}, on_invalid: a, timeout: -1}
  lost: {type: hangup}
"""
    problems = check_text(text, CATALOGUE)
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (3, "unknown prompt 'nope' (missing in zh)"),
        (3, "unknown key 'colour' in node 'a'"),
        (4, "node 'b'"),  # the dangling choice is still found, though b has a bad timeout
        (4, "timeout"),
        (5, "node 'lost' is unreachable from 'a'"),
    ]


def test_problems_render_as_file_line_column() -> None:
    [problem] = check_text((FIXTURES / "bad" / "unreachable.yaml").read_bytes(), CATALOGUE)
    assert problem.render("ivr/x.yaml") == "ivr/x.yaml:6:3: node 'lost' is unreachable from 'hello'"


def test_file_size_is_bounded() -> None:
    text = "start: a\n" + "#" * MAX_BYTES
    [problem] = check_text(text, CATALOGUE)
    assert "larger than" in problem.message


def test_an_empty_catalogue_knows_nothing() -> None:
    problems = check_text((FIXTURES / "good" / "menu.yaml").read_bytes(), Catalogue())
    messages = " | ".join(p.message for p in problems)
    assert "unknown queue 'repair'" in messages and "unknown prompt 'menu'" in messages


def test_loaded_script_keeps_node_values() -> None:
    loaded = load_text((FIXTURES / "good" / "every_node.yaml").read_bytes())
    assert loaded.problems == [] and loaded.script is not None
    hours = loaded.script.business_hours
    assert hours is not None and hours.timezone == "Asia/Shanghai"
    assert len(hours.holidays) == 2
    assert loaded.script.languages == ("zh", "en")
    assert set(loaded.script.subflows) == {"survey"}


def test_a_loop_through_a_sub_flow_that_asks_does_not_spin() -> None:
    text = """\
start: rate
nodes:
  rate: {type: call, flow: survey, next: check}
  check: {type: branch, var: survey.done, cases: {"yes": bye}, default: rate}
  bye: {type: hangup}
subflows:
  survey:
    start: ask
    nodes:
      ask: {type: survey, prompts: [menu], next: done}
      done: {type: set, var: survey.done, value: "yes", next: back}
      back: {type: return}
"""
    assert check_text(text, CATALOGUE) == []
    silent = text.replace("{type: survey, prompts: [menu], next: done}", "{type: goto, next: done}")
    [problem] = check_text(silent, CATALOGUE)
    assert problem.message == "loop without waiting for the caller through rate, check"
