"""Runs an IVR script as a generator of commands: decide here, do in the driver.

Theory of operation. :func:`run` walks a validated :class:`~callcenter.ivr.script.Script`
node by node. Each node type has a small handler in :data:`HANDLERS`: a generator that
yields :mod:`~callcenter.ivr.commands`, receives each one's result (sent back by the driver,
or by a test from a list), and returns the id of the next node, or None when the flow has ended
(hang-up, enqueue, transfer). It is the shape of httpx's auth flow: no I/O, no clock (the
time of the call comes in the :class:`CallContext`), no event loop.

The caller's path is yielded as :class:`~callcenter.ivr.commands.RecordStep` values, so the
ledger keeps it with the call: each node id (``subflow/node`` inside a sub-flow), then what
happened there (``key:1``, ``key:timeout``, ``customer:found``, ``enqueue:repair`` ...; every
such step holds a ``:`` and node ids never do). Digits the caller entered are not put in the
path (they may be account numbers); they stay in variables.

A script can never spin: after ``max_idle_steps`` nodes without a key from the caller, or
``max_steps`` nodes in all, the call ends with outcome ``failed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.calls.model import Outcome
from callcenter.ivr import script as s
from callcenter.ivr.commands import (
    KEYS,
    NAME,
    PHONE_NUMBER,
    CollectDigits,
    Command,
    Enqueue,
    FaxMode,
    FaxOnDemand,
    Finish,
    HttpLookup,
    LookupCustomer,
    Play,
    RecordStep,
    RequestCallback,
    Result,
    Say,
    SetLanguage,
    StoreSurvey,
    Transfer,
    TransferKind,
    Voicemail,
    WaitDigit,
    sayable,
)

Flow = Generator[Command, Result, None]
Step = Generator[Command, Result, str | None]
MAX_CALL_DEPTH = 8
TEMPLATE = re.compile(r"\$\{([^}]*)\}")
SOUNDS = "callcenter"  # Asterisk plays sounds/<language>/<name> as callcenter/<language>/<name>


@dataclass(frozen=True)
class CallContext:
    """What the interpreter knows of the call when it starts."""

    caller: str
    now: datetime  # the time of the call; naive means local time of the business hours
    language: str | None = None  # None: the script's first language
    variables: Mapping[str, str] = field(default_factory=dict)
    transfer_numbers: frozenset[str] = frozenset()  # checked again at run time
    max_idle_steps: int = 50
    max_steps: int = 500


class _State:
    def __init__(self, script: s.Script, context: CallContext) -> None:
        self.script = script
        self.context = context
        self.language = context.language or script.languages[0]
        self.variables = {**context.variables, "caller": context.caller}
        self.variables["language"] = self.language
        self.idle = 0

    def heard(self) -> None:
        """The caller pressed a key: the script is not spinning."""
        self.idle = 0

    def prompt(self, name: str, language: str | None = None) -> str:
        return f"{SOUNDS}/{language or self.language}/{name}"

    def render(self, template: str) -> str:
        return TEMPLATE.sub(lambda m: self.variables.get(m.group(1), ""), template)


def run(script: s.Script, context: CallContext) -> Flow:
    """The flow of one call through ``script``."""
    state = _State(script, context)
    flow = script.main
    node_id: str | None = flow.start
    stack: list[tuple[s.Flow, str]] = []
    steps = 0
    while node_id is not None:
        steps += 1
        state.idle += 1
        node = flow.nodes.get(node_id)
        if state.idle > context.max_idle_steps or steps > context.max_steps:
            yield from _fail("error:step_limit")
            return
        if node is None:
            yield from _fail("error:unknown_node")
            return
        yield RecordStep(flow.step_name(node_id))
        match node:
            case s.CallNode() if len(stack) < MAX_CALL_DEPTH and node.flow in script.subflows:
                stack.append((flow, node.next))
                flow = script.subflows[node.flow]
                node_id = flow.start
            case s.CallNode():
                yield from _fail("error:call")
                return
            case s.ReturnNode() if stack:
                flow, node_id = stack.pop()
            case s.ReturnNode():
                yield from _fail("error:return")
                return
            case _ if type(node) in HANDLERS:
                node_id = yield from HANDLERS[type(node)](node, state)
            case _:
                yield from _fail("error:node")
                return


def _fail(step: str) -> Flow:
    yield RecordStep(step)
    yield Finish(Outcome.FAILED)


# --- helpers ---------------------------------------------------------------------------------


def _digit(result: Result) -> str | None:
    return result if isinstance(result, str) and result else None


def _play(
    prompts: Iterable[str], state: _State, digits: str = "", language: str | None = None
) -> Step:
    """Play prompts in turn; with ``digits``, a key stops them and is returned."""
    for name in prompts:
        key = _digit((yield Play(state.prompt(name, language), digits)))
        if digits and key:
            return key
    return None


def _ask(prompts: Iterable[str], state: _State, timeout: float) -> Step:
    """Prompts interruptible by any key, then a wait for one key."""
    key = yield from _play(prompts, state, KEYS)
    if key is None:
        key = _digit((yield WaitDigit(timeout)))
    if key is not None:
        state.heard()
    return key


# --- handlers: one per node type ---------------------------------------------------------------


def _play_node(node: s.PlayNode, state: _State) -> Step:
    yield from _play(node.prompts, state)
    return node.next


def _menu(node: s.MenuNode, state: _State) -> Step:
    choices = dict(node.choices)
    failure = node.on_invalid
    for _attempt in range(node.retries + 1):
        key = yield from _ask(node.prompts, state, node.timeout)
        if key in choices:
            yield RecordStep(f"key:{key}")
            return choices[key]
        if key is None:
            yield RecordStep("key:timeout")
            failure = node.on_timeout or node.on_invalid
            yield from _play(node.timeout_prompts, state)
        else:
            yield RecordStep(f"key:invalid:{key}")
            failure = node.on_invalid
            yield from _play(node.invalid_prompts, state)
    return failure


def _collect(node: s.CollectNode, state: _State) -> Step:
    prompts = tuple(state.prompt(p) for p in node.prompts)
    ask = CollectDigits(prompts, node.min_length, node.max_length, node.timeout, node.terminator)
    for _attempt in range(node.retries + 1):
        digits = _digit((yield ask)) or ""
        if digits:
            state.heard()
        if _acceptable(node, digits):
            state.variables[node.into] = digits
            yield RecordStep("input:ok")
            return node.next
        yield RecordStep("input:invalid" if digits else "input:none")
        yield from _play(node.invalid_prompts, state)
    return node.on_invalid


def _acceptable(node: s.CollectNode, digits: str) -> bool:
    return (
        node.min_length <= len(digits) <= node.max_length
        and re.fullmatch(r"[0-9*]+", digits) is not None
        and (node.pattern is None or re.fullmatch(node.pattern, digits) is not None)
    )


def _say(node: s.SayNode, state: _State) -> Step:
    value = state.render(node.value)
    if sayable(node.kind, value):
        yield Say(node.kind, value, state.language)
    else:
        yield RecordStep("say:skipped")
    return node.next


def _branch(node: s.BranchNode, state: _State) -> Step:
    return dict(node.cases).get(state.variables.get(node.var, ""), node.default)
    yield  # a generator like every handler


def _hours(node: s.HoursNode, state: _State) -> Step:
    hours = state.script.business_hours
    status = hours.status(state.context.now) if hours else "closed"
    yield RecordStep(f"hours:{status}")
    if status == "open":
        return node.open
    return (node.holiday or node.closed) if status == "holiday" else node.closed


def _set(node: s.SetNode, state: _State) -> Step:
    state.variables[node.var] = state.render(node.value)
    return node.next
    yield


def _lookup(node: s.LookupNode, state: _State) -> Step:
    value = state.render(node.value)
    record = (yield LookupCustomer(node.by, value)) if value else None
    if isinstance(record, Mapping):
        state.variables.update({f"customer.{k}": str(v) for k, v in record.items()})
        yield RecordStep("customer:found")
        return node.found
    yield RecordStep("customer:not_found")
    return node.not_found


def _http(node: s.HttpNode, state: _State) -> Step:
    params = tuple((k, state.render(v)) for k, v in node.params)
    answer = yield HttpLookup(node.url, params, node.timeout)
    if isinstance(answer, Mapping):
        state.variables.update({f"{node.into}.{k}": str(v) for k, v in answer.items()})
        yield RecordStep("http:ok")
        return node.next
    yield RecordStep("http:failed")
    return node.fallback


def _language(node: s.LanguageNode, state: _State) -> Step:
    """The prompts play once in each of the script's languages, all interruptible."""
    choices = dict(node.choices)
    chosen = node.default
    for _attempt in range(node.retries + 1):
        key = None
        for language in state.script.languages:
            key = yield from _play(node.prompts, state, KEYS, language)
            if key is not None:
                break
        if key is None:
            key = _digit((yield WaitDigit(node.timeout)))
        if key is not None:
            state.heard()
        if key in choices:
            chosen = choices[key]
            break
    state.language = state.variables["language"] = chosen
    yield SetLanguage(chosen)
    yield RecordStep(f"language:{chosen}")
    return node.next


