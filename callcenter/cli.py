"""Command line: ``callcenter serve | check-config | db upgrade | ivr | version``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from callcenter import __version__
from callcenter.errors import ConfigError
from callcenter.ivr import cli as ivr_cli
from callcenter.settings import Settings, load_settings

DEFAULT_CONFIG = "config/hotline.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the engine")
    serve.add_argument("--config", default=DEFAULT_CONFIG)
    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the database migrations")
    upgrade.add_argument("--config", default=DEFAULT_CONFIG)
    ivr_cli.add_parser(sub, DEFAULT_CONFIG)
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "ivr":
        return ivr_cli.run(args)
    config = args.file if args.command == "check-config" else args.config
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print(f"configuration invalid:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check_scripts(settings, config)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))
    if args.command == "db":
        return asyncio.run(_upgrade(settings))
    return asyncio.run(_serve(settings))


def _check_scripts(settings: Settings, config: str) -> int:
    """The configuration is valid; so must be every IVR entry's script."""
    problems = ivr_cli.check_entries(settings)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 2
    print(f"{config}: ok")
    return 0


async def _upgrade(settings: Settings) -> int:
    from callcenter.storage.db import upgrade

    await upgrade(settings.database)
    print("database: at the latest migration")
    return 0


async def _serve(settings: Settings) -> int:
    from callcenter.app import Engine

    engine = Engine(settings)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if task is not None:
            loop.add_signal_handler(sig, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await engine.run()
    except ConfigError as exc:
        print(f"configuration invalid:\n{exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("engine stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
