"""The agent state table: every legal pair moves, every illegal pair raises and changes nothing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from callcenter.acd.agents import (
    TRANSITIONS,
    Agent,
    AgentEvent,
    IllegalTransition,
    StateHistory,
    mermaid_diagram,
    transition,
)
from callcenter.acd.model import AgentConfig, AgentState
from callcenter.errors import CallcenterError
from tests.unit.acd.harness import at

S = AgentState
E = AgentEvent

EXPECTED = {
    (S.LOGGED_OUT, E.LOGIN): S.READY,
    (S.READY, E.LOGOUT): S.LOGGED_OUT,
    (S.RINGING, E.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    (S.READY, E.PAUSE): S.PAUSED,
    (S.RINGING, E.PAUSE): S.PAUSED,
    (S.WRAP_UP, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.UNPAUSE): S.READY,
    (S.RINGING, E.PAUSE_AFTER_CALL): S.RINGING,
    (S.TALKING, E.PAUSE_AFTER_CALL): S.TALKING,
    (S.WRAP_UP, E.PAUSE_AFTER_CALL): S.WRAP_UP,
    (S.READY, E.OFFER): S.RINGING,
    (S.RINGING, E.ANSWER): S.TALKING,
    (S.RINGING, E.RING_END): S.READY,
    (S.TALKING, E.HANG_UP): S.WRAP_UP,
    (S.WRAP_UP, E.END_WRAP_UP): S.READY,
    (S.READY, E.ADOPT): S.TALKING,
    (S.PAUSED, E.ADOPT): S.TALKING,
}
ILLEGAL = [pair for pair in itertools.product(S, E) if pair not in EXPECTED]


def agent_in(state: AgentState) -> Agent:
    agent = Agent(AgentConfig("agent7", {"q": 1}))
    agent.state, agent.reason, agent.since = state, "before", at(0)
    return agent


def test_the_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("pair", "new"), EXPECTED.items(), ids=lambda p: str(p))
def test_every_legal_pair_moves(pair: tuple[AgentState, AgentEvent], new: AgentState) -> None:
    state, event = pair
    agent = agent_in(state)
    assert agent.apply(event, at(5), "lunch") is new
    assert agent.state is new
    if event is E.PAUSE_AFTER_CALL:
        assert (agent.since, agent.reason, agent.pause_after) == (at(0), "before", "lunch")
    else:
        assert agent.since == at(5)
        assert agent.reason == ("lunch" if new is S.PAUSED else "")


@pytest.mark.parametrize("pair", ILLEGAL, ids=lambda p: str(p))
def test_every_illegal_pair_raises_and_changes_nothing(
    pair: tuple[AgentState, AgentEvent],
) -> None:
    state, event = pair
    agent = agent_in(state)
    with pytest.raises(IllegalTransition) as raised:
        agent.apply(event, at(5), "lunch")
    assert (agent.state, agent.reason, agent.since, agent.pause_after) == (
        state,
        "before",
        at(0),
        None,
    )
    error = raised.value
    assert isinstance(error, CallcenterError)
    assert error.code == "acd_illegal_transition"
    assert (error.agent, error.state, error.event) == ("agent7", state, event)
    assert event.value in str(error) and state.value in str(error)


def test_talking_agents_can_neither_log_out_nor_pause() -> None:
    for event in (E.LOGOUT, E.PAUSE):
        with pytest.raises(IllegalTransition):
            transition("a", S.TALKING, event)


def test_mermaid_diagram_lists_every_transition() -> None:
    text = mermaid_diagram()
    lines = text.splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> logged_out"]
    assert len(lines) == 2 + len(EXPECTED)
    assert "    talking --> wrap_up: hang_up" in lines


def test_the_docs_show_the_generated_diagram() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "acd.md"
    assert f"```mermaid\n{mermaid_diagram()}```" in docs.read_text(encoding="utf-8")


def test_state_history_answers_before_a_tick_and_prunes_what_is_not_needed() -> None:
    history = StateHistory(S.LOGGED_OUT)
    cycle = [S.READY, S.RINGING, S.TALKING, S.WRAP_UP]
    entries: list[tuple[int, AgentState, str | None]] = [(0, S.LOGGED_OUT, None)]
    for n in range(1, 1001):
        state = cycle[n % 4]
        call = f"c{n}" if state is S.RINGING else None
        history.append(n * 10, state, call)
        entries.append((n * 10, state, call))

    def expected(tick: int) -> tuple[AgentState, str | None]:
        _, state, call = [e for e in entries if e[0] < tick][-1]
        return state, call

    for tick in (1, 5, 11, 15, 20, 21, 95, 5_005, 10_005):
        assert history.at(tick) == expected(tick), tick
    assert history.at(15) == (S.RINGING, "c1")
    history.prune(5_000)
    assert len(history) <= 502
    for tick in (5_001, 5_005, 5_011, 5_015, 7_777, 10_005):
        assert history.at(tick) == expected(tick), tick
