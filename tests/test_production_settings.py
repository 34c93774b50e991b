"""Production mode: secure by default, explicit about what it needs."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import clean_environ, run_manage, run_python


def production_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_environ(
        TERNADMIN_DATABASE_URL=f"sqlite:///{tmp_path}/default.sqlite3",
        SCHEMABOT_DATABASE_URL=f"sqlite:///{tmp_path}/schemabot.sqlite3",
        SCHEMABOT_MODE="standalone",
        TERNADMIN_SECRET_KEY="production-test-" + "s" * 50,
        TERNADMIN_ALLOWED_HOSTS="ternadmin.example.com",
        **extra,
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_environ(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = production_environ(tmp_path)
    del env["TERNADMIN_SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "TERNADMIN_SECRET_KEY is required outside demo mode" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path: Path) -> None:
    env = production_environ(tmp_path)
    del env["TERNADMIN_ALLOWED_HOSTS"]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "TERNADMIN_ALLOWED_HOSTS is required" in result.stderr


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
