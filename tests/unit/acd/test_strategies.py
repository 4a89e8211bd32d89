"""The strategy registry and the sorted index strategies walk."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from callcenter.acd.model import QueueConfig
from callcenter.acd.strategies import (
    STRATEGIES,
    FreeIndex,
    Request,
    SortedList,
    SortKey,
    UnknownStrategy,
    meets,
    natural_key,
    strategy_for,
)


@dataclass(frozen=True)
class Facts:
    id: str
    idle_since: float = 0.0
    calls_taken: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)

    @property
    def natural(self) -> SortKey:
        return natural_key(self.id)


def index_of(name: str, agents: list[Facts], queue: QueueConfig) -> FreeIndex:
    index = FreeIndex()
    for agent in agents:
        index.add(agent.id, STRATEGIES[name].order(agent, queue))
    return index


def choose(name: str, agents: list[Facts], last: Facts | None = None, skip: str = "") -> list[str]:
    queue = QueueConfig("q", strategy=name, required_skills={"fr": 1})
    request = Request(lambda a: a != skip, queue, last)
    return STRATEGIES[name].choose(index_of(name, agents, queue), request)


def test_the_registry_names() -> None:
    assert sorted(STRATEGIES) == ["fewest_calls", "hunting", "longest_idle", "ring_all", "skills"]
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name
        assert strategy_for(name) is strategy
    assert [n for n, s in STRATEGIES.items() if s.parallel] == ["ring_all"]


def test_an_unknown_name_fails_clearly() -> None:
    with pytest.raises(UnknownStrategy) as raised:
        strategy_for("random")
    assert raised.value.code == "acd_unknown_strategy"
    assert "'random'" in str(raised.value) and "longest_idle" in str(raised.value)


AGENTS = [
    Facts("a10", idle_since=5, calls_taken=1, skills={"fr": 2}),
    Facts("a2", idle_since=9, calls_taken=0, skills={"fr": 5}),
    Facts("a1", idle_since=7, calls_taken=1, skills={"fr": 2}),
]


def test_each_strategy_picks_by_its_order() -> None:
    assert choose("longest_idle", AGENTS) == ["a10"]
    assert choose("fewest_calls", AGENTS) == ["a2"]
    assert choose("skills", AGENTS) == ["a2"]
    assert choose("hunting", AGENTS) == ["a1"]
    assert choose("ring_all", AGENTS) == ["a1", "a2", "a10"]
    assert choose("ring_all", AGENTS, skip="a2") == ["a1", "a10"]
    assert choose("longest_idle", AGENTS, skip="a10") == ["a1"]


def test_ties_break_by_natural_id() -> None:
    tied = [Facts("a10"), Facts("a9"), Facts("b1")]
    for name in ("longest_idle", "fewest_calls", "skills", "hunting"):
        assert choose(name, tied) == ["a9"], name


def test_hunting_resumes_after_the_last_offered_and_wraps() -> None:
    assert choose("hunting", AGENTS, last=Facts("a1")) == ["a2"]
    assert choose("hunting", AGENTS, last=Facts("a2")) == ["a10"]
    assert choose("hunting", AGENTS, last=Facts("a10")) == ["a1"]
    assert choose("hunting", AGENTS, last=Facts("a5")) == ["a10"]  # not free itself
    assert choose("hunting", AGENTS, last=Facts("a1"), skip="a2") == ["a10"]


def test_natural_key_orders_digit_runs_by_value() -> None:
    names = ["agent10", "agent2", "1001", "agent1", "999", "agent"]
    assert sorted(names, key=natural_key) == ["999", "1001", "agent", "agent1", "agent2", "agent10"]


def test_meets_levels_and_widening() -> None:
    need = {"fr": 3, "billing": 1}
    assert meets({"fr": 3, "billing": 1}, need)
    assert not meets({"fr": 2, "billing": 1}, need)
    assert meets({"fr": 2, "billing": 1}, need, widened=True)
    assert not meets({"fr": 5}, need, widened=True)
    assert meets({}, {})


def test_sorted_list_matches_a_plain_sorted_list() -> None:
    rng = random.Random(7)
    SortedList.LOAD = 4  # small buckets: splits and empty buckets happen often
    try:
        items: SortedList[tuple[int, str]] = SortedList([(1, "a"), (2, "a"), (5, "c")])
        reference = {(1, "a"), (2, "a"), (5, "c")}
        for _ in range(3000):
            item = (rng.randrange(200), rng.choice("abc"))
            action = rng.random()
            if action < 0.5:
                assert items.add(item) == item
                reference.add(item)
            elif action < 0.8:
                assert items.discard(item) is (item in reference)
                reference.discard(item)
            else:
                kept = {x for x in reference if rng.random() >= 0.2}
                start = item if rng.random() < 0.5 else None
                walked = list(items.walk(kept.__contains__, start))
                reference = kept
                ordered = sorted(reference)
                if start is not None:
                    ordered = [x for x in ordered if x > start] + [x for x in ordered if x <= start]
                assert walked == ordered
            ordered = sorted(reference)
            assert list(items) == ordered
            assert len(items) == len(ordered)
            probe = (rng.randrange(200), "b")
            assert (probe in items) is (probe in reference)
            assert items.rank(probe) == sum(1 for x in ordered if x < probe)
    finally:
        SortedList.LOAD = 256


def test_a_walk_stops_where_its_reader_stops() -> None:
    items: SortedList[int] = SortedList(range(10))
    walk = items.walk(lambda x: x % 3 != 0)
    assert [next(walk), next(walk)] == [1, 2]
    assert list(items) == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # 0 dropped on the way, the rest kept


def test_add_keeps_an_equal_item_already_there() -> None:
    items: SortedList[tuple[int, str]] = SortedList()
    first = (1, "a")
    assert items.add(first) is first
    assert items.add((1, "a")) is first
    assert len(items) == 1


def test_free_index_add_discard_and_wrap() -> None:
    index = FreeIndex()
    for n in (3, 1, 2):
        index.add(f"a{n}", (n, f"a{n}"))
    index.add("a1", (1, "a1"))
    assert len(index) == 3 and "a2" in index
    assert list(index.after((2, "a2"))) == ["a3", "a1", "a2"]
    index.discard("a2")
    index.discard("a9")
    assert "a2" not in index
    assert list(index.ordered()) == ["a1", "a3"]
    assert list(index.after((1, "a1"))) == ["a3", "a1"]


def test_free_index_forgets_at_once_and_reuses_an_entry() -> None:
    index = FreeIndex()
    for n in range(200):
        index.add(f"a{n}", (n, f"a{n}"))
    for n in range(0, 200, 2):
        index.discard(f"a{n}")
    assert len(index) == 100
    index.add("a4", (4, "a4"))  # back with the same key: the old entry serves again
    index.add("a6", (600, "a6"))  # back with a new key
    assert list(index.ordered())[:4] == ["a1", "a3", "a4", "a5"]
    assert list(index.ordered())[-1] == "a6"
    for n in range(1, 200, 2):
        index.discard(f"a{n}")
    assert list(index.ordered()) == ["a4", "a6"]
