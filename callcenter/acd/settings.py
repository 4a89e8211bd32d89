"""The ``acd`` section of the configuration: queues and agents, validated once.

Converted into the core's frozen :class:`~callcenter.acd.model.QueueConfig` and
:class:`~callcenter.acd.model.AgentConfig`; an unknown strategy, an agent serving an unknown
queue, or an overflow to an unknown queue is refused at load with its key. ``connect`` says how
an answered agent leg is joined with its caller (see :class:`ConnectMode`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callcenter.acd.model import (
    AgentConfig,
    NoAgentsPolicy,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
)
from callcenter.acd.strategies import STRATEGIES

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
Seconds = Annotated[float, Field(gt=0, le=86400)]
Level = Annotated[int, Field(ge=0, le=100)]


def _check_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError("names use letters, digits, '_' and '-' (at most 64)")
    return value


class ConnectMode(StrEnum):
    """How the ACD joins an answered agent leg with its caller (``acd.connect``).

    ``dialplan`` (the default): AMI ``Redirect`` of the agent leg to ``cc-agent-leg,bridge``,
    whose ``Bridge()`` pulls in the caller: Asterisk takes one channel out of the dialplan.
    ``ami_bridge``: AMI ``Bridge`` of both channels: two taken out of the dialplan (two
    surrogate channels and masquerades, two new bridge threads).
    """

    DIALPLAN = "dialplan"
    AMI_BRIDGE = "ami_bridge"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OverflowSettings(_Model):
    kind: OverflowKind
    target: str = ""

    def to_core(self) -> OverflowTarget:
        return OverflowTarget(self.kind, self.target)


class QueueSettings(_Model):
    strategy: str = "longest_idle"
    ring_timeout: Seconds = 15.0
    wrap_up: Annotated[float, Field(ge=0, le=3600)] = 0.0
    max_wait: Seconds | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    max_estimated_wait: Seconds | None = None
    no_agents: NoAgentsPolicy = NoAgentsPolicy.WAIT
    overflow: OverflowSettings | None = None
    service_level_seconds: Seconds = 20.0
    music_class: str = "default"
    announce_every: Seconds | None = None
    exit_keys: dict[str, OverflowSettings] = Field(default_factory=dict)
    required_skills: dict[str, Level] = Field(default_factory=dict)
    widen_after: Seconds | None = None

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy; one of {', '.join(sorted(STRATEGIES))}")
        return value

    @field_validator("exit_keys")
    @classmethod
    def _keys(cls, value: dict[str, OverflowSettings]) -> dict[str, OverflowSettings]:
        for key in value:
            if key not in "0123456789*#" or len(key) != 1:
                raise ValueError(f"exit key {key!r} is not one of 0-9, * or #")
        return value

    def to_core(self, queue_id: str) -> QueueConfig:
        return QueueConfig(
            id=queue_id,
            strategy=self.strategy,
            ring_timeout=self.ring_timeout,
            wrap_up=self.wrap_up,
            max_wait=self.max_wait,
            max_length=self.max_length,
            max_estimated_wait=self.max_estimated_wait,
            no_agents=self.no_agents,
            overflow=self.overflow.to_core() if self.overflow else None,
            service_level_seconds=self.service_level_seconds,
            music_class=self.music_class,
            announce_every=self.announce_every,
            exit_keys={k: v.to_core() for k, v in self.exit_keys.items()},
            required_skills=dict(self.required_skills),
            widen_after=self.widen_after,
        )


class AgentSettings(_Model):
    queues: dict[str, Annotated[int, Field(ge=0, le=1000)]]
    skills: dict[str, Level] = Field(default_factory=dict)
    max_no_answer: Annotated[int, Field(ge=1, le=100)] = 3

    def to_core(self, agent_id: str) -> AgentConfig:
        return AgentConfig(agent_id, dict(self.queues), dict(self.skills), self.max_no_answer)


class AcdSettings(_Model):
    queues: dict[str, QueueSettings] = Field(default_factory=dict)
    agents: dict[str, AgentSettings] = Field(default_factory=dict)
    connect: ConnectMode = ConnectMode.DIALPLAN

    @field_validator("queues", "agents")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            _check_name(name)
        return value

    @model_validator(mode="after")
    def _references(self) -> Self:
        for agent_id, agent in self.agents.items():
            for queue in agent.queues:
                if queue not in self.queues:
                    raise ValueError(f"agent {agent_id} serves unknown queue {queue!r}")
        for queue_id, settings in self.queues.items():
            targets = [settings.overflow, *settings.exit_keys.values()]
            for target in targets:
                if (
                    target
                    and target.kind is OverflowKind.QUEUE
                    and target.target not in self.queues
                ):
                    raise ValueError(
                        f"queue {queue_id} overflows to unknown queue {target.target!r}"
                    )
        return self

    def queue_configs(self) -> list[QueueConfig]:
        return [q.to_core(name) for name, q in self.queues.items()]

    def agent_configs(self) -> list[AgentConfig]:
        return [a.to_core(name) for name, a in self.agents.items()]
