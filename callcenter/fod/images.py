"""Fax images on disk: PDFs made into TIFF-F once, cover pages, each job's image, the spool
shared with Asterisk, and received faxes. Ghostscript and libtiff's tools do the work.

Layout under the store: ``cache/<code>-<sha256[:16]>.tif`` (a document's image, made once
per PDF content: a replaced PDF gets a new name, the old image is removed), ``jobs/<id>.tif``
(what a job sends: cover first; kept for the record), ``inbox/<id>.tif`` and ``<id>.pdf``
(received faxes). The spool holds ``<id>.tif`` while a call sends it and ``rx-<id>.tif`` while
Asterisk receives one.

Fax resolution is 204x196 dpi on A4, 1728 pixels wide (Ghostscript adjusts the width to the
fax line), Group 3 one-dimensional coding: what every fax machine and spandsp accept.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.fod.cover import Cover, cover_postscript
from callcenter.fod.tiff import NotTiff, page_count

ID = re.compile(r"^[a-f0-9]{32}$")
CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
CONVERT_TIMEOUT = 120.0
GS_FAX = (
    "gs",
    *("-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-dNOINTERPOLATE"),
    *("-sDEVICE=tiffg3", "-r204x196", "-sPAPERSIZE=a4", "-dFIXEDMEDIA", "-dPDFFitPage"),
)


class ConversionFailed(CallcenterError):
    code = "fax_conversion_failed"


class FaxImages:
    def __init__(self, store: Path, spool: Path, asterisk_spool: str) -> None:
        self._store = store
        self._spool = spool
        self._asterisk_spool = asterisk_spool.rstrip("/")

    # --- documents and jobs --------------------------------------------------------------------

    async def document_image(self, code: str, pdf: Path, sha256: str) -> tuple[Path, int]:
        """The document's fax image (made now if not cached) and its pages."""
        folder = self._store / "cache"
        target = folder / f"{_code(code)}-{sha256[:16]}.tif"
        if not await asyncio.to_thread(target.is_file):
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            await _make(target, lambda out: [*GS_FAX, f"-sOutputFile={out}", str(pdf)])
            await asyncio.to_thread(_remove_others, folder, code, target)
        return target, await asyncio.to_thread(pages_of, target)

    async def job_image(self, job_id: str, cover: Cover, parts: list[Path]) -> tuple[Path, int]:
        """The cover followed by the documents' images, as one file; its pages."""
        folder = self._store / "jobs"
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        cover_ps = folder / f"{_id(job_id)}.cover.ps"
        cover_tif = folder / f"{job_id}.cover.tif"
        target = folder / f"{job_id}.tif"
        await asyncio.to_thread(cover_ps.write_bytes, cover_postscript(cover))
        try:
            await _make(cover_tif, lambda out: [*GS_FAX, f"-sOutputFile={out}", str(cover_ps)])
            await _make(target, lambda out: ["tiffcp", str(cover_tif), *map(str, parts), out])
        finally:
            for scratch in (cover_ps, cover_tif):
                await asyncio.to_thread(scratch.unlink, missing_ok=True)
        return target, await asyncio.to_thread(pages_of, target)

    def job_path(self, job_id: str) -> Path:
        return self._store / "jobs" / f"{_id(job_id)}.tif"

    # --- the spool shared with Asterisk --------------------------------------------------------

    def stage(self, job_id: str) -> str:
        """Copy the job's image into the spool; the name Asterisk opens it by."""
        self._spool.mkdir(parents=True, exist_ok=True)
        self._spool.chmod(0o777)  # Asterisk may run as another user (the image's `asterisk`)
        staged = self._spool / f"{_id(job_id)}.tif"
        shutil.copyfile(self.job_path(job_id), staged)
        staged.chmod(0o644)
        return f"{self._asterisk_spool}/{staged.name}"

    def unstage(self, job_id: str) -> None:
        (self._spool / f"{_id(job_id)}.tif").unlink(missing_ok=True)

    def reception(self, fax_id: str) -> str:
        """Where Asterisk writes a fax it receives, by its own name for the file."""
        self._spool.mkdir(parents=True, exist_ok=True)
        self._spool.chmod(0o777)
        return f"{self._asterisk_spool}/rx-{_id(fax_id)}.tif"

    # --- received faxes ------------------------------------------------------------------------

    async def keep_received(self, fax_id: str) -> int:
        """Move a received fax from the spool into the inbox, add its PDF; its pages (0 when
        nothing usable arrived)."""
        spooled = self._spool / f"rx-{_id(fax_id)}.tif"
        folder = self._store / "inbox"
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        if not await asyncio.to_thread(spooled.is_file):
            return 0
        target = folder / f"{fax_id}.tif"
        await asyncio.to_thread(shutil.move, spooled, target)
        try:
            pages = await asyncio.to_thread(pages_of, target)
        except NotTiff:
            return 0
        pdf = self.inbox_path(fax_id, "pdf")
        await _make(pdf, lambda out: ["tiff2pdf", "-o", out, str(target)])
        return pages

    def inbox_path(self, fax_id: str, kind: str) -> Path:
        return self._store / "inbox" / f"{_id(fax_id)}.{'pdf' if kind == 'pdf' else 'tif'}"


def pages_of(path: Path) -> int:
    return page_count(path.read_bytes())


async def _make(target: Path, command: Callable[[str], list[str]]) -> None:
    """Run ``command(temporary output)`` and move the output to ``target`` when it worked."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    argv = command(tmp)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(CONVERT_TIMEOUT):
                _, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ConversionFailed(f"{argv[0]} took longer than {CONVERT_TIMEOUT:g} s") from None
        if process.returncode != 0 or await asyncio.to_thread(os.path.getsize, tmp) == 0:
            detail = err.decode(errors="replace").strip()[-300:]
            raise ConversionFailed(f"{argv[0]} failed ({process.returncode}): {detail}")
        os.replace(tmp, target)
    except FileNotFoundError as exc:
        raise ConversionFailed(f"{argv[0]} is not installed: {exc}") from None
    finally:
        await asyncio.to_thread(Path(tmp).unlink, missing_ok=True)


def _remove_others(folder: Path, code: str, keep: Path) -> None:
    for old in folder.glob(f"{code}-*.tif"):
        if old != keep:
            old.unlink(missing_ok=True)


def _id(value: str) -> str:
    if not ID.fullmatch(value):
        raise ValueError(f"fax id {value[:80]!r} is not 32 hex digits")
    return value


def _code(value: str) -> str:
    if not CODE.fullmatch(value):
        raise ValueError(f"document code {value[:80]!r} refused")
    return value
