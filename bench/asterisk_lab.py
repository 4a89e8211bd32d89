"""What the benchmarks against the real Asterisk share: the lab and a few small helpers.

:class:`Lab` starts the Asterisk of ``scripts/asterisk`` with secrets of its own and an overlay
directory rendered in, runs SIPp inside its root, and stops everything at the end (or from a
watchdog thread when a deadline passes). The executables in this directory put the repository
root on ``sys.path`` and import it as ``bench.asterisk_lab``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "asterisk"


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest sample with at least ``share`` of them at or below it."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def ms(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


class Lab:
    """Asterisk (secrets of its own, ``overlay`` rendered in), SIPp processes."""

    def __init__(self, name: str, overlay: Path) -> None:
        self.name = name
        self.env = {
            **os.environ,
            "CALLCENTER__AMI__SECRET": secrets.token_hex(12),
            "CALLCENTER_AGENT_SIP_SECRET": secrets.token_hex(12),
            "CALLCENTER_ASTERISK_OVERLAY": str(overlay),
        }
        self.processes: list[asyncio.subprocess.Process] = []
        self.started_asterisk = False

    def script(self, *args: str, timeout: float) -> str:
        """scripts/asterisk, blocking: only while no engine runs in this loop."""
        result = subprocess.run(
            [str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scripts/asterisk {args[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    async def cli(self, command: str, timeout: float = 10) -> str:  # noqa: ASYNC109
        """One CLI command without blocking the loop the engine shares."""
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            "cli",
            command,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        return out.decode(errors="replace")

    def start_asterisk(self) -> str:
        self.started_asterisk = True
        self.script("start", timeout=180)
        return self.script("version", timeout=30).strip()

    def stop_asterisk(self) -> None:
        if self.started_asterisk:
            self.started_asterisk = False
            self.script("stop", timeout=90)

    async def sipp(self, *args: str, stdout: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            "sipp",
            *args,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill_sipp(self) -> None:
        """Every SIPp still running (by its own pid); safe from another thread."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)

    def emergency_stop(self) -> None:
        """The watchdog's last resort: SIPp killed, Asterisk stopped, the process ends."""
        print(f"{self.name}: deadline passed; stopping everything", file=sys.stderr)
        self.kill_sipp()
        with contextlib.suppress(Exception):
            self.stop_asterisk()
        os._exit(3)


async def active_channels(lab: Lab) -> int:
    text = await lab.cli("core show channels count")
    match = re.search(r"(\d+) active channel", text)
    return int(match.group(1)) if match else -1


async def clear_calls(lab: Lab, callers: asyncio.subprocess.Process | None) -> None:
    """No new callers, every channel hung up (again for legs set up meanwhile), SIPp gone."""
    if callers is not None and callers.returncode is None:
        callers.send_signal(signal.SIGUSR1)  # SIPp: no new calls, exit once the calls ended
    async with asyncio.timeout(30):
        while True:
            await lab.cli("channel request hangup all")
            await asyncio.sleep(0.5)
            done = callers is None or callers.returncode is not None
            if done and await active_channels(lab) == 0:
                break
            if callers is not None and callers.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(callers.wait(), 1)
