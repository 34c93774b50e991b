"""Bad settings: one line naming the variable, from every entry point, never a traceback.

The table runs ``ternadmin/settings.py`` afresh in this process for each bad value (fast);
the entry points (``manage.py``, the scheduler, gunicorn, the WSGI and ASGI modules) each run
as the process an operator starts.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from tests.helpers import (
    REPO_ROOT,
    clean_environ,
    free_port,
    mariadb_server,
    run_manage,
    run_python,
)
from tests.test_production_settings import wait_for_http

SETTINGS = REPO_ROOT / "ternadmin" / "settings.py"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, object]:
    for name in list(os.environ):
        if name.startswith(("TERNADMIN_", "SCHEMABOT_", "PLANETSCALE_", "LOCALSCALE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TERNADMIN_DATA_DIR", str(tmp_path / "var"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


BAD = [
    ("TERNADMIN_BRAKE_STALE_SHARE", "5", "must be at most 1"),
    ("TERNADMIN_BRAKE_STALE_SHARE", "inf", "finite"),
    ("TERNADMIN_BRAKE_STALE_SHARE", "nan", "finite"),
    ("TERNADMIN_BRAKE_STALE_SHARE", "0", "greater than 0"),
    ("TERNADMIN_ENGINE_WAIT_SECONDS", "inf", "finite"),
    ("PLANETSCALE_BACKOFF_SECONDS", "1e308", "at most 60"),
    ("LOCALSCALE_PORT", "99999", "at most 65535"),
    ("LOCALSCALE_PORT", "0", "at least 1"),
    ("TERNADMIN_SESSION_SECONDS", "0", "at least 60"),
    ("TERNADMIN_REDIS_URL", "notaurl", "not a Redis URL"),
    ("TERNADMIN_REDIS_URL", "http://cache:6379", "not a Redis URL"),
    ("TERNADMIN_REDIS_URL", "redis://cache:99999/0", "not a Redis URL"),
    ("TERNADMIN_LOG_LEVEL", "LOUD", "must be one of"),
    ("TERNADMIN_HSTS_SECONDS", "-1", "at least 0"),
    ("TERNADMIN_STALE_AFTER_SECONDS", "99999999", "at most 86400"),
    ("TERNADMIN_HEARTBEAT_SECONDS", "0", "at least 1"),
    ("TERNADMIN_HEARTBEAT_SECONDS", "31", "fewer than two heartbeats"),
    ("TERNADMIN_RETRY_BUDGET", "1000000", "at most 1000"),
    ("TERNADMIN_SWEEP_LIMIT", "0", "at least 1"),
    ("TERNADMIN_Q_WORKERS", "1000", "at most 64"),
    ("PLANETSCALE_MAX_RETRIES", "1000", "at most 20"),
    ("PLANETSCALE_TIMEOUT_SECONDS", "ten", "not a whole number"),
    ("PLANETSCALE_APP_HOST", "https://app.planetscale.com/", "not a host name"),
    ("TERNADMIN_LOGIN_FAILURE_LIMIT", "0", "at least 1"),
    ("TERNADMIN_LOGIN_LOCKOUT_MINUTES", "100000", "at most 1440"),
    ("TERNADMIN_DRIVE_MODE", "process", "must be one of: loops, inline, manual"),
    ("TERNADMIN_DRIVE_LOOPS", "2", "must be at most 1: TERNADMIN_Q_WORKERS=2 less one"),
    ("TERNADMIN_DRIVE_LOOPS", "0", "at least 1"),
    ("TERNADMIN_DRIVE_MAX_ERRORS", "0", "at least 1"),
    ("TERNADMIN_Q_WORKERS", "1", "leaves no worker for the drive loops"),
    ("TERNADMIN_ENGINES", "spirit", "ternadmin has no driver for spirit"),
    ("PLANETSCALE_API_URL", "http://[::1", "is not an http:// or https:// URL"),
    ("PLANETSCALE_API_URL", "https://api.example:99999", "is not an http:// or https:// URL"),
    ("LOCALSCALE_MYSQL_URL", "mysql://u:pw@[::1/", "cannot be read"),
    ("LOCALSCALE_MYSQL_URL", "mysql://u:pw@db:99999", "cannot be read"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_every_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        load_settings(monkeypatch, tmp_path, **{name: value})
    text = str(refused.value)
    assert name in text and message in text and "\n" not in text, text


def test_an_unusable_data_dir_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    for path in (a_file, a_file / "below", Path("/proc/ternadmin-data")):
        with pytest.raises(ImproperlyConfigured, match="TERNADMIN_DATA_DIR"):
            load_settings(monkeypatch, tmp_path, TERNADMIN_DATA_DIR=str(path))


def test_a_schemabot_database_alone_is_production_not_the_demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "mysql://root@127.0.0.1:3306/schemabot"
    with pytest.raises(ImproperlyConfigured, match="TERNADMIN_SECRET_KEY is required"):
        load_settings(monkeypatch, tmp_path, SCHEMABOT_DATABASE_URL=url)
    loaded = load_settings(
        monkeypatch,
        tmp_path,
        SCHEMABOT_DATABASE_URL=url,
        TERNADMIN_SECRET_KEY="s" * 50,
        TERNADMIN_ALLOWED_HOSTS="console.internal",
    )
    assert loaded["DEMO_MODE"] is False


def test_good_values_are_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loaded = load_settings(
        monkeypatch,
        tmp_path,
        TERNADMIN_LOG_LEVEL="warning",
        TERNADMIN_REDIS_URL="rediss://:pw@cache.internal:6380/2",
        TERNADMIN_BRAKE_STALE_SHARE="1",
        LOCALSCALE_PORT="65535",
        TERNADMIN_SESSION_SECONDS="60",
    )
    assert loaded["LOGGING"]["root"]["level"] == "WARNING"  # type: ignore[index]
    assert loaded["Q_CLUSTER"]["redis"] == "rediss://:pw@cache.internal:6380/2"  # type: ignore[index]
    assert (loaded["TERNADMIN_BRAKE_STALE_SHARE"], loaded["LOCALSCALE_PORT"]) == (1.0, 65535)
    for url in ("redis://localhost:6379/0", "unix:///run/redis.sock"):
        load_settings(monkeypatch, tmp_path, TERNADMIN_REDIS_URL=url)


def test_drive_loops_default_to_every_worker_but_the_sweeps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings(monkeypatch, tmp_path)["TERNADMIN_DRIVE_LOOPS"] == 1
    loaded = load_settings(monkeypatch, tmp_path, TERNADMIN_Q_WORKERS="5")
    assert (loaded["TERNADMIN_DRIVE_MODE"], loaded["TERNADMIN_DRIVE_LOOPS"]) == ("loops", 4)
    assert loaded["Q_CLUSTER"]["workers"] == 5  # type: ignore[index]
    # Drives in the claimer's process need no loop: one worker is enough for the sweep.
    load_settings(monkeypatch, tmp_path, TERNADMIN_Q_WORKERS="1", TERNADMIN_DRIVE_MODE="inline")


# --- the entry points, as processes ---------------------------------------------------------


def bad_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_environ(TERNADMIN_DATA_DIR=str(tmp_path / "var"), **extra)


def assert_one_line(result_stderr: str, name: str) -> None:
    assert "Traceback" not in result_stderr, result_stderr
    ours = [line for line in result_stderr.splitlines() if line.startswith("ternadmin: ")]
    assert len(ours) == 1 and name in ours[0], result_stderr


@pytest.mark.parametrize(
    "args",
    [("check",), ("migrate", "--no-input"), ("qcluster",), ("sweep", "--dry-run")],
    ids=lambda args: args[0],
)
def test_manage_py_and_the_scheduler(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = bad_environ(tmp_path, TERNADMIN_REDIS_URL="notaurl")
    result = run_manage(*args, env=env, timeout=60)
    assert result.returncode == 2
    assert_one_line(result.stderr, "TERNADMIN_REDIS_URL")


def test_the_scheduler_refuses_more_drive_loops_than_workers(tmp_path: Path) -> None:
    env = bad_environ(tmp_path, TERNADMIN_Q_WORKERS="3", TERNADMIN_DRIVE_LOOPS="3")
    result = run_manage("qcluster", env=env, timeout=60)
    assert result.returncode == 2
    assert_one_line(result.stderr, "TERNADMIN_DRIVE_LOOPS")


@pytest.mark.parametrize("module", ["ternadmin.wsgi", "ternadmin.asgi"])
def test_the_wsgi_and_asgi_modules(tmp_path: Path, module: str) -> None:
    env = bad_environ(tmp_path, LOCALSCALE_PORT="99999")
    result = run_python("-c", f"import {module}", env=env, timeout=60)
    assert result.returncode == 4
    assert_one_line(result.stderr, "LOCALSCALE_PORT")


def test_gunicorn_stops_with_one_line(tmp_path: Path) -> None:
    env = bad_environ(tmp_path, TERNADMIN_SESSION_SECONDS="0")
    result = subprocess.run(
        [
            GUNICORN,
            "-c",
            "python:ternadmin.gunicorn_conf",
            "ternadmin.wsgi",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--workers",
            "1",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 4, result.stderr  # gunicorn: "App failed to load."
    assert_one_line(result.stderr, "TERNADMIN_SESSION_SECONDS")


def test_gunicorns_access_log_never_shows_a_token(tmp_path: Path) -> None:
    """A token sent in a query string is refused, and masked in the access log."""
    env = bad_environ(tmp_path, TERNADMIN_DEMO="1")
    port = free_port()
    server = subprocess.Popen(
        [
            GUNICORN,
            "-c",
            "python:ternadmin.gunicorn_conf",
            "ternadmin.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    secret = "tern_c2VjcmV0LXRva2VuLWluLWEtcXVlcnk"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", {}, server)
        for query in (f"token={secret}", f"q={secret}", "access_token=s3cr3tvalue"):
            response = httpx.get(f"http://127.0.0.1:{port}/api/v1/dashboard?{query}", timeout=10)
            assert response.status_code == 400 and response.json()["error"] == "token_in_url"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "/api/v1/dashboard?token=•••" in output, output
    assert secret not in output and "s3cr3tvalue" not in output


def _mysql_url(database: str, user: str | None = None) -> str:
    server = mariadb_server()
    credentials = user or server["user"]
    if user is None and server.get("password"):
        credentials += f":{server['password']}"
    return f"mysql://{credentials}@{server['host']}:{server.get('port', 3306)}/{database}"


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])  # this run's databases exist
@pytest.mark.parametrize(
    ("default", "schemabot", "named"),
    [
        ("ternadmin_no_such_database", None, "TERNADMIN_DATABASE_URL"),
        (None, "schemabot_no_such_database", "SCHEMABOT_DATABASE_URL"),
    ],
)
def test_a_database_url_that_leads_nowhere_is_one_line_naming_it(
    tmp_path: Path, default: str | None, schemabot: str | None, named: str
) -> None:
    existing = connections["default"].settings_dict["NAME"]
    env = bad_environ(
        tmp_path,
        TERNADMIN_DATABASE_URL=_mysql_url(default or existing),
        SCHEMABOT_DATABASE_URL=_mysql_url(schemabot or existing),
        SCHEMABOT_MODE="standalone",
        TERNADMIN_DEMO="1",
    )
    result = run_manage("check", "--database", "default", "--database", "schemabot", env=env)
    assert result.returncode == 2
    assert_one_line(result.stderr, named)
    other = {"TERNADMIN_DATABASE_URL", "SCHEMABOT_DATABASE_URL"} - {named}
    assert other.pop() not in result.stderr


@pytest.mark.mariadb
def test_a_login_the_server_refuses_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = _mysql_url("ternadmin", user="nobody:s3cret-pw")
    env = bad_environ(
        tmp_path,
        TERNADMIN_DATABASE_URL=url,
        SCHEMABOT_DATABASE_URL=url.replace("/ternadmin", "/schemabot"),
        SCHEMABOT_MODE="standalone",
        TERNADMIN_DEMO="1",
    )
    result = run_manage("check", "--database", "default", env=env, timeout=60)
    assert result.returncode == 2
    assert_one_line(result.stderr, "TERNADMIN_DATABASE_URL and SCHEMABOT_DATABASE_URL")
    assert "Access denied" in result.stderr and "s3cret-pw" not in result.stderr
