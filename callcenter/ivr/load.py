"""From YAML text to a :class:`~callcenter.ivr.script.Script`, collecting every fault.

Theory of operation. :func:`callcenter.yamlsource.load_yaml` reads the text safely (no tags,
no aliases, bounded size) and remembers each key's position. Each node type is a row of
:data:`NODE_TYPES`: its class and a table of its keys, each with a small parser that returns
the value or raises :class:`Bad`. The loader never stops at the first fault: a node with
faults becomes a :class:`~callcenter.ivr.script.BrokenNode` that keeps its readable targets,
so the graph checks that follow still run and add no noise about it.

Script layout::

    name: hotline
    languages: [zh, en]          # the first is the default
    start: welcome
    business_hours: {timezone: Asia/Shanghai, weekly: {mon: ["08:30-20:00"]}, holidays: []}
    nodes: {welcome: {type: play, prompts: [welcome], next: menu}, ...}
    subflows: {goodbye: {start: thanks, nodes: {...}}}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.calls.model import Outcome
from callcenter.ivr import commands as c
from callcenter.ivr import script as s
from callcenter.yamlsource import Path, YamlDocument, YamlSourceError, load_yaml

ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
VARIABLE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$")
TEMPLATE_PART = re.compile(r"\$\{([^}]*)\}")
SPAN = re.compile(r"^([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])$")
ENDING_OUTCOMES = (Outcome.COMPLETED_IN_IVR, Outcome.FAILED, Outcome.EXIT_KEY)


class Bad(ValueError):
    """A value does not fit its key; the message says why."""


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    column: int | None
    message: str

    def render(self, filename: str) -> str:
        where = filename if self.line is None else f"{filename}:{self.line}:{self.column or 1}"
        return f"{where}: {self.message}"


@dataclass
class Loaded:
    """The script (None when its skeleton is unreadable), the faults, and the positions."""

    script: s.Script | None
    problems: list[Problem]
    document: YamlDocument = field(default_factory=lambda: YamlDocument(data={}))


# --- value parsers -------------------------------------------------------------------------

Parser = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Bad("must be a non-empty string")
    return value


def optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Bad("must be a string")
    return value


def name(value: Any) -> str:
    if not isinstance(value, str) or not c.NAME.fullmatch(value):
        raise Bad("must be a name (letters, digits, '_' and '-', at most 64)")
    return value


def node_id(value: Any) -> str:
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise Bad("must be a node id (a letter or '_', then letters, digits, '_' or '-')")
    return value


def variable(value: Any) -> str:
    if not isinstance(value, str) or not VARIABLE.fullmatch(value):
        raise Bad("must be a variable name such as account or customer.tier")
    return value


def template(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    checked = optional_text(value)
    for ref in TEMPLATE_PART.findall(checked):
        variable(ref)
    if "$" in TEMPLATE_PART.sub("", checked):
        raise Bad("'$' must start a variable reference such as ${caller}")
    return checked


def case_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bad("must be text or a whole number (quote yes, no, on and off)")
    return str(value)


def names(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise Bad("must be a name or a non-empty list of names")
    return tuple(name(item) for item in items)


def language(value: Any) -> str:
    if not isinstance(value, str) or not c.LANGUAGE.fullmatch(value):
        raise Bad("must be a language code such as zh or en")
    return value


def languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise Bad("must be a non-empty list of language codes")
    return tuple(language(item) for item in value)


def seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 60:
        raise Bad("must be a number of seconds within (0, 60]")
    return float(value)


def integer(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Bad(f"must be a whole number within {low}..{high}")
        return value

    return parse


def one_of(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in choices:
            raise Bad(f"must be one of {', '.join(choices)}")
        return str(value)

    return parse


def key(value: Any) -> str:
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or len(value) != 1 or value not in c.KEYS:
        raise Bad("must be one key: 0-9, * or # (quote * and #)")
    return value


def terminator(value: Any) -> str:
    return "" if value == "" else key(value)


def regex(value: Any) -> str:
    checked = text(value)
    try:
        re.compile(checked)
    except re.error as exc:
        raise Bad(f"is not a valid regular expression: {exc}") from None
    return checked


def url(value: Any) -> str:
    checked = text(value)
    if not checked.startswith(("http://", "https://")) or "$" in checked or " " in checked:
        raise Bad("must be an http:// or https:// URL (caller input goes in params)")
    return checked


def phone(value: Any) -> str:
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not c.PHONE_NUMBER.fullmatch(value):
        raise Bad("must be a phone number: digits with an optional leading +")
    return value


def extension(value: Any) -> str:
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not c.EXTENSION.fullmatch(value):
        raise Bad("must be an extension of 2 to 8 digits")
    return value


def outcome(value: Any) -> Outcome:
    if value not in ENDING_OUTCOMES:
        raise Bad(f"must be one of {', '.join(ENDING_OUTCOMES)}")
    return Outcome(value)


def say_kind(value: Any) -> c.SayKind:
    return c.SayKind(one_of(*c.SayKind)(value))


def lookup_by(value: Any) -> c.LookupBy:
    return c.LookupBy(one_of(*c.LookupBy)(value))


def fax_mode(value: Any) -> c.FaxMode:
    return c.FaxMode(one_of(*c.FaxMode)(value))


def mapping_of(parse_key: Parser, parse_value: Parser) -> Parser:
    """A mapping parsed into pairs; a bad entry is reported at its own key."""

    def parse(value: Any) -> tuple[tuple[Any, Any], ...]:
        if not isinstance(value, dict) or not value:
            raise Bad("must be a non-empty mapping")
        pairs = []
        for raw_key, raw_value in value.items():
            try:
                pairs.append((parse_key(raw_key), parse_value(raw_value)))
            except Bad as exc:
                raise Bad(f"{raw_key}: {exc}", str(raw_key)) from None
        return tuple(pairs)

    return parse


def params_value(value: Any) -> str:
    return template(value)


# --- node types ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    parse: Parser
    required: bool = True
    target: bool = False


def req(parse: Parser) -> Spec:
    return Spec(parse)


def opt(parse: Parser) -> Spec:
    return Spec(parse, required=False)


TARGET = Spec(node_id, target=True)
OPT_TARGET = Spec(node_id, required=False, target=True)
TARGETS = Spec(mapping_of(key, node_id), target=True)
PROMPTS = req(names)
OPT_PROMPTS = opt(names)
RETRIES = opt(integer(0, 9))

_ASKING = {"timeout": opt(seconds), "retries": RETRIES}


@dataclass(frozen=True, slots=True)
class NodeType:
    cls: type[s.Node]
    keys: Mapping[str, Spec]
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] = lambda _values: []


def _check_collect(values: dict[str, Any]) -> list[tuple[str, str]]:
    if values.get("min_length", 1) > values.get("max_length", 20):
        return [("min_length", "min_length is larger than max_length")]
    return []


def _check_fax(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if ("documents" in values) == ("documents_from" in values):
        problems.append(("type", "fax needs exactly one of documents or documents_from"))
    if values.get("mode") is c.FaxMode.TO_NUMBER and not values.get("number"):
        problems.append(("mode", "mode to_number needs a number"))
    return problems


def _check_transfer(values: dict[str, Any]) -> list[tuple[str, str]]:
    if ("extension" in values) == ("number" in values):
        return [("type", "transfer needs exactly one of extension or number")]
    return []


NODE_TYPES: Mapping[str, NodeType] = {
    "play": NodeType(s.PlayNode, {"prompts": PROMPTS, "next": TARGET}),
    "menu": NodeType(
        s.MenuNode,
        {
            "prompts": PROMPTS,
            "choices": TARGETS,
            "on_invalid": TARGET,
            "on_timeout": OPT_TARGET,
            "invalid_prompts": OPT_PROMPTS,
            "timeout_prompts": OPT_PROMPTS,
            **_ASKING,
        },
    ),
    "collect": NodeType(
        s.CollectNode,
        {
            "prompts": PROMPTS,
            "into": req(variable),
            "next": TARGET,
            "on_invalid": TARGET,
            "min_length": opt(integer(1, 64)),
            "max_length": opt(integer(1, 64)),
            "pattern": opt(regex),
            "terminator": opt(terminator),
            "invalid_prompts": OPT_PROMPTS,
            **_ASKING,
        },
        _check_collect,
    ),
    "say": NodeType(s.SayNode, {"kind": req(say_kind), "value": req(template), "next": TARGET}),
    "branch": NodeType(
        s.BranchNode,
        {
            "var": req(variable),
            "cases": Spec(mapping_of(case_value, node_id), target=True),
            "default": TARGET,
        },
    ),
    "hours": NodeType(s.HoursNode, {"open": TARGET, "closed": TARGET, "holiday": OPT_TARGET}),
    "set": NodeType(s.SetNode, {"var": req(variable), "value": req(template), "next": TARGET}),
    "lookup_customer": NodeType(
        s.LookupNode,
        {"by": req(lookup_by), "value": opt(template), "found": TARGET, "not_found": TARGET},
    ),
    "http": NodeType(
        s.HttpNode,
        {
            "url": req(url),
            "into": req(variable),
            "params": opt(mapping_of(variable, params_value)),
            "timeout": opt(seconds),
            "next": TARGET,
            "fallback": TARGET,
        },
    ),
    "language": NodeType(
        s.LanguageNode,
        {
            "prompts": PROMPTS,
            "choices": req(mapping_of(key, language)),
            "default": req(language),
            "next": TARGET,
            **_ASKING,
        },
    ),
    "goto": NodeType(s.GotoNode, {"next": TARGET}),
    "call": NodeType(s.CallNode, {"flow": req(name), "next": TARGET}),
    "return": NodeType(s.ReturnNode, {}),
    "enqueue": NodeType(
        s.EnqueueNode,
        {
            "queue": req(name),
            "priority": opt(integer(0, 100)),
            "skills": opt(mapping_of(name, integer(0, 100))),
            "prompts": OPT_PROMPTS,
        },
    ),
    "voicemail": NodeType(
        s.VoicemailNode, {"mailbox": req(name), "next": TARGET, "prompts": OPT_PROMPTS}
    ),
    "fax": NodeType(
        s.FaxNode,
        {
            "documents": opt(names),
            "documents_from": opt(variable),
            "mode": opt(fax_mode),
            "number": opt(template),
            "prompts": OPT_PROMPTS,
            "next": TARGET,
            "on_failure": OPT_TARGET,
        },
        _check_fax,
    ),
    "callback": NodeType(
        s.CallbackNode,
        {
            "queue": req(name),
            "number": opt(template),
            "reason": opt(optional_text),
            "prompts": OPT_PROMPTS,
            "next": TARGET,
            "on_invalid": OPT_TARGET,
        },
    ),
    "transfer": NodeType(
        s.TransferNode,
        {"extension": opt(extension), "number": opt(phone), "prompts": OPT_PROMPTS},
        _check_transfer,
    ),
    "survey": NodeType(
        s.SurveyNode,
        {
            "prompts": PROMPTS,
            "next": TARGET,
            "survey": opt(name),
            "invalid_prompts": OPT_PROMPTS,
            **_ASKING,
        },
    ),
    "hangup": NodeType(s.HangupNode, {"prompts": OPT_PROMPTS, "outcome": opt(outcome)}),
}

TOP_KEYS = frozenset({"name", "languages", "start", "business_hours", "nodes", "subflows"})
FLOW_KEYS = frozenset({"start", "nodes"})
HOURS_KEYS = frozenset({"timezone", "weekly", "holidays"})


# --- the loader ----------------------------------------------------------------------------


class _Reader:
    """Walks the document once, keeping every problem with its position."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def fault(self, path: Path, message: str) -> None:
        line, column = self.document.position(path) or (1, 1)
        self.problems.append(Problem(line, column, message))

    def mapping(self, value: Any, path: Path, allowed: frozenset[str], what: str) -> bool:
        if not isinstance(value, dict):
            self.fault(path, f"{what} must be a mapping")
            return False
        for unknown in sorted(str(k) for k in value if str(k) not in allowed):
            self.fault((*path, unknown), f"unknown key '{unknown}' in {what}")
        return True

    def script(self) -> s.Script | None:
        data = self.document.data
        if not self.mapping(data, (), TOP_KEYS, "the script"):
            return None
        name_ = self.value(data, (), "name", opt(name)) or "ivr"
        spoken = self.value(data, (), "languages", opt(languages)) or ("zh",)
        hours = self.business_hours(data.get("business_hours"), ("business_hours",))
        main = self.flow(s.MAIN, data, ())
        subflows: dict[str, s.Flow] = {}
        raw_subflows = data.get("subflows", {})
        if not isinstance(raw_subflows, dict):
            self.fault(("subflows",), "subflows must be a mapping of sub-flow names")
            raw_subflows = {}
        for raw_name, body in raw_subflows.items():
            path: Path = ("subflows", str(raw_name))
            try:
                flow_name = name(raw_name)
            except Bad as exc:
                self.fault(path, f"sub-flow name {exc}")
                continue
            if flow_name == s.MAIN:
                self.fault(path, f"'{s.MAIN}' is the main flow's name")
                continue
            if self.mapping(body, path, FLOW_KEYS, f"sub-flow '{flow_name}'"):
                flow = self.flow(flow_name, body, path)
                if flow is not None:
                    subflows[flow_name] = flow
        if main is None:
            return None
        return s.Script(name_, tuple(spoken), main, subflows, hours)

    def value(self, data: dict[str, Any], path: Path, key_: str, spec: Spec) -> Any:
        if key_ not in data:
            if spec.required:
                self.fault(path, f"missing key '{key_}'")
            return None
        try:
            return spec.parse(data[key_])
        except Bad as exc:
            inner = (*path, key_, exc.args[1]) if len(exc.args) > 1 else (*path, key_)
            self.fault(inner, f"{key_}: {exc.args[0]}")
            return None

    def flow(self, flow_name: str, data: dict[str, Any], path: Path) -> s.Flow | None:
        start = self.value(data, path, "start", TARGET)
        raw_nodes = data.get("nodes")
        if "nodes" not in data:
            self.fault(path, "missing key 'nodes'")
            return None
        if not isinstance(raw_nodes, dict) or not raw_nodes:
            self.fault((*path, "nodes"), "nodes must be a non-empty mapping of node ids")
            return None
        nodes: dict[str, s.Node] = {}
        for raw_id, body in raw_nodes.items():
            node_path: Path = (*path, "nodes", str(raw_id))
            try:
                nid = node_id(raw_id)
            except Bad as exc:
                self.fault(node_path, f"node {raw_id!r}: {exc}")
                continue
            nodes[nid] = self.node(nid, body, node_path)
        if start is None:
            return None
        return s.Flow(flow_name, start, nodes, path)

    def node(self, nid: str, body: Any, path: Path) -> s.Node:
        if not isinstance(body, dict):
            self.fault(path, f"node '{nid}' must be a mapping")
            return s.BrokenNode(nid, path)
        kind = body.get("type")
        node_type = NODE_TYPES.get(kind) if isinstance(kind, str) else None
        if node_type is None:
            where = (*path, "type") if "type" in body else path
            known = ", ".join(sorted(NODE_TYPES))
            self.fault(where, f"node '{nid}': unknown or missing type; one of {known}")
            return s.BrokenNode(nid, path, _guessed_targets(body), guessed=True)
        # Unknown keys are reported but spoil nothing; a bad value makes the node a stand-in.
        self.mapping(body, path, frozenset({"type", *node_type.keys}), f"node '{nid}'")
        before = len(self.problems)
        values = {}
        for key_, spec in node_type.keys.items():
            parsed = self.value(body, path, key_, spec)
            if parsed is not None:
                values[key_] = parsed
        for key_, message in node_type.check(values):
            self.fault((*path, key_), f"node '{nid}': {message}")
        if len(self.problems) > before:
            return s.BrokenNode(nid, path, _readable_targets(node_type, values))
        return node_type.cls(nid, path, **values)

    def business_hours(self, raw: Any, path: Path) -> s.BusinessHours | None:
        if raw is None or not self.mapping(raw, path, HOURS_KEYS, "business_hours"):
            return None
        zone = self.value(raw, path, "timezone", req(timezone))
        weekly: dict[int, tuple[s.Span, ...]] = {}
        raw_weekly = raw.get("weekly", {})
        if self.mapping(raw_weekly, (*path, "weekly"), frozenset(s.WEEKDAYS), "weekly"):
            for day in raw_weekly:
                if day in s.WEEKDAYS:
                    parsed = self.value(raw_weekly, (*path, "weekly"), day, req(span_list))
                    weekly[s.WEEKDAYS.index(day)] = parsed or ()
        holidays = self.value(raw, path, "holidays", opt(date_list)) or frozenset()
        # With a bad time zone the script does not run; the rest is still checked.
        return s.BusinessHours(zone or "UTC", weekly, holidays)


