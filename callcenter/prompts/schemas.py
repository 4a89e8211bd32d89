"""JSON shapes of a prompt and of a recording code."""

from __future__ import annotations

from typing import Any

from callcenter.prompts.model import (
    CODE_DIGITS,
    FEATURE_CODE,
    LANGUAGE,
    NAME,
    Prompt,
    RecordingCode,
    Source,
)

PROMPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "pattern": f"^{LANGUAGE.pattern}$"},
        "name": {"type": "string", "pattern": f"^{NAME.pattern}$"},
        "prompt": {"type": "string", "description": "<language>/<name>, as scripts name it"},
        "seconds": {"type": "number"},
        "source": {"type": "string", "enum": [s.value for s in Source]},
    },
}

RECORDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "pattern": f"^[0-9]{{{CODE_DIGITS}}}$"},
        "prompt": {"type": "string"},
        "expires_at": {"type": "string", "format": "date-time"},
        "dial": {"type": "string", "description": "the feature code to dial from an agent phone"},
    },
}


def prompt_json(prompt: Prompt) -> dict[str, Any]:
    return {
        "language": prompt.id.language,
        "name": prompt.id.name,
        "prompt": str(prompt.id),
        "seconds": prompt.seconds,
        "source": prompt.source.value,
    }


def recording_json(code: RecordingCode) -> dict[str, Any]:
    return {
        "code": code.code,
        "prompt": str(code.prompt),
        "expires_at": code.expires_at.isoformat(),
        "dial": FEATURE_CODE,
    }
