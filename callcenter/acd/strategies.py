"""Routing strategies: which free agents a queue rings for one waiting caller.

Theory of operation. Every queue keeps its free agents (ready, serving the queue, holding each
of the queue's required skills at some level) in one sorted index, :class:`FreeIndex`, kept in
the order of the queue's strategy and updated incrementally as agents become free or busy. A
strategy is two small named functions:

- ``order(agent, queue)`` gives an agent's sort key in that index (lowest first); every key
  ends with the agent's natural id key and the id itself, so ties are broken deterministically
  ("agent2" before "agent10");
- ``choose(free, request)`` walks the index in that order and returns the agent(s) to ring,
  skipping those the request does not accept (already rang out for this caller in this round,
  or lacking the caller's skills).

So a decision walks the index from its front (hunting: from a bisect to the last offered
agent) over the agents it skips, and never sorts all agents. An agent leaving the index is
forgotten at once; its entry is dropped when a walk meets it. :data:`STRATEGIES` is the one
registry; :func:`strategy_for` is how configuration finds
a strategy and fails on an unknown name, at load time.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from callcenter.acd.model import AgentId, QueueConfig
from callcenter.errors import BadRequest

SortKey = tuple[Any, ...]


class UnknownStrategy(BadRequest):
    """A queue names a strategy that is not in the registry."""

    code = "acd_unknown_strategy"


class AgentFacts(Protocol):
    """What an ordering reads of an agent (``callcenter.acd.agents.Agent`` provides it)."""

    @property
    def id(self) -> AgentId: ...
    @property
    def natural(self) -> SortKey: ...
    @property
    def idle_since(self) -> float: ...
    @property
    def calls_taken(self) -> int: ...
    @property
    def skills(self) -> Mapping[str, int]: ...


class FreeAgents(Protocol):
    """A queue's free agents in the strategy's order."""

    def ordered(self) -> Iterator[AgentId]: ...

    def after(self, key: SortKey) -> Iterator[AgentId]:
        """Every agent once: those ordered after ``key`` first, then from the start."""
        ...


class Request(NamedTuple):
    """One caller's demand: who may be rung, in which queue, and where its last offer went."""

    accepts: Callable[[AgentId], bool]
    queue: QueueConfig
    last_offered: AgentFacts | None = None


Order = Callable[[AgentFacts, QueueConfig], SortKey]
Choose = Callable[[FreeAgents, Request], list[AgentId]]


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    order: Order
    choose: Choose
    parallel: bool = False  # True: a caller may ring several agents at once


# --- skills -----------------------------------------------------------------------------


def meets(skills: Mapping[str, int], need: Mapping[str, int], widened: bool = False) -> bool:
    """Whether an agent's skills cover ``need``; once widened, any level of a skill serves."""
    for skill, level in need.items():
        have = skills.get(skill)
        if have is None or (have < level and not widened):
            return False
    return True


def skill_score(skills: Mapping[str, int], required: Mapping[str, int]) -> int:
    """The sum of the agent's levels in the queue's required skills (higher = better)."""
    return sum(skills.get(skill, 0) for skill in required)


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> SortKey:
    """Sort key that orders digit runs by value: agent2 < agent10."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


# --- orders -----------------------------------------------------------------------------


def by_name(agent: AgentFacts, queue: QueueConfig) -> SortKey:
    return (agent.natural, agent.id)


def by_idle(agent: AgentFacts, queue: QueueConfig) -> SortKey:
    return (agent.idle_since, agent.natural, agent.id)


def by_calls(agent: AgentFacts, queue: QueueConfig) -> SortKey:
    return (agent.calls_taken, agent.idle_since, agent.natural, agent.id)


def by_skill(agent: AgentFacts, queue: QueueConfig) -> SortKey:
    score = skill_score(agent.skills, queue.required_skills)
    return (-score, agent.idle_since, agent.natural, agent.id)


# --- choices ----------------------------------------------------------------------------


def _first(agents: Iterable[AgentId], request: Request) -> list[AgentId]:
    for agent in agents:
        if request.accepts(agent):
            return [agent]
    return []


def hunting(free: FreeAgents, request: Request) -> list[AgentId]:
    """Agents in turn by id, resuming after the queue's last offered agent."""
    if request.last_offered is None:
        return _first(free.ordered(), request)
    return _first(free.after(by_name(request.last_offered, request.queue)), request)


def ring_all(free: FreeAgents, request: Request) -> list[AgentId]:
    """Every free agent the caller accepts, at once."""
    return [agent for agent in free.ordered() if request.accepts(agent)]


def best_first(free: FreeAgents, request: Request) -> list[AgentId]:
    """The first acceptable agent in the index order (longest idle, fewest calls, best skill)."""
    return _first(free.ordered(), request)


STRATEGIES: dict[str, Strategy] = {
    "hunting": Strategy("hunting", by_name, hunting),
    "ring_all": Strategy("ring_all", by_name, ring_all, parallel=True),
    "longest_idle": Strategy("longest_idle", by_idle, best_first),
    "fewest_calls": Strategy("fewest_calls", by_calls, best_first),
    "skills": Strategy("skills", by_skill, best_first),
}


def strategy_for(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise UnknownStrategy(f"unknown strategy {name!r} (known: {known})") from None


# --- the index --------------------------------------------------------------------------


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Comparable)


