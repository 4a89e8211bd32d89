"""The one exception tree of the engine.

Every error the engine raises on purpose derives from :class:`CallcenterError` and carries a
stable ``code``; foreign errors (panoramisk, SQLAlchemy, aiohttp, OS) are translated into these
at the edge that meets them, once. ``callcenter.web.errors`` maps the tree to HTTP statuses.
"""

from __future__ import annotations

from dataclasses import dataclass


class CallcenterError(Exception):
    """Base of every deliberate error; ``code`` is stable and documented."""

    code = "callcenter_error"


@dataclass(frozen=True)
class ConfigProblem:
    """One fault in a configuration file: the dotted key, where it is, and what is wrong."""

    key: str
    message: str
    line: int | None = None
    column: int | None = None

    def render(self, filename: str) -> str:
        where = filename
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.key}: {self.message}"


class ConfigError(CallcenterError):
    """The configuration is invalid; ``problems`` lists every fault found."""

    code = "config_invalid"

    def __init__(self, filename: str, problems: list[ConfigProblem]) -> None:
        self.filename = filename
        self.problems = problems
        super().__init__("\n".join(p.render(filename) for p in problems))


class AmiError(CallcenterError):
    """Asterisk's manager interface refused or failed an action."""

    code = "ami_error"


class AmiNotConnected(AmiError):
    """No authenticated AMI session is up; the action was not sent."""

    code = "ami_not_connected"


class AmiActionLost(AmiError):
    """The AMI link dropped after the action was sent and before its answer arrived.

    The action may or may not have run in Asterisk: it is never re-sent blindly; the caller
    reconciles against Asterisk's own state instead.
    """

    code = "ami_action_lost"


class AmiTimeout(AmiError):
    """No answer to an AMI action within its time limit."""

    code = "ami_timeout"


class AgiError(CallcenterError):
    """A FastAGI session broke its protocol or ended."""

    code = "agi_error"


class AgiHangup(AgiError):
    """The caller hung up while a FastAGI session was running."""

    code = "agi_hangup"


class NotFound(CallcenterError):
    code = "not_found"


class Conflict(CallcenterError):
    """The request does not fit the current state (e.g. an illegal agent transition)."""

    code = "conflict"


class Unauthorized(CallcenterError):
    code = "unauthorized"


class Forbidden(CallcenterError):
    """Authenticated, but not allowed (another agent's data, a foreign websocket origin)."""

    code = "forbidden"


class BadRequest(CallcenterError):
    code = "bad_request"


class TooManyRequests(CallcenterError):
    """Refused for now: too many attempts in a short time (e.g. wrong passwords)."""

    code = "too_many_requests"


class StorageUnavailable(CallcenterError):
    """The database cannot be reached; the operation may be retried."""

    code = "storage_unavailable"
