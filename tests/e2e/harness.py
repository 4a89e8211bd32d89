"""The real Asterisk and SIPp for end-to-end tests, started through the project's own scripts."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OVERLAY = Path(__file__).resolve().parent / "asterisk-overlay"
SCRIPT = REPO / "scripts" / "asterisk"


@dataclass
class Asterisk:
    """Asterisk as the tests run it: secrets of its own, the test overlay rendered in."""

    env: dict[str, str] = field(default_factory=dict)
    version: str = ""

    @property
    def ami_secret(self) -> str:
        return self.env["CALLCENTER__AMI__SECRET"]

    @classmethod
    def start(cls) -> Asterisk:
        env = {
            **os.environ,
            "CALLCENTER__AMI__SECRET": secrets.token_hex(12),
            "CALLCENTER_AGENT_SIP_SECRET": secrets.token_hex(12),
            "CALLCENTER_ASTERISK_OVERLAY": str(OVERLAY),
        }
        asterisk = cls(env)
        asterisk.run("start", timeout=300)
        asterisk.version = asterisk.run("version").strip()
        return asterisk

    def stop(self) -> None:
        self.run("stop", timeout=60)

    def run(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scripts/asterisk {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def cli(self, command: str) -> str:
        return self.run("cli", command)

    async def sipp(self, *args: str, timeout: float = 60) -> tuple[int, str]:
        """Run SIPp inside the root without blocking the event loop; (exit code, output)."""
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            "sipp",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        return process.returncode or 0, out.decode(errors="replace")

    async def call_hotline(
        self, *extra: str, scenario: str = "caller_dtmf.xml", timeout: float = 60
    ) -> tuple[int, str]:
        port = self.env.get("CALLCENTER_SIP_PORT", "5060")
        return await self.sipp(
            f"127.0.0.1:{port}",
            "-sf",
            scenario,
            "-s",
            "4000",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-nostdin",
            *extra,
            timeout=timeout,
        )