def _goto(node: s.GotoNode, state: _State) -> Step:
    return node.next
    yield


def _enqueue(node: s.EnqueueNode, state: _State) -> Step:
    yield from _play(node.prompts, state)
    yield RecordStep(f"enqueue:{node.queue}")
    attributes = tuple(sorted(state.variables.items()))
    yield Enqueue(node.queue, node.priority, node.skills, state.language, attributes)
    return None


def _voicemail(node: s.VoicemailNode, state: _State) -> Step:
    yield from _play(node.prompts, state)
    yield Voicemail(node.mailbox)
    yield RecordStep(f"voicemail:{node.mailbox}")
    return node.next


def _fax(node: s.FaxNode, state: _State) -> Step:
    if node.documents_from is not None:
        typed = state.variables.get(node.documents_from, "")
        codes = tuple(code for code in typed.split("*") if code)
    else:
        codes = node.documents
    number = state.render(node.number)
    if (
        not codes
        or not all(NAME.fullmatch(code) for code in codes)
        or (node.mode is FaxMode.TO_NUMBER and not PHONE_NUMBER.fullmatch(number))
    ):
        yield RecordStep("fax:invalid")
        return node.on_failure or node.next
    yield from _play(node.prompts, state)
    sent = _digit((yield FaxOnDemand(codes, node.mode, number)))
    yield RecordStep("fax:sent" if sent else "fax:failed")
    return node.next if sent else (node.on_failure or node.next)