class SortedList(Generic[K]):
    """Distinct items kept sorted in buckets of at most ``2 * LOAD`` (sortedcontainers' layout).

    ``add`` and ``discard`` cost a bisect over the bucket maxima plus a bisect and a short move
    inside one bucket, so they stay near-logarithmic in the number of items. ``walk`` drops the
    items its ``keep`` test rejects where it meets them, with no search at all.
    """

    LOAD = 256
    __slots__ = ("_buckets", "_len", "_maxes")

    def __init__(self, ordered: Iterable[K] = ()) -> None:
        """``ordered`` must already be sorted and distinct."""
        items = list(ordered)
        self._buckets = [items[i : i + self.LOAD] for i in range(0, len(items), self.LOAD)]
        self._maxes = [bucket[-1] for bucket in self._buckets]
        self._len = len(items)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[K]:
        for bucket in self._buckets:
            yield from bucket

    def __contains__(self, item: K) -> bool:
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):
            return False
        bucket = self._buckets[i]
        j = bisect_left(bucket, item)
        return not (item < bucket[j])

    def add(self, item: K) -> K:
        """Insert ``item``; if an equal item is there already, keep it and return it."""
        maxes = self._maxes
        if not maxes:
            self._buckets.append([item])
            maxes.append(item)
            self._len = 1
            return item
        i = bisect_left(maxes, item)
        if i == len(maxes):
            i -= 1
            self._buckets[i].append(item)
            maxes[i] = item
        else:
            bucket = self._buckets[i]
            j = bisect_left(bucket, item)
            if not (item < bucket[j]):
                return bucket[j]
            bucket.insert(j, item)
        self._len += 1
        bucket = self._buckets[i]
        if len(bucket) > 2 * self.LOAD:
            tail = bucket[self.LOAD :]
            del bucket[self.LOAD :]
            maxes[i] = bucket[-1]
            self._buckets.insert(i + 1, tail)
            maxes.insert(i + 1, tail[-1])
        return item

    def discard(self, item: K) -> bool:
        maxes = self._maxes
        i = bisect_left(maxes, item)
        if i == len(maxes):
            return False
        bucket = self._buckets[i]
        j = bisect_left(bucket, item)
        if item < bucket[j]:
            return False
        del bucket[j]
        self._len -= 1
        if not bucket:
            del self._buckets[i]
            del maxes[i]
        elif j == len(bucket):
            maxes[i] = bucket[-1]
        return True

    def rank(self, item: K) -> int:
        """How many items sort before ``item``."""
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):
            return self._len
        before = sum(len(bucket) for bucket in self._buckets[:i])
        return before + bisect_left(self._buckets[i], item)

    def walk(self, keep: Callable[[K], bool], start: K | None = None) -> Iterator[K]:
        """The items ``keep`` accepts, in order, dropping the others on the way.

        With ``start``: those after it first, then from the beginning up to it (a ring). The
        list must not be changed by anyone else while a walk is under way.
        """
        if start is None:
            yield from self._walk(keep, 0, 0, None)
            return
        i = bisect_right(self._maxes, start)
        j = bisect_right(self._buckets[i], start) if i < len(self._maxes) else 0
        yield from self._walk(keep, i, j, None)
        yield from self._walk(keep, 0, 0, start)

    def _walk(self, keep: Callable[[K], bool], i: int, j: int, stop: K | None) -> Iterator[K]:
        buckets, maxes = self._buckets, self._maxes
        while i < len(buckets):
            bucket = buckets[i]
            while j < len(bucket):
                item = bucket[j]
                if stop is not None and stop < item:
                    return
                if keep(item):
                    yield item
                    j += 1
                else:
                    del bucket[j]
                    self._len -= 1
            if bucket:
                maxes[i] = bucket[-1]
                i += 1
            else:
                del buckets[i]
                del maxes[i]
            j = 0


class FreeIndex:
    """One queue's free agents, in its strategy's order (implements :class:`FreeAgents`).

    Removal is lazy: ``discard`` only forgets the agent (a dict deletion, no search); its entry
    is dropped when a walk meets it, and the index is rebuilt when dropped entries outnumber
    the live ones. An agent coming back with the same key reuses its old entry.
    """

    __slots__ = ("_items", "_live")

    def __init__(self) -> None:
        self._items: SortedList[SortKey] = SortedList()
        self._live: dict[AgentId, SortKey] = {}  # agent -> its entry (the very object)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, agent: AgentId) -> bool:
        return agent in self._live

    def add(self, agent: AgentId, key: SortKey) -> None:
        """``key`` must end with ``agent`` (so keys are distinct)."""
        if agent not in self._live:
            self._live[agent] = self._items.add(key)

    def discard(self, agent: AgentId) -> None:
        if self._live.pop(agent, None) is None:
            return
        if len(self._items) > 2 * len(self._live) + 64:
            self._items = SortedList(sorted(self._live.values()))

    def _is_live(self, key: SortKey) -> bool:
        return self._live.get(key[-1]) is key

    def ordered(self) -> Iterator[AgentId]:
        for key in self._items.walk(self._is_live):
            yield key[-1]

    def after(self, key: SortKey) -> Iterator[AgentId]:
        for item in self._items.walk(self._is_live, key):
            yield item[-1]
