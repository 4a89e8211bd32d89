"""Historical reports: records bucketed by 15 minutes, hour, day or month in a time zone.

Theory of operation. A bucket is a span of local time in the site's zone (``zoneinfo``): its
start is a local wall-clock boundary (:func:`floor`), its end the next one (:func:`following`).
Buckets are real spans of time, so at a DST change the day has 23 or 25 hour buckets: the hour
repeated in autumn gives two buckets (told apart by their UTC offset), the hour skipped in
spring none. Every comparison is made in UTC.

:func:`report` routes each record to its buckets (a call by ``entered_at``; an agent interval
to every bucket it overlaps) and totals each bucket with the live accumulator
(:class:`~callcenter.stats.live.LiveAccumulator`), the same code that feeds the wallboard.
:func:`to_csv` turns the figures of one scope (overall, per queue or per agent) into CSV text.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.stats.kpi import FIGURES, FigureValue, KpiSettings, Report, Scope, Totals, figures
from callcenter.stats.live import LiveAccumulator
from callcenter.stats.model import (
    AgentInterval,
    InvalidStatsValue,
    IvrCall,
    QueueCall,
    Record,
    Window,
    utc,
)


class Granularity(StrEnum):
    QUARTER_HOUR = "15min"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_SUB_DAY = {Granularity.QUARTER_HOUR: 15, Granularity.HOUR: 60}  # minutes


@dataclass(frozen=True, slots=True)
class Bucket:
    """One report bucket; ``start`` and ``end`` are local times (with their UTC offset)."""

    start: datetime
    end: datetime

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)


@dataclass(frozen=True, slots=True)
class BucketReport:
    bucket: Bucket
    report: Report


def floor(at: datetime, granularity: Granularity, tz: ZoneInfo) -> datetime:
    """The local start of the bucket holding the instant ``at``."""
    local = utc(at).astimezone(tz)  # fold is set in a repeated hour
    minutes = _SUB_DAY.get(granularity)
    if minutes is not None:
        minute = local.minute - local.minute % minutes
        start = local.replace(minute=minute, second=0, microsecond=0)
    elif granularity is Granularity.DAY:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    else:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0, fold=0)
    return _normal(start, tz)


def following(start: datetime, granularity: Granularity, tz: ZoneInfo) -> datetime:
    """The local start of the bucket after the one starting at ``start``."""
    minutes = _SUB_DAY.get(granularity)
    if minutes is not None:  # step in real time: wall-clock steps would skip a repeated hour
        step = timedelta(minutes=minutes)
        probe = utc(start) + step
        while utc(floor(probe, granularity, tz)) <= utc(start):
            probe += step
        return floor(probe, granularity, tz)
    day = start.date()
    if granularity is Granularity.DAY:
        nxt = day + timedelta(days=1)
    else:
        nxt = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1, day=1)
    return _normal(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz), tz)


def buckets(window: Window, granularity: Granularity, tz: ZoneInfo) -> list[Bucket]:
    """The whole buckets that cover ``window``, in order."""
    out: list[Bucket] = []
    start = floor(window.start, granularity, tz)
    while utc(start) < window.end:
        end = following(start, granularity, tz)
        out.append(Bucket(start, end))
        start = end
    return out


def report(
    records: Iterable[Record],
    window: Window,
    granularity: Granularity,
    tz: ZoneInfo,
    settings: KpiSettings,
) -> list[BucketReport]:
    """Totals per bucket over the whole buckets covering ``window`` (records in log order)."""
    spans = buckets(window, granularity, tz)
    if len(spans) > _MAX_BUCKETS:
        raise InvalidStatsValue(f"a report holds at most {_MAX_BUCKETS} buckets")
    starts = [utc(b.start) for b in spans]
    accumulators = [LiveAccumulator(b.window, settings) for b in spans]
    for record in records:
        match record:
            case QueueCall() | IvrCall():
                first = last = _index(starts, record.entered_at)
            case AgentInterval():
                first = _index(starts, record.start)
                last = _index(starts, record.end)
        for i in range(max(first, 0), min(last, len(spans) - 1) + 1):
            accumulators[i].add(record)
    return [BucketReport(b, acc.report()) for b, acc in zip(spans, accumulators, strict=True)]


_MAX_BUCKETS = 100_000


def _index(starts: list[datetime], at: datetime) -> int:
    """Index of the bucket holding ``at`` (-1 before the first; past the end after the last,
    which only the accumulator's own window check can tell)."""
    return bisect_right(starts, utc(at)) - 1


def _normal(local: datetime, tz: ZoneInfo) -> datetime:
    """A local time as the zone shows that instant (a time in a skipped hour moves on)."""
    return utc(local).astimezone(tz)


# --- CSV ---------------------------------------------------------------------------------


def to_csv(
    reports: Sequence[BucketReport],
    scope: Scope,
    settings: KpiSettings,
    names: Sequence[str] | None = None,
) -> str:
    """CSV text with a header row: bucket start and end (local ISO 8601 with UTC offset), the
    queue or agent for those scopes, then one column per figure (``names``, by default every
    figure of the scope). A per-reason figure gets one column per reason, ``name[reason]``.
    An empty cell is a figure with no value (its divisor was zero)."""
    names = list(names) if names is not None else _scope_names(scope)
    unknown = [n for n in names if n not in FIGURES or scope not in FIGURES[n].scopes]
    if unknown:
        raise InvalidStatsValue(f"no such {scope.value} figure: {', '.join(unknown)}")
    rows = [
        (bucket_report.bucket, key, figures(totals, scope, settings))
        for bucket_report in reports
        for key, totals in _scope_rows(bucket_report.report, scope)
    ]
    columns = _columns(names, [values for _, _, values in rows])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    key_column = [] if scope is Scope.OVERALL else [scope.value]
    writer.writerow(["bucket_start", "bucket_end", *key_column, *(c for c, _, _ in columns)])
    for bucket, key, values in rows:
        cells = [_cell(_lookup(values, name, reason)) for _, name, reason in columns]
        keys = [] if scope is Scope.OVERALL else [key]
        writer.writerow([bucket.start.isoformat(), bucket.end.isoformat(), *keys, *cells])
    return out.getvalue()


def _scope_names(scope: Scope) -> list[str]:
    return [name for name, figure in FIGURES.items() if scope in figure.scopes]


def _scope_rows(report: Report, scope: Scope) -> list[tuple[str, Totals]]:
    match scope:
        case Scope.OVERALL:
            return [("", report.overall)]
        case Scope.QUEUE:
            return sorted(report.queues.items())
        case Scope.AGENT:
            return sorted(report.agents.items())


def _columns(
    names: list[str], rows: list[dict[str, FigureValue]]
) -> list[tuple[str, str, str | None]]:
    """(header, figure, reason) per column; per-reason figures spread over the reasons seen."""
    columns: list[tuple[str, str, str | None]] = []
    for name in names:
        reasons = sorted({r for values in rows for r in _keys(values.get(name))})
        if any(isinstance(values.get(name), dict) for values in rows):
            columns.extend((f"{name}[{r}]", name, r) for r in reasons)
        else:
            columns.append((name, name, None))
    return columns


def _keys(value: FigureValue) -> list[str]:
    return list(value) if isinstance(value, dict) else []


def _lookup(values: dict[str, FigureValue], name: str, reason: str | None) -> FigureValue:
    value = values[name]
    if reason is None or not isinstance(value, dict):
        return value
    return value.get(reason, 0.0)


def _cell(value: FigureValue) -> str:
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(round(value, 6))
