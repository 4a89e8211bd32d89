"""Reading just enough of a TIFF file to count its pages and check it is one (pure).

A TIFF is a header (byte order, 42, offset of the first directory) and a chain of image file
directories, one per page. The chain is followed with bounds and a loop guard: a received fax
is data from outside.
"""

from __future__ import annotations

import struct

MAX_PAGES = 1000


class NotTiff(ValueError):
    pass


def page_count(data: bytes) -> int:
    """The number of pages (directories) of the TIFF in ``data``."""
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        raise NotTiff("not a TIFF file")
    order = "<" if data[:2] == b"II" else ">"
    (magic, offset) = struct.unpack(f"{order}HI", data[2:8])
    if magic != 42:
        raise NotTiff("not a classic TIFF file")
    seen: set[int] = set()
    pages = 0
    while offset:
        if offset in seen or offset + 2 > len(data) or pages >= MAX_PAGES:
            raise NotTiff("a broken directory chain")
        seen.add(offset)
        (entries,) = struct.unpack(f"{order}H", data[offset : offset + 2])
        end = offset + 2 + entries * 12
        if end + 4 > len(data):
            raise NotTiff("a directory runs past the end of the file")
        pages += 1
        (offset,) = struct.unpack(f"{order}I", data[end : end + 4])
    return pages
