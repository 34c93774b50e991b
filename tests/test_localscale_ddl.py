"""The schema model's DDL (sqlglot underneath): what runs, what a server would refuse, how two
schemas are compared, and LocalScale's settings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from localscale import ddl
from localscale.config import MySQLServer, env_mysql_server, env_prefix
from localscale.store import is_kept_table, kept_table

USERS = "CREATE TABLE users (id bigint NOT NULL PRIMARY KEY, name varchar(20), KEY idx_name (name))"


def apply(*statements: str) -> dict[str, str]:
    tables: dict[str, str] = {}
    for statement in statements:
        tables = ddl.apply(tables, statement)
    return tables


def test_create_alter_and_drop_change_the_stored_create_statement() -> None:
    tables = apply(
        USERS,
        "ALTER TABLE users ADD COLUMN nickname varchar(64), ADD INDEX idx_nick (nickname)",
        "ALTER TABLE users DROP COLUMN name, DROP INDEX idx_name",
        "ALTER TABLE users MODIFY COLUMN nickname varchar(99) NOT NULL",
        "CREATE TABLE orders (id int)",
        "DROP TABLE orders",
    )
    assert list(tables) == ["users"]
    assert ddl.columns(tables["users"]) == ["id", "nickname"]
    assert "VARCHAR(99) NOT NULL" in tables["users"] and "idx_name" not in tables["users"]
    assert "INDEX idx_nick (nickname)" in tables["users"]


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("CREATE TABLE users (id int)", ddl.ER_TABLE_EXISTS),
        ("DROP TABLE nope", ddl.ER_BAD_TABLE),
        ("ALTER TABLE nope ADD COLUMN a int", ddl.ER_NO_SUCH_TABLE),
        ("ALTER TABLE users ADD COLUMN name int", ddl.ER_DUP_FIELDNAME),
        ("ALTER TABLE users ADD INDEX idx_name (id)", ddl.ER_DUP_KEYNAME),
        ("ALTER TABLE users DROP COLUMN nope", ddl.ER_CANT_DROP_FIELD_OR_KEY),
        ("ALTER TABLE users DROP INDEX nope", ddl.ER_CANT_DROP_FIELD_OR_KEY),
        ("CREATE TABLE (", ddl.ER_PARSE_ERROR),
        ("SELECT 1", ddl.ER_NOT_SUPPORTED_YET),
    ],
)
def test_what_a_server_would_refuse_is_refused_with_its_error_number(
    statement: str, code: int
) -> None:
    tables = apply(USERS)
    with pytest.raises(ddl.DDLError) as refused:
        ddl.apply(tables, statement)
    assert refused.value.code == code
    assert tables == apply(USERS)  # nothing changed


def test_if_exists_and_if_not_exists_are_quiet() -> None:
    tables = apply(USERS, "CREATE TABLE IF NOT EXISTS users (id int)", "DROP TABLE IF EXISTS nope")
    assert tables == apply(USERS)


def test_a_mariadb_show_create_table_compares_equal_to_itself_reformatted() -> None:
    shown = (
        "CREATE TABLE `users` (\n  `id` bigint(20) NOT NULL,\n  PRIMARY KEY (`id`)\n)"
        " ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4"
    )
    assert ddl.normalized(shown) == ddl.normalized(" ".join(shown.split()).replace("=7", "=9"))
    assert ddl.normalized(shown) != ddl.normalized(shown.replace("bigint(20)", "int(11)"))


def test_change_statements_and_instant_eligibility() -> None:
    old = "CREATE TABLE t (id int, a int, KEY ia (a))"
    new = "CREATE TABLE t (id bigint, a int, b int, KEY ia (a))"
    statement = ddl.change_statement("t", "alter", old, new)
    assert statement == "ALTER TABLE `t` MODIFY COLUMN id BIGINT, ADD COLUMN b INT"
    assert ddl.change_statement("t", "drop", old, None) == "DROP TABLE `t`"
    added = "CREATE TABLE t (id int, a int, b int, KEY ia (a))"
    assert ddl.instant_eligible([("alter", old, added), ("create", None, new)])
    assert not ddl.instant_eligible([("alter", old, new)])  # a column type changed
    assert not ddl.instant_eligible([])


def test_kept_table_names_fit_and_are_recognised() -> None:
    name = kept_table(12, "t" * 80, "_new")
    assert len(name) == 64 and is_kept_table(name)
    assert not is_kept_table("_lsx_users") and not is_kept_table("users")


def test_settings_are_checked_with_the_variables_name() -> None:
    assert env_mysql_server({}, "LOCALSCALE_MYSQL_URL") is None
    parsed = env_mysql_server({"V": "mysql://root:p%40ss@db:3307"}, "V")
    assert parsed == MySQLServer("db", 3307, "root", "p@ss")
    for bad in ("http://db", "mysql://db", "mysql://root@db/x", "mysql://root@db:port"):
        with pytest.raises(ImproperlyConfigured, match="^V "):
            env_mysql_server({"V": bad}, "V")
    assert env_prefix({}, "P", "localscale") == "localscale"
    for bad in ("Upper", "1st", "a" * 41, "has-dash"):
        with pytest.raises(ImproperlyConfigured, match="^P="):
            env_prefix({"P": bad}, "P", "localscale")
