"""``callcenter ivr validate | simulate``: check a script, or walk it from scripted keys."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from callcenter.clock import SystemClock
from callcenter.errors import CallcenterError, ConfigError
from callcenter.ivr.files import catalogue_from_files, read_scenario, read_script
from callcenter.ivr.interpreter import CallContext
from callcenter.ivr.library import ScriptLibrary, catalogue_for
from callcenter.ivr.simulate import simulate
from callcenter.ivr.validate import validate
from callcenter.settings import Settings, load_settings
from callcenter.yamlsource import YamlSourceError

DEFAULT_SOUNDS = "sounds"


def add_parser(sub: Any, default_config: str) -> None:
    """Add ``ivr`` and its sub-commands to the top-level sub-parsers ``sub``."""
    ivr = sub.add_parser("ivr", help="check and try IVR scripts")
    ivr_sub = ivr.add_subparsers(dest="ivr_command", required=True)
    check = ivr_sub.add_parser("validate", help="report every problem of a script")
    check.add_argument("file")
    check.add_argument("--config", default=default_config, help="queues come from its acd")
    check.add_argument("--sounds", default=DEFAULT_SOUNDS, help="prompts: <sounds>/<lang>/*.wav")
    check.add_argument(
        "--allow-transfer",
        action="append",
        default=[],
        metavar="NUMBER",
        help="an outside number scripts may transfer to (repeatable)",
    )
    check.add_argument(
        "--document", action="append", default=[], metavar="CODE", help="a fax document code"
    )
    versions = ivr_sub.add_parser("versions", help="list an entry's published versions")
    versions.add_argument("entry")
    versions.add_argument("--config", default=default_config)
    back = ivr_sub.add_parser(
        "rollback", help="put a published version back in the script file (the engine reloads it)"
    )
    back.add_argument("entry")
    back.add_argument("--to", type=int, default=None, help="the version (default: the previous)")
    back.add_argument("--config", default=default_config)
    sim = ivr_sub.add_parser("simulate", help="run a script from scripted key presses")
    sim.add_argument("file")
    sim.add_argument("--keys", default="", help="entries in order, e.g. 1,2,12345678#,,5")
    sim.add_argument("--caller", default="13800000000", help="the caller's number")
    sim.add_argument(
        "--at", default="2026-11-23T10:00", help="time of the call (ISO; naive = local)"
    )
    sim.add_argument("--language", default=None, help="the starting language")
    sim.add_argument("--data", default=None, help="YAML/JSON with customers: and http:")
    sim.add_argument(
        "--allow-transfer", action="append", default=[], metavar="NUMBER", help="allow-list"
    )


def check_entries(settings: Settings) -> list[str]:
    """Every problem of every entry's script, as ``file:line:col: message``."""
    ivr = settings.ivr
    catalogue = catalogue_for(frozenset(settings.acd.queues), Path(ivr.sounds), ivr)()
    problems: list[str] = []
    for entry in ivr.entries.values():
        found = validate(read_script(entry.script), catalogue)
        problems += [p.render(entry.script) for p in found]
    return problems


def run(args: argparse.Namespace) -> int:
    if args.ivr_command == "validate":
        return _validate(args)
    if args.ivr_command in ("versions", "rollback"):
        return _versions(args)
    return _simulate(args)


def _versions(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        ivr = settings.ivr
        catalogue = catalogue_for(frozenset(settings.acd.queues), Path(ivr.sounds), ivr)
        library = ScriptLibrary(ivr, catalogue, SystemClock())
        library.load_all()
        if args.ivr_command == "rollback":
            version = library.rollback(args.entry, args.to)
            print(f"{args.entry}: version {version} is in {ivr.entries[args.entry].script}")
            return 0
        current, refused, known = library.status(args.entry)
    except (CallcenterError, OSError) as exc:
        print(f"ivr {args.ivr_command}: {exc}", file=sys.stderr)
        return 2
    for version in known:
        mark = " (in the file)" if current is not None and current.version == version else ""
        print(f"{args.entry} version {version}{mark}")
    if refused is not None:
        print("the file's current content is refused:", *refused.problems, sep="\n  ")
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        catalogue = catalogue_from_files(
            args.config,
            args.sounds,
            documents=args.document,
            transfer_numbers=args.allow_transfer,
        )
    except ConfigError as exc:
        print(f"configuration invalid:\n{exc}", file=sys.stderr)
        return 2
    problems = validate(read_script(args.file), catalogue)
    for problem in problems:
        print(problem.render(args.file))
    if problems:
        return 1
    print(f"{args.file}: ok")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    loaded = read_script(args.file)
    if loaded.script is None or loaded.problems:
        for problem in loaded.problems:
            print(problem.render(args.file), file=sys.stderr)
        return 1
    try:
        at = datetime.fromisoformat(args.at)
        keys: list[str | None] = [k.strip() or None for k in args.keys.split(",")]
        scenario = read_scenario(args.data, keys if args.keys else [])
    except (ValueError, OSError, YamlSourceError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    context = CallContext(
        caller=args.caller,
        now=at,
        language=args.language,
        transfer_numbers=frozenset(args.allow_transfer),
    )
    for line in simulate(loaded.script, context, scenario):
        print(line)
    return 0
