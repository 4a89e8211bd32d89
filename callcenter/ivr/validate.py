"""Checks a loaded script as a whole: its graph, and what it names against a catalogue.

Theory of operation. :func:`validate` adds to the loader's faults, for every flow:

- dangling targets (a node, start or sub-flow that does not exist), ``return`` in the main flow;
- unreachable nodes and sub-flows never called, sub-flows that call themselves;
- loops that spin: a cycle of nodes none of which waits for the caller's keys;
- no way out: nodes from which no exit (hangup, enqueue, transfer, return) can be reached,
  reported where the caller enters them;
- names that must exist elsewhere, looked up in a :class:`Catalogue` passed in (queues, prompts
  in each of the script's languages, fax documents, allow-listed outside numbers).

Nothing here reads a file: the catalogue is built at the edge (:mod:`callcenter.ivr.files`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields

from callcenter.ivr import script as s
from callcenter.ivr.load import Loaded, Problem, load_text
from callcenter.yamlsource import Path, YamlDocument


@dataclass(frozen=True)
class Catalogue:
    """What exists outside the script. Empty by default: nothing is known to exist."""

    queues: frozenset[str] = frozenset()
    prompts: Mapping[str, frozenset[str]] = field(default_factory=dict)  # language -> names
    # Fax document codes. Hook for the document catalogue; until it exists, empty.
    documents: frozenset[str] = frozenset()
    transfer_numbers: frozenset[str] = frozenset()  # outside numbers a script may transfer to


def check_text(text: str | bytes, catalogue: Catalogue) -> list[Problem]:
    return validate(load_text(text), catalogue)


def validate(loaded: Loaded, catalogue: Catalogue) -> list[Problem]:
    """Every fault of the script, sorted by position."""
    problems = list(loaded.problems)
    if loaded.script is not None:
        checker = _Checker(loaded.script, loaded.document, catalogue)
        problems.extend(checker.run())
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.message))


Edges = dict[str, list[str]]


class _Checker:
    def __init__(self, script: s.Script, document: YamlDocument, catalogue: Catalogue) -> None:
        self.script = script
        self.document = document
        self.catalogue = catalogue
        self.problems: list[Problem] = []

    def fault(self, path: Path, message: str) -> None:
        line, column = self.document.position(path) or (1, 1)
        self.problems.append(Problem(line, column, message))

    def run(self) -> list[Problem]:
        for flow in self.script.flows():
            edges = self.targets(flow)
            reachable = self.reachability(flow, edges)
            self.spinning(flow, edges, reachable)
            self.trapped(flow, edges, reachable)
            for node in flow.nodes.values():
                self.node_rules(flow, node)
        self.calls()
        return self.problems

    # --- graph ------------------------------------------------------------------------------

    def targets(self, flow: s.Flow) -> Edges:
        """Edges to existing nodes; each dangling target is a fault."""
        if flow.start not in flow.nodes:
            self.fault((*flow.where, "start"), f"start: unknown node '{flow.start}'")
        edges: Edges = {}
        for node in flow.nodes.values():
            edges[node.id] = []
            for where, target in node.targets():
                if target in flow.nodes:
                    edges[node.id].append(target)
                elif not (isinstance(node, s.BrokenNode) and node.guessed):
                    message = f"node '{node.id}': unknown node '{target}'"
                    self.fault((*node.where, *where), message + _scope(flow))
        return edges

    def reachability(self, flow: s.Flow, edges: Edges) -> set[str]:
        reachable = _reach(flow.start, edges) if flow.start in flow.nodes else set(flow.nodes)
        for node in flow.nodes.values():
            if node.id not in reachable:
                self.fault(node.where, f"node '{node.id}' is unreachable from '{flow.start}'")
        return reachable

    def spinning(self, flow: s.Flow, edges: Edges, reachable: set[str]) -> None:
        idle = {n for n in reachable if not self.waits(flow.nodes[n])}
        idle_edges = {n: [t for t in edges[n] if t in idle] for n in idle}
        for component in _cycles(idle_edges, list(flow.nodes)):
            first = flow.nodes[component[0]]
            nodes = ", ".join(component)
            self.fault(first.where, f"loop without waiting for the caller through {nodes}")

    def waits(self, node: s.Node) -> bool:
        """A call waits when its sub-flow has a node that waits for the caller."""
        if isinstance(node, s.CallNode) and node.flow in self.script.subflows:
            return any(n.WAITS for n in self.script.subflows[node.flow].nodes.values())
        return node.WAITS

    def trapped(self, flow: s.Flow, edges: Edges, reachable: set[str]) -> None:
        finishing = {n for n, node in flow.nodes.items() if node.EXIT}
        finishing |= {n for n, node in flow.nodes.items() if len(edges[n]) < len(node.targets())}
        changed = True
        while changed:
            before = len(finishing)
            finishing |= {n for n in edges if any(t in finishing for t in edges[n])}
            changed = len(finishing) != before
        entries = {flow.start} | {t for n in finishing & reachable for t in edges[n]}
        for n in flow.nodes:
            if n in reachable and n not in finishing and n in entries:
                self.fault(
                    flow.nodes[n].where,
                    f"no way out: from node '{n}' no hangup, enqueue, transfer or return "
                    "can be reached",
                )

    def calls(self) -> None:
        called: dict[str, set[str]] = {f.name: set() for f in self.script.flows()}
        for flow in self.script.flows():
            for node in flow.nodes.values():
                if isinstance(node, s.CallNode):
                    if node.flow in self.script.subflows:
                        called[flow.name].add(node.flow)
                    else:
                        self.fault((*node.where, "flow"), f"unknown sub-flow '{node.flow}'")
                if isinstance(node, s.ReturnNode) and flow.name == s.MAIN:
                    self.fault(node.where, f"node '{node.id}': return outside a sub-flow")
        ever_called = set().union(*called.values())
        for name, flow in self.script.subflows.items():
            if name not in ever_called:
                self.fault(flow.where, f"sub-flow '{name}' is never called")
            elif name in _reach_any(called[name], called):
                self.fault(flow.where, f"sub-flow '{name}' calls itself")

    # --- names ------------------------------------------------------------------------------

    def node_rules(self, flow: s.Flow, node: s.Node) -> None:
        self.prompts(node)
        match node:
            case s.EnqueueNode() | s.CallbackNode() if node.queue not in self.catalogue.queues:
                known = ", ".join(sorted(self.catalogue.queues)) or "none"
                self.fault((*node.where, "queue"), f"unknown queue '{node.queue}'; known: {known}")
            case s.FaxNode():
                for i, code in enumerate(node.documents):
                    if code not in self.catalogue.documents:
                        self.fault((*node.where, "documents", i), f"unknown document '{code}'")
            case s.TransferNode() if node.number:
                if node.number not in self.catalogue.transfer_numbers:
                    self.fault(
                        (*node.where, "number"),
                        f"outside number '{node.number}' is not on the transfer allow-list",
                    )
            case s.LanguageNode():
                for i, (key, language) in enumerate([*node.choices, ("", node.default)]):
                    if language not in self.script.languages:
                        where = ("choices", key) if i < len(node.choices) else ("default",)
                        self.fault(
                            (*node.where, *where),
                            f"language '{language}' is not one of the script's languages",
                        )
            case s.HoursNode() if self.script.business_hours is None:
                self.fault(node.where, f"node '{node.id}': no business_hours in the script")

    def prompts(self, node: s.Node) -> None:
        for name, index, prompt in _prompt_refs(node):
            missing = [
                language
                for language in self.script.languages
                if prompt not in self.catalogue.prompts.get(language, frozenset())
            ]
            if missing:
                self.fault(
                    (*node.where, name, index),
                    f"unknown prompt '{prompt}' (missing in {', '.join(missing)})",
                )


def _prompt_refs(node: s.Node) -> Iterator[tuple[str, int, str]]:
    for f in fields(node):
        if f.name.endswith("prompts"):
            for index, prompt in enumerate(getattr(node, f.name)):
                yield f.name, index, prompt


def _scope(flow: s.Flow) -> str:
    return "" if flow.name == s.MAIN else f" in sub-flow '{flow.name}'"


def _reach(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _reach_any(starts: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    found: set[str] = set()
    for start in starts:
        found |= _reach(start, {k: sorted(v) for k, v in edges.items()})
    return found


def _cycles(edges: Mapping[str, list[str]], order: list[str]) -> list[list[str]]:
    """Strongly connected components that hold a cycle, each in file order."""
    rank = {n: i for i, n in enumerate(order)}
    found: list[list[str]] = []
    done: set[str] = set()
    reverse: dict[str, list[str]] = {n: [] for n in edges}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    for node in sorted(edges, key=rank.__getitem__):
        if node in done:
            continue
        forward = _reach(node, edges)
        backward = _reach(node, reverse)
        component = sorted(forward & backward, key=rank.__getitem__)
        done |= set(component)
        if len(component) > 1 or node in edges[node]:
            found.append(component)
    return found