def _readable_targets(node_type: NodeType, values: dict[str, Any]) -> s.Pairs:
    found: list[tuple[str, str]] = []
    for key_, spec in node_type.keys.items():
        value = values.get(key_)
        if spec.target and isinstance(value, str):
            found.append((key_, value))
        elif spec.target and isinstance(value, tuple):
            found.extend((f"{key_}.{k}", v) for k, v in value)
    return tuple(found)


def _guessed_targets(body: dict[Any, Any]) -> s.Pairs:
    found: list[tuple[str, str]] = []
    for key_, value in body.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for inner, item in items:
            where = str(key_) if inner is None else f"{key_}.{inner}"
            if isinstance(item, str) and ID.fullmatch(item):
                found.append((where, item))
    return tuple(found)


def timezone(value: Any) -> str:
    checked = text(value)
    try:
        ZoneInfo(checked)
    except (ZoneInfoNotFoundError, ValueError):
        raise Bad(f"unknown time zone {checked!r}") from None
    return checked


def span_list(value: Any) -> tuple[s.Span, ...]:
    if not isinstance(value, list):
        raise Bad('must be a list of spans such as "08:30-20:00"')
    spans = []
    for item in value:
        match = SPAN.fullmatch(item) if isinstance(item, str) else None
        if match is None:
            raise Bad(f'{item!r} is not a span such as "08:30-20:00"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or (h2 == 24 and m2) or (h1, m1) >= (h2, m2):
            raise Bad(f"{item!r} is not a span within one day")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        spans.append((time(h1, m1), end))
    return tuple(spans)


def date_list(value: Any) -> frozenset[date]:
    if not isinstance(value, list):
        raise Bad("must be a list of dates such as 2026-10-01")
    days = set()
    for item in value:
        try:
            days.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise Bad(f"{item!r} is not a date such as 2026-10-01") from None
    return frozenset(days)


def load_text(text_: str | bytes) -> Loaded:
    """Read a script; ``problems`` lists every fault in reading order."""
    try:
        document = load_yaml(text_)
    except YamlSourceError as exc:
        return Loaded(None, [Problem(exc.line, exc.column, str(exc))])
    reader = _Reader(document)
    script = reader.script()
    return Loaded(script, reader.problems, document)
