"""WAV files made in memory for the prompt tests (the standard library's ``wave``)."""

from __future__ import annotations

import io
import math
import struct
import wave


def tone_wav(seconds: float, rate: int = 16_000, channels: int = 2, hz: float = 440.0) -> bytes:
    """A sine tone as 16-bit PCM WAV."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * hz * n / rate)) for n in range(frames))
    data = b"".join(struct.pack("<h", s) * channels for s in samples)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return out.getvalue()


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF/WAVE file from raw (id, payload) chunks, for malformed-header tests."""
    body = b"".join(cid + struct.pack("<I", len(p)) + p + b"\0" * (len(p) & 1) for cid, p in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def fmt(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
