"""A throwaway PostgreSQL server for tests, run from the Debian server binaries.

``PgServer.create()`` initialises a data directory in a fresh temporary directory (owned by the
``postgres`` user when running as root, since ``initdb`` and ``pg_ctl`` refuse to run as root),
then starts the server on a free port of 127.0.0.1 with its socket in that directory, trusting
the role ``cc``. When no server binaries are installed it installs Debian's ``postgresql``
package. Servers left behind by a killed test run are stopped and removed by the next run.
Every failure raises :class:`PgServerError` with the server log: the tests that need
PostgreSQL fail loudly, they are never skipped.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg

ROLE = "cc"
SYSTEM_USER = "postgres"
PREFIX = "cc-pg-"
OWNER_FILE = "owner.pid"


class PgServerError(RuntimeError):
    pass


class PgServer:
    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir = bindir
        self.root = root
        self.port = port
        self.datadir = root / "data"
        self.logfile = root / "server.log"

    @classmethod
    def create(cls) -> PgServer:
        """Initialise and start a new server; the caller must :meth:`destroy` it."""
        bindir = find_bindir() or install_server()
        reap_orphans(bindir)
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / OWNER_FILE).write_text(str(os.getpid()))
        _hand_over(root)
        server = cls(bindir, root, _free_port())
        try:
            server._run(
                "initdb", "-D", str(server.datadir), "-A", "trust", "-U", ROLE, "-E", "UTF8", "-N"
            )
            server.start()
        except BaseException:
            server.destroy()
            raise
        return server

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        datadir, logfile = str(self.datadir), str(self.logfile)
        self._run("pg_ctl", "-D", datadir, "-l", logfile, "-o", options, "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and remove every file."""
        if (self.datadir / "postmaster.pid").exists():
            pg_ctl = [*_as_owner(), str(self.bindir / "pg_ctl"), "-D", str(self.datadir)]
            # best effort: the directory goes away anyway
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    async def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=ROLE, database="postgres", timeout=10
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        argv = [*_as_owner(), str(self.bindir / program), *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if result.returncode != 0:
            raise PgServerError(
                f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            return "server log:\n" + "\n".join(self.logfile.read_text().splitlines()[-30:])
        except OSError:
            return "(no server log)"


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` that holds the server binaries."""
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists() and (path.parent / "postgres").exists()
    ]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def reap_orphans(bindir: Path) -> None:
    """Stop and remove the servers of test runs that were killed before their teardown."""
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            PgServer(bindir, root, 0).destroy()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def install_server() -> Path:
    if os.geteuid() != 0:
        raise PgServerError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql and not running as "
            "root to install them: install Debian's 'postgresql' package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise PgServerError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    bindir = find_bindir()
    if bindir is None:
        raise PgServerError("installed 'postgresql' but found no server binaries")
    return bindir


def _as_owner() -> list[str]:
    """The command prefix that runs a server program as its owner."""
    return ["runuser", "-u", SYSTEM_USER, "--"] if os.geteuid() == 0 else []


def _hand_over(root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PgServerError(f"no '{SYSTEM_USER}' system user to run the server as") from None
    os.chown(root, user.pw_uid, user.pw_gid)
    root.chmod(0o700)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
