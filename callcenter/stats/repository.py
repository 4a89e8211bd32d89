"""The statistics event log in SQL: appended in order, read back by time range."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from callcenter.stats.codec import decode, encode, kind_of, time_of
from callcenter.stats.model import Record
from callcenter.storage.db import Database
from callcenter.storage.tables import stats_records

_DAY = timedelta(days=1)


class SqlStatsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, records: Sequence[Record]) -> None:
        """One transaction for the batch: all of it is stored, or none of it."""
        if not records:
            return
        rows = [
            {
                "kind": kind_of(r),
                "at": time_of(r),
                "payload": json.dumps(encode(r), ensure_ascii=False),
            }
            for r in records
        ]
        async with self._db.transaction() as conn:
            await conn.execute(insert(stats_records), rows)

    async def between(self, start: datetime, end: datetime) -> list[Record]:
        """Records placed in [start, end) and agent intervals overlapping it, in log order.

        Agent intervals are placed by their start; one that began before ``start`` (at most a
        day before: a shift) is read too, so its part inside the range counts.
        """
        query = (
            select(stats_records.c.payload)
            .where(stats_records.c.at < end)
            .where(
                (stats_records.c.at >= start)
                | (
                    (stats_records.c.kind == "agent_interval")
                    & (stats_records.c.at >= start - _DAY)
                )
            )
            .order_by(stats_records.c.id)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [decode(json.loads(r.payload)) for r in rows]
