"""The ``stats`` section of the configuration: the site's time zone and the contested KPI
choices (service-level variant, short-abandon threshold) and which queues take complaints,
validated once."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callcenter.stats.kpi import ServiceLevelVariant


class StatsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"  # "today" and report intervals are in this zone
    service_level_variant: ServiceLevelVariant = ServiceLevelVariant.IGNORED
    short_abandon_seconds: Annotated[float, Field(ge=0, le=3600)] = 0.0
    push_interval: Annotated[float, Field(gt=0, le=60)] = 1.0  # seconds between live pushes
    # A change is also pushed this soon after it (at most every 150 ms), so wallboards are
    # within 200 ms of the events; off (None): the pushes every push_interval only (the
    # figures themselves, over REST, are always up to date at once).
    change_delay: Annotated[float, Field(ge=0, le=0.05)] | None = None
    # the queues whose calls are complaints (callcenter.stats.complaints: complaint rates)
    complaint_queues: list[Annotated[str, Field(min_length=1, max_length=64)]] = ["complaints"]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
