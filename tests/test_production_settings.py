"""Production mode: secure by default, explicit about what it needs."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    REPO_ROOT,
    clean_environ,
    database_name,
    free_port,
    mysql_url,
    run_manage,
    run_python,
    schema_snapshot,
    scratch_database,
)


def production_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_environ(
        **{
            "TERNADMIN_DATABASE_URL": f"sqlite:///{tmp_path}/default.sqlite3",
            "SCHEMABOT_DATABASE_URL": f"sqlite:///{tmp_path}/schemabot.sqlite3",
            "SCHEMABOT_MODE": "standalone",
            "TERNADMIN_SECRET_KEY": "production-test-" + "s" * 50,
            "TERNADMIN_ALLOWED_HOSTS": "ternadmin.example.com",
            **extra,
        }
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_environ(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("TERNADMIN_SECRET_KEY", "TERNADMIN_SECRET_KEY is required outside demo mode"),
        ("TERNADMIN_ALLOWED_HOSTS", "TERNADMIN_ALLOWED_HOSTS is required"),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(
    tmp_path: Path, missing: str, message: str
) -> None:
    env = production_environ(tmp_path)
    del env[missing]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_defaults_are_secure(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS > 0, s.DEMO_MODE)"
    )
    env = production_environ(tmp_path, DJANGO_SETTINGS_MODULE="ternadmin.settings")
    result = run_python("-c", f"import django; django.setup(); {code}", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "False"]


def test_gunicorn_serves_the_console_with_static_files_in_production_mode(
    tmp_path: Path,
) -> None:
    """The documented production path: collectstatic, gunicorn, WhiteNoise, behind a proxy."""
    env = production_environ(
        tmp_path, TERNADMIN_STATIC_ROOT=str(tmp_path / "static"), TERNADMIN_BEHIND_PROXY="1"
    )
    for command in (
        ("migrate", "--no-input"),
        ("migrate", "--database", "schemabot"),
        ("collectstatic", "--no-input"),
    ):
        result = run_manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "ternadmin.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        headers = {"Host": "ternadmin.example.com", "X-Forwarded-Proto": "https"}
        login = wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", headers, server)
        assert login.status_code == 200
        assert login.headers["strict-transport-security"].startswith("max-age=31536000")
        stylesheet = re.search(r'href="(/static/ternadmin/console\.[0-9a-f]+\.css)"', login.text)
        assert stylesheet, "the page links the hashed, collected stylesheet"
        css = httpx.get(f"http://127.0.0.1:{port}{stylesheet[1]}", headers=headers)
        assert css.status_code == 200 and "--accent" in css.text
        plain_http = httpx.get(
            f"http://127.0.0.1:{port}/accounts/login/",
            headers={"Host": "ternadmin.example.com"},
        )
        assert plain_http.status_code == 301  # TLS is required
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_http(
    url: str, headers: dict[str, str], server: subprocess.Popen[str], timeout: float = 60
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"gunicorn exited: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            return httpx.get(url, headers=headers, timeout=5)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"gunicorn did not answer {url} in {timeout}s")


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_production_migrate_creates_no_emulator_table(tmp_path: Path) -> None:
    result = run_manage("migrate", "--no-input", env=production_environ(tmp_path))

    assert result.returncode == 0, result.stderr
    tables = _tables(tmp_path / "default.sqlite3")
    assert "django_q_schedule" in tables and "applies_drive" in tables  # migrate did run
    assert not {name for name in tables if name.startswith("localscale")}
    unknown = run_manage("localscale", "stats", env=production_environ(tmp_path))
    assert unknown.returncode != 0 and "Unknown command: 'localscale'" in unknown.stderr


def test_a_staging_setup_may_ask_for_the_emulator(tmp_path: Path) -> None:
    env = production_environ(tmp_path, TERNADMIN_LOCALSCALE="1")

    result = run_manage("migrate", "--no-input", env=env)

    assert result.returncode == 0, result.stderr
    assert "localscale_deploy_requests" in _tables(tmp_path / "default.sqlite3")


@pytest.mark.mariadb
def test_production_migrate_on_mariadb_creates_no_emulator_table(tmp_path: Path) -> None:
    with scratch_database("prod_default") as default, scratch_database("prod_schemabot") as sb:
        env = production_environ(
            tmp_path,
            TERNADMIN_DATABASE_URL=mysql_url(database_name(default)),
            SCHEMABOT_DATABASE_URL=mysql_url(database_name(sb)),
        )

        result = run_manage("migrate", "--no-input", env=env)

        assert result.returncode == 0, result.stderr
        tables = set(schema_snapshot(default))
        assert "django_q_schedule" in tables
        assert not {name for name in tables if name.startswith("localscale")}
