"""The README's run command: ``bin/demo`` serves the console, with demo data, on the embedded
database, without any manual step."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import REPO_ROOT, clean_environ, free_port


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = clean_environ(
        PORT=str(port),
        LOCALSCALE_PORT=str(free_port()),
        LOCALSCALE_MYSQL_PORT=str(free_port()),
        TERNADMIN_DATA_DIR=str(tmp_path),
    )
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [str(REPO_ROOT / "bin" / "demo")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: server, scheduler and its workers
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process, tmp_path / "demo.log")
        yield url
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a person would: bin/demo stops within a minute; then make sure nothing of
    the group is left behind, whether it did or not."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    finally:
        time.sleep(3)  # the scheduler's workers finish their own shutdown
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bin/demo exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"{url}/accounts/login/", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"bin/demo did not serve {url} in {timeout}s:\n{log.read_text()}")


def test_demo_serves_the_login_page_and_demo_data(demo_server: str, tmp_path: Path) -> None:
    output = (tmp_path / "demo.log").read_text()
    assert f"ternadmin demo: {demo_server}/" in output
    assert "log in as: demo / demo" in output

    with httpx.Client(base_url=demo_server, timeout=10) as browser:
        login = browser.get("/accounts/login/")
        assert login.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token
        home = browser.post(
            "/accounts/login/",
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token[1]},
            follow_redirects=True,
        )
    assert home.status_code == 200
    assert "Applies by state" in home.text
    assert "Creating deploy request" in home.text  # a PlanetScale setup phase from the demo data
    assert (tmp_path / "ternadmin.sqlite3").exists()
