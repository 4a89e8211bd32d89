"""End-to-end fixtures: the real Asterisk (once per session) and the engine (per test)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.app import Engine
from callcenter.clock import Clock
from callcenter.settings import Settings
from tests.e2e.harness import Asterisk
from tests.e2e.tcp_proxy import TcpProxy

API_TOKEN = secrets.token_hex(16)
GREETING = Path(__file__).parent / "ivr" / "greeting.yaml"
"""The tests' hotline script: greeting, one key, goodbye (no queue, so any ACD config fits)."""


def GREETED(key: str) -> list[str]:
    """The stored path of a call through the greeting script that ended with ``key``."""
    return ["script:hotline:1", "greeting", key, "bye"]


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Asterisk]:
    try:
        instance = Asterisk.start()
    except Exception as exc:
        pytest.fail(f"cannot start the real Asterisk: {exc}", pytrace=False)
    print(f"\nAsterisk under test: {instance.version}")
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
async def no_call_left(asterisk: Asterisk) -> AsyncIterator[None]:
    """After each test (and its engine): no channel left for the next test's engine to adopt,
    even when the test failed half-way with callers still on the line."""
    yield
    await asyncio.to_thread(asterisk.cli, "channel request hangup all")
    for _ in range(50):
        listing = await asyncio.to_thread(asterisk.cli, "core show channels concise")
        if not listing.strip():
            return
        await asyncio.sleep(0.1)


@pytest.fixture
async def ami_proxy() -> AsyncIterator[TcpProxy]:
    """Sits between the engine and Asterisk's AMI so a test can cut or freeze the link."""
    proxy = TcpProxy("127.0.0.1", 5038)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def asterisk_prompts(asterisk: Asterisk) -> Path:
    """Asterisk's ``callcenter/`` prompts on this host: the root's sounds directory (see
    scripts/asterisk, ROOT and SOUNDS), where uploaded and recorded prompts go too."""
    root = asterisk.env.get("CALLCENTER_ASTERISK_ROOT", "/var/cache/callcenter/asterisk-root")
    return Path(root) / "usr/share/asterisk/sounds/callcenter"


def engine_settings(asterisk: Asterisk, database_url: str, ami_port: int, **extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "ami": {
                "port": ami_port,
                "secret": asterisk.ami_secret,
                "ping_interval": 2,
                "ping_timeout": 3,
                "reconnect_min": 0.2,
                "reconnect_max": 2,
            },
            "fastagi": {"port": 4573},
            "http": {"port": 0, "api_tokens": [API_TOKEN]},
            "database": {"url": database_url},
            "ivr": {
                "entries": {"hotline": {"script": str(GREETING)}},
                "versions": tempfile.mkdtemp(prefix="ivr-versions-"),
                "asterisk_sounds": str(asterisk_prompts(asterisk)),
            },
            **extra,
        }
    )


class RunningEngine:
    def __init__(self, engine: Engine, task: asyncio.Task[None]) -> None:
        self.engine = engine
        self.task = task

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.engine.http_port}"


@contextlib.asynccontextmanager
async def running_engine(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[RunningEngine]:
    engine = Engine(settings, clock)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 30)
        await engine.ami.wait_connected(15)
        yield RunningEngine(engine, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def engine(
    asterisk: Asterisk, sqlite_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[RunningEngine]:
    """The engine on the real Asterisk with the ``acd`` section given by indirect
    parametrisation (``@pytest.mark.parametrize("engine", [CONFIG], indirect=True)``)."""
    settings = engine_settings(asterisk, sqlite_url, 5038, acd=request.param)
    async with running_engine(settings) as running:
        yield running


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}"
