"""The SDK stands alone: it never imports the server, and the wheel installed without
extras, next to nothing but its declared dependencies, works against a live server."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import Distribution, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.accounts import TestUser
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "alembic", "argon2")


def run(*args: str | Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_importing_the_sdk_and_cli_never_imports_the_server() -> None:
    probe = (
        "import sys, cloudlet, cloudlet.client, cloudlet.cli.main\n"
        f"bad = [m for m in sys.modules if m.startswith(('cloudlet.server', *{SERVER_ONLY!r}))]\n"
        "assert not bad, bad\n"
    )
    run(sys.executable, "-c", probe)


def dependency_closure(requirements: list[str]) -> list[Distribution]:
    """The installed distributions these requirements need, extras left out."""
    found: dict[str, Distribution] = {}
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in found:
            found[name] = distribution(requirement.name)
            todo.extend(found[name].requires or [])
    return list(found.values())


def link_distributions(dists: list[Distribution], into: Path) -> None:
    """Make `into` a site dir holding exactly these distributions (symlinks, no copies)."""
    into.mkdir()
    for dist in dists:
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            (into / top).symlink_to(base / top)


@pytest.mark.install
def test_the_wheel_installs_and_works_without_the_server_extra(
    tmp_path: Path, server: LiveServer, user: TestUser
) -> None:
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("cloudlet-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
        "--no-index", wheel)

    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
                    ).stdout.strip())
    installed = next(site.glob("cloudlet-*.dist-info"))
    requires = [line.split(":", 1)[1].strip()
                for line in (installed / "METADATA").read_text().splitlines()
                if line.startswith("Requires-Dist:")]
    server_deps = [r for r in requires if canonicalize_name(Requirement(r).name) in SERVER_ONLY]
    assert server_deps and all("extra ==" in r for r in server_deps)

    link_distributions(dependency_closure(requires), tmp_path / "deps")
    (site / "sdk-deps.pth").write_text(f"{tmp_path / 'deps'}\n")
    probe = (
        "import importlib.util, sys, cloudlet\n"
        f"assert cloudlet.__file__.startswith({str(site)!r}), cloudlet.__file__\n"
        f"assert not [m for m in {SERVER_ONLY!r} if importlib.util.find_spec(m)]\n"
        f"with cloudlet.Client({server.url!r}, {user.token!r}, profile=False) as c:\n"
        "    print(c.me()['username'])\n"
    )
    assert run(python, "-c", probe).stdout.strip() == user.username
    env = {"PATH": str(venv / "bin"), "CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token,
           "CLOUDLET_CONFIG_DIR": str(tmp_path / "config"), "HOME": str(tmp_path)}
    whoami = run(python, "-m", "cloudlet", "whoami", "--json", env=env)
    assert user.username in whoami.stdout
