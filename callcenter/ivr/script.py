"""The IVR script model: frozen values, one class per node type.

Theory of operation. An admin writes a script in YAML (:mod:`callcenter.ivr.load` turns it
into these values and :mod:`callcenter.ivr.validate` checks it); the interpreter
(:mod:`callcenter.ivr.interpreter`) walks it. A script has a main flow and named sub-flows;
each flow is a set of nodes keyed by id with a start node. A node names the nodes that may come
after it in its *target fields* (``next``, ``choices``, ``found`` ...), so the graph is read
from the values alone. Two class attributes drive the graph checks: ``WAITS`` (the node waits
for the caller's keys, so a loop through it cannot spin) and ``EXIT`` (the flow may end here).

Every node keeps ``where``, its key path in the YAML document, so a problem found later is
reported at its file position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import ClassVar
from zoneinfo import ZoneInfo

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import FaxMode, LookupBy, SayKind
from callcenter.yamlsource import Path

Pairs = tuple[tuple[str, str], ...]
MAIN = "main"


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    where: Path

    TARGET_FIELDS: ClassVar[tuple[str, ...]] = ()
    WAITS: ClassVar[bool] = False
    EXIT: ClassVar[bool] = False

    def targets(self) -> list[tuple[Path, str]]:
        """Each target id with its key path relative to the node."""
        found: list[tuple[Path, str]] = []
        for name in self.TARGET_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                found.append(((name,), value))
            elif isinstance(value, tuple):
                found.extend(((name, key), target) for key, target in value)
        return found


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    prompts: tuple[str, ...]
    next: str
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class MenuNode(Node):
    prompts: tuple[str, ...]
    choices: Pairs  # key -> target
    on_invalid: str
    on_timeout: str | None = None  # None: as on_invalid
    timeout: float = 5.0
    retries: int = 2
    invalid_prompts: tuple[str, ...] = ()
    timeout_prompts: tuple[str, ...] = ()
    TARGET_FIELDS = ("choices", "on_invalid", "on_timeout")
    WAITS = True


@dataclass(frozen=True, slots=True)
class CollectNode(Node):
    prompts: tuple[str, ...]
    into: str
    next: str
    on_invalid: str
    min_length: int = 1
    max_length: int = 20
    pattern: str | None = None
    terminator: str = "#"
    timeout: float = 5.0
    retries: int = 2
    invalid_prompts: tuple[str, ...] = ()
    TARGET_FIELDS = ("next", "on_invalid")
    WAITS = True


@dataclass(frozen=True, slots=True)
class SayNode(Node):
    kind: SayKind
    value: str  # template
    next: str
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    var: str
    cases: Pairs  # value -> target
    default: str
    TARGET_FIELDS = ("cases", "default")


@dataclass(frozen=True, slots=True)
class HoursNode(Node):
    open: str
    closed: str
    holiday: str | None = None  # None: as closed
    TARGET_FIELDS = ("open", "closed", "holiday")


@dataclass(frozen=True, slots=True)
class SetNode(Node):
    var: str
    value: str  # template
    next: str
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class LookupNode(Node):
    by: LookupBy
    found: str
    not_found: str
    value: str = "${caller}"  # template
    TARGET_FIELDS = ("found", "not_found")


@dataclass(frozen=True, slots=True)
class HttpNode(Node):
    url: str
    into: str
    next: str
    fallback: str
    params: Pairs = ()  # name -> template
    timeout: float = 3.0
    TARGET_FIELDS = ("next", "fallback")


@dataclass(frozen=True, slots=True)
class LanguageNode(Node):
    prompts: tuple[str, ...]
    choices: Pairs  # key -> language
    default: str
    next: str
    timeout: float = 5.0
    retries: int = 1
    TARGET_FIELDS = ("next",)
    WAITS = True


@dataclass(frozen=True, slots=True)
class GotoNode(Node):
    next: str
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class CallNode(Node):
    flow: str
    next: str
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class ReturnNode(Node):
    EXIT = True


@dataclass(frozen=True, slots=True)
class EnqueueNode(Node):
    queue: str
    priority: int = 0
    skills: tuple[tuple[str, int], ...] = ()
    prompts: tuple[str, ...] = ()
    EXIT = True


@dataclass(frozen=True, slots=True)
class VoicemailNode(Node):
    mailbox: str
    next: str
    prompts: tuple[str, ...] = ()
    TARGET_FIELDS = ("next",)


@dataclass(frozen=True, slots=True)
class FaxNode(Node):
    next: str
    documents: tuple[str, ...] = ()
    documents_from: str | None = None  # a variable holding codes typed as 101*102
    mode: FaxMode = FaxMode.SAME_CALL
    number: str = ""  # template, for mode to_number
    prompts: tuple[str, ...] = ()
    on_failure: str | None = None  # None: as next
    TARGET_FIELDS = ("next", "on_failure")


@dataclass(frozen=True, slots=True)
class CallbackNode(Node):
    queue: str
    next: str
    number: str = "${caller}"  # template
    reason: str = ""
    prompts: tuple[str, ...] = ()
    on_invalid: str | None = None  # the number is not a phone number; None: as next
    TARGET_FIELDS = ("next", "on_invalid")


@dataclass(frozen=True, slots=True)
class TransferNode(Node):
    extension: str = ""
    number: str = ""
    prompts: tuple[str, ...] = ()
    EXIT = True


@dataclass(frozen=True, slots=True)
class SurveyNode(Node):
    prompts: tuple[str, ...]
    next: str
    survey: str = "satisfaction"
    timeout: float = 5.0
    retries: int = 1
    invalid_prompts: tuple[str, ...] = ()
    TARGET_FIELDS = ("next",)
    WAITS = True


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    prompts: tuple[str, ...] = ()
    outcome: Outcome = Outcome.COMPLETED_IN_IVR
    EXIT = True


@dataclass(frozen=True, slots=True)
class BrokenNode(Node):
    """Stands in for a node with faults, so graph checks add no noise about it."""

    found: Pairs = ()  # dotted key path -> target, for the targets that were readable
    guessed: bool = False  # the type is unknown: ``found`` holds every text value, maybe ids
    WAITS = True
    EXIT = True

    def targets(self) -> list[tuple[Path, str]]:
        return [(tuple(where.split(".")), target) for where, target in self.found]


Span = tuple[time, time]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Weekly opening spans (weekday 0 = Monday) and holidays, in ``timezone``."""

    timezone: str
    weekly: Mapping[int, tuple[Span, ...]]
    holidays: frozenset[date] = frozenset()

    def status(self, now: datetime) -> str:
        """``open``, ``closed`` or ``holiday`` at ``now`` (naive: already local time)."""
        local = now.astimezone(ZoneInfo(self.timezone)) if now.tzinfo else now
        if local.date() in self.holidays:
            return "holiday"
        clock = local.time()
        spans = self.weekly.get(local.weekday(), ())
        return "open" if any(start <= clock < end for start, end in spans) else "closed"


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, Node]
    where: Path

    def step_name(self, node_id: str) -> str:
        """How a node appears in the caller's path: ``id`` or ``subflow/id``."""
        return node_id if self.name == MAIN else f"{self.name}/{node_id}"


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    languages: tuple[str, ...]  # the first is the default
    main: Flow
    subflows: Mapping[str, Flow] = field(default_factory=dict)
    business_hours: BusinessHours | None = None

    def flows(self) -> list[Flow]:
        return [self.main, *self.subflows.values()]

    def flow(self, name: str) -> Flow:
        return self.main if name == MAIN else self.subflows[name]
