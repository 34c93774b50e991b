"""The README's demo command on a machine that has Python and nothing else.

A fresh clone of the committed tree runs ``bin/demo`` with no pip cache and with the MySQL
build tools (``pkg-config``, ``mysql_config``, ``mariadb_config``) unreachable on ``PATH``, so
nothing can compile against MySQL's headers: the demo must install and serve its login page
anyway. It downloads the dependencies from the package index, so it takes a minute or two;
``bin/test`` runs it once, in the SQLite pass.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import REPO_ROOT, clean_environ, free_port

pytestmark = pytest.mark.fresh_clone

HIDDEN_TOOLS = ("pkg-config", "pkgconf", "mysql_config", "mariadb_config")
INSTALL_AND_START_SECONDS = 900


def _hidden(name: str) -> bool:
    return any(tool in name for tool in HIDDEN_TOOLS)


def path_without_build_tools(shadow_root: Path) -> str:
    """``PATH`` with every directory that holds a hidden tool replaced by a copy of it (as
    symlinks) that lacks the tool."""
    directories = []
    for n, directory in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        folder = Path(directory)
        if not folder.is_dir() or not any(_hidden(entry.name) for entry in folder.iterdir()):
            directories.append(directory)
            continue
        shadow = shadow_root / str(n)
        shadow.mkdir(parents=True)
        for entry in folder.iterdir():
            if not _hidden(entry.name):
                (shadow / entry.name).symlink_to(entry)
        directories.append(str(shadow))
    return os.pathsep.join(directories)


def wait_for_login_page(url: str, demo: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + INSTALL_AND_START_SECONDS
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            output = log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"bin/demo exited with {demo.returncode}:\n{output}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(1)
    raise AssertionError(f"the demo did not answer {url} within {INSTALL_AND_START_SECONDS}s")


def test_a_fresh_clone_runs_the_demo_without_mysql_build_tools(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    path = path_without_build_tools(tmp_path / "shadow")
    for tool in HIDDEN_TOOLS:
        assert shutil.which(tool, path=path) is None
    port = free_port()
    env = clean_environ(
        PATH=path,
        PIP_NO_CACHE_DIR="1",
        PORT=str(port),
        # The interpreter this suite runs on, but not its virtual environment.
        PYTHON=getattr(sys, "_base_executable", sys.executable),
    )
    env.pop("VIRTUAL_ENV", None)
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        demo = subprocess.Popen(
            ["bin/demo"],
            cwd=clone,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        login = wait_for_login_page(f"http://127.0.0.1:{port}/accounts/login/", demo, log)

        assert login.status_code == 200
        assert 'name="username"' in login.text and 'name="password"' in login.text
        driver = subprocess.run(
            [str(clone / ".venv/bin/python"), "-c", "import MySQLdb"],
            capture_output=True,
            check=False,
        )
        assert driver.returncode != 0, "the demo installed the MySQL driver it must not need"
    finally:
        # bin/demo stops its scheduler and emulator on SIGINT, like Ctrl-C.
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=30)
