"""The live feed's frames: a full snapshot, then JSON merge patches (RFC 7396).

Theory of operation. Each push numbers a new snapshot (``seq``). A client that is up to date
gets ``{"type": "patch", "seq": n, "data": {...}}``: only the members that changed since
snapshot ``n - 1``; a member set to null is removed. The feed's snapshots hold no nulls (a
figure without a value is left out: :func:`without_nulls`), so applying the patches always
rebuilds exactly the engine's snapshot. A client that connects, or that fell behind (its
sender replaced a frame it had not yet sent), gets ``{"type": "snapshot", "seq": n,
"data": {...}}``, the whole state. A busy day's snapshot is tens of kilobytes (every agent's
figures); a patch is usually under two.

Both texts are made at most once per push, whatever the number of clients; the snapshot text
only when some client needs it.
"""

from __future__ import annotations

import json
from typing import Any

from callcenter.web.websockets import text_frame


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What turns ``old`` into ``new`` (empty when they are equal)."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif before is _MISSING or before != value or type(before) is not type(value):
            patch[key] = value
    for key in old.keys() - new.keys():
        patch[key] = None
    return patch


def apply_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 applied in place (what a client does); returns ``target``."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            apply_patch(target[key], value)
        else:
            target[key] = value
    return target


_MISSING = object()


def without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` without its null members, at every depth."""
    return {
        k: without_nulls(v) if isinstance(v, dict) else v for k, v in value.items() if v is not None
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Frame:
    """One push: the patch, and the snapshot made on first demand; as JSON text and as
    websocket frames (encoded once, whatever the number of clients)."""

    __slots__ = ("_snapshot", "_snapshot_text", "_snapshot_wire", "patch_text", "patch_wire", "seq")

    def __init__(self, seq: int, snapshot: dict[str, Any], patch: dict[str, Any] | None) -> None:
        self.seq = seq
        self._snapshot = snapshot
        self._snapshot_text: str | None = None
        self._snapshot_wire: bytes | None = None
        self.patch_text = (
            _dumps({"type": "patch", "seq": seq, "data": patch}) if patch is not None else None
        )
        self.patch_wire = text_frame(self.patch_text.encode()) if self.patch_text else None

    def snapshot_text(self) -> str:
        if self._snapshot_text is None:
            whole = {"type": "snapshot", "seq": self.seq, "data": self._snapshot}
            self._snapshot_text = _dumps(whole)
        return self._snapshot_text

    def snapshot_wire(self) -> bytes:
        if self._snapshot_wire is None:
            self._snapshot_wire = text_frame(self.snapshot_text().encode())
        return self._snapshot_wire
