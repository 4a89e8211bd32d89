"""Who serves which queue, read from the ACD's agent views (the ACD configuration).

The ACD core owns the agents and their queues; this adapter only reads its views, so a queue
given to an agent at run time counts at once, and no second copy of the mapping exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class AgentLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def queues(self) -> Mapping[str, int]: ...


class AgentViews(Protocol):
    def agents(self) -> Sequence[AgentLike]: ...


class AcdRoster:
    def __init__(self, views: AgentViews) -> None:
        self._views = views

    def serving(self, queue: str) -> list[str]:
        """The agents who serve ``queue`` (whatever their state: a desk may be open)."""
        return [agent.id for agent in self._views.agents() if queue in agent.queues]

    def queues_of(self, agent: str) -> frozenset[str]:
        for view in self._views.agents():
            if view.id == agent:
                return frozenset(view.queues)
        return frozenset()
