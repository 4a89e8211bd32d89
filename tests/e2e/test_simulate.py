"""scripts/simulate, the traffic `scripts/run --simulate` starts: against a running engine it
logs the agents in and its SIPp callers walk the hotline to agents whose phones answer."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from callcenter.settings import load_settings
from tests.e2e.api import closed_calls, get
from tests.e2e.conftest import API_TOKEN, engine_settings, running_engine
from tests.e2e.harness import Asterisk

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

REPO = Path(__file__).resolve().parents[2]
SIMULATE = REPO / "scripts" / "simulate"


async def run(asterisk: Asterisk, *args: str, timeout: float = 120) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SIMULATE),
        *args,
        cwd=REPO,
        env=asterisk.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_simulated_traffic_reaches_the_agents(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run(asterisk, "prepare")
    monkeypatch.setenv("CALLCENTER__AMI__SECRET", asterisk.ami_secret)
    monkeypatch.setenv("CALLCENTER__HTTP__API_TOKENS", f'["{API_TOKEN}"]')
    sample = load_settings(REPO / "config" / "hotline.yaml")
    settings = engine_settings(
        asterisk,
        sqlite_url,
        5038,
        acd=sample.acd.model_dump(mode="json"),
        ivr={
            "entries": {"hotline": {"script": "var/simulate/hotline.yaml"}},
            "versions": str(tmp_path / "versions"),
        },
    )
    async with running_engine(settings) as engine:
        output = await run(
            asterisk,
            "run",
            *("--api", engine.base_url, "--token", API_TOKEN),
            *("--duration", "20", "--every", "3", "--talk", "3", "--seed", "1"),
        )
        assert "5 agents logged in" in output
        agents = (await get(engine, "/api/v1/agents"))["agents"]
        assert all(a["state"] != "logged_out" for a in agents)
        calls = await closed_calls(engine, 3, timeout=60)
    assert len(calls) >= 3
    assert any(c["outcome"] == "answered" for c in calls), calls
    assert all(c["path"] and c["path"][0] == "script:hotline:1" for c in calls)
