"""Settings of the agents' desk: the screen-pop policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class PopPolicy(StrEnum):
    RING_ANYWAY = "ring_anyway"  # the phone rings at once; the pop goes out alongside
    REQUIRE_ACK = "require_ack"  # the phone rings once the desk acknowledged; else skip the agent


class DeskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pop_policy: PopPolicy = PopPolicy.RING_ANYWAY
    ack_timeout: Annotated[float, Field(gt=0, le=30)] = 3.0  # seconds, with require_ack
    history_limit: Annotated[int, Field(ge=0, le=100)] = 10  # contacts shown in a pop
    client_queue: Annotated[int, Field(ge=8, le=10_000)] = 256  # messages held per client
