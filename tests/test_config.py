from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ternadmin import config

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
