"""Figures per document from the jobs of a period (pure): requests, pages, success rate.

A request is one job that named the document; ``pages`` counts the document's pages in jobs
that were sent; the success rate is sent jobs over finished ones (sent or failed), None
before any job finished. Cancelled and unfinished jobs count as requests only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from callcenter.fod.model import Job, JobStatus


@dataclass(frozen=True, slots=True)
class DocumentFigures:
    code: str
    requests: int
    sent: int
    failed: int
    pages: int

    @property
    def success_rate(self) -> float | None:
        finished = self.sent + self.failed
        return round(self.sent / finished, 4) if finished else None


def document_figures(jobs: Iterable[Job], pages: Mapping[str, int]) -> list[DocumentFigures]:
    """One line per document named by any job, by code; ``pages`` is each document's pages."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for job in jobs:
        for code in dict.fromkeys(job.documents):
            line = counts[code]
            line[0] += 1
            if job.status is JobStatus.SENT:
                line[1] += 1
                line[3] += pages.get(code, 0)
            elif job.status is JobStatus.FAILED:
                line[2] += 1
    return [
        DocumentFigures(code, requests, sent, failed, sent_pages)
        for code, (requests, sent, failed, sent_pages) in sorted(counts.items())
    ]
