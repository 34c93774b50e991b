from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ternadmin import config
from tests.helpers import clean_environ, run_python

MYSQL_A = "mysql://root@127.0.0.1:3306/schemabot"
MYSQL_B = "mysql://root@127.0.0.1:3306/ternadmin"


def test_nothing_set_means_one_embedded_file_in_standalone_mode(tmp_path: Path) -> None:
    layout = config.database_layout({}, tmp_path)
    assert layout.embedded
    assert layout.schemabot_mode == config.STANDALONE
    assert layout.default["NAME"] == layout.schemabot["NAME"] == str(tmp_path / "ternadmin.sqlite3")
    assert config.same_database(layout.default, layout.schemabot)


def test_a_schemabot_url_defaults_to_attach(tmp_path: Path) -> None:
    layout = config.database_layout({"SCHEMABOT_DATABASE_URL": MYSQL_A}, tmp_path)
    assert layout.schemabot_mode == config.ATTACH
    assert layout.schemabot["NAME"] == "schemabot"
    assert layout.default["ENGINE"] == "django.db.backends.sqlite3"
    assert not layout.embedded  # a real SchemaBot database is production, never the demo


def test_standalone_against_a_url_must_be_asked_for(tmp_path: Path) -> None:
    env = {
        "SCHEMABOT_DATABASE_URL": MYSQL_A,
        "TERNADMIN_DATABASE_URL": MYSQL_B,
        "SCHEMABOT_MODE": "standalone",
    }
    assert config.database_layout(env, tmp_path).schemabot_mode == config.STANDALONE


def test_mysql_sessions_are_utc_utf8mb4_strict_read_committed(tmp_path: Path) -> None:
    layout = config.database_layout({"SCHEMABOT_DATABASE_URL": MYSQL_A}, tmp_path)
    options = layout.schemabot["OPTIONS"]
    assert options["charset"] == "utf8mb4"
    assert "time_zone = '+00:00'" in options["init_command"]
    assert "STRICT_TRANS_TABLES" in options["init_command"]
    assert options["isolation_level"] == "read committed"
    assert layout.schemabot["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCHEMABOT_MODE": "sideways"}, "SCHEMABOT_MODE='sideways' is not one of"),
        ({"SCHEMABOT_MODE": "attach"}, "attach needs SCHEMABOT_DATABASE_URL"),
        ({"TERNADMIN_DATABASE_URL": MYSQL_B}, "SCHEMABOT_DATABASE_URL is not"),
        (
            {"TERNADMIN_DATABASE_URL": MYSQL_A, "SCHEMABOT_DATABASE_URL": MYSQL_A},
            "must name a database other than SchemaBot's",
        ),
        ({"SCHEMABOT_DATABASE_URL": "postgres://x/y"}, "only mysql:// and sqlite://"),
    ],
)
def test_contradictions_fail_at_start(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        config.database_layout(env, tmp_path)


def test_env_values_are_checked() -> None:
    assert config.env_bool({"X": "yes"}, "X", default=False) is True
    assert config.env_int({}, "X", default=7) == 7
    assert config.env_list({"X": "a, b,,c"}, "X", []) == ["a", "b", "c"]
    with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
        config.env_bool({"X": "maybe"}, "X", default=False)
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        config.env_int({"X": "ten"}, "X", default=1)
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        config.env_int({"X": "0"}, "X", default=1, minimum=1)


def test_a_mysql_url_without_the_driver_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "MySQLdb", None)  # as if mysqlclient were not installed

    with pytest.raises(ImproperlyConfigured, match=r"pip install 'ternadmin\[mysql\]'"):
        config.database_layout({"SCHEMABOT_DATABASE_URL": MYSQL_A}, tmp_path)


def test_manage_py_stops_with_one_line_when_the_driver_is_missing(tmp_path: Path) -> None:
    hide_driver_then_check = (
        "import runpy, sys; sys.modules['MySQLdb'] = None; sys.argv = ['manage.py', 'check'];"
        " runpy.run_path('manage.py', run_name='__main__')"
    )
    env = clean_environ(
        SCHEMABOT_DATABASE_URL=MYSQL_A,
        TERNADMIN_DATA_DIR=str(tmp_path),
        TERNADMIN_SECRET_KEY="k" * 50,
        TERNADMIN_ALLOWED_HOSTS="ternadmin.example.com",
    )

    result = run_python("-c", hide_driver_then_check, env=env)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ternadmin: SCHEMABOT_DATABASE_URL is a mysql:// URL")
    assert "pip install 'ternadmin[mysql]'" in result.stderr