def _callback(node: s.CallbackNode, state: _State) -> Step:
    number = state.render(node.number)
    if not PHONE_NUMBER.fullmatch(number):
        yield RecordStep("callback:invalid")
        return node.on_invalid or node.next
    yield RequestCallback(number, node.queue, node.reason)
    yield RecordStep("callback:requested")
    yield from _play(node.prompts, state)
    return node.next


def _transfer(node: s.TransferNode, state: _State) -> Step:
    if node.number and node.number not in state.context.transfer_numbers:
        yield from _fail("transfer:refused")
        return None
    kind = TransferKind.OUTSIDE if node.number else TransferKind.EXTENSION
    yield from _play(node.prompts, state)
    yield RecordStep(f"transfer:{kind}")
    yield Transfer(kind, node.number or node.extension)
    return None


def _survey(node: s.SurveyNode, state: _State) -> Step:
    for _attempt in range(node.retries + 1):
        key = yield from _ask(node.prompts, state, node.timeout)
        if key is not None and key in "12345":
            yield StoreSurvey(int(key), node.survey)
            yield RecordStep(f"survey:{key}")
            return node.next
        yield RecordStep("survey:invalid" if key else "survey:none")
        yield from _play(node.invalid_prompts, state)
    return node.next


def _hangup(node: s.HangupNode, state: _State) -> Step:
    yield from _play(node.prompts, state)
    yield Finish(node.outcome)
    return None


HANDLERS: Mapping[type[s.Node], Callable[[Any, _State], Step]] = {
    s.PlayNode: _play_node,
    s.MenuNode: _menu,
    s.CollectNode: _collect,
    s.SayNode: _say,
    s.BranchNode: _branch,
    s.HoursNode: _hours,
    s.SetNode: _set,
    s.LookupNode: _lookup,
    s.HttpNode: _http,
    s.LanguageNode: _language,
    s.GotoNode: _goto,
    s.EnqueueNode: _enqueue,
    s.VoicemailNode: _voicemail,
    s.FaxNode: _fax,
    s.CallbackNode: _callback,
    s.TransferNode: _transfer,
    s.SurveyNode: _survey,
    s.HangupNode: _hangup,
}
