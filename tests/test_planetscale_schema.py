"""Table shapes, schema files and the branch diff: what decides which DDL a resume runs.

The shapes are compared across the three ways one table reads: hand-written in a schema file,
MariaDB's ``SHOW CREATE TABLE`` (taken from the real server where one is reachable, and as
recorded) and MySQL 8's.
"""

from __future__ import annotations

import json

import pytest

from applies.engines.planetscale.diff import diff_keyspace, same_vschema
from applies.engines.planetscale.normalize import matches, parse_create_tables, table_shape
from applies.engines.planetscale.schema_files import SchemaFilesError, desired_schema
from applies.engines.planetscale.types import SchemaTable

HAND_WRITTEN = """
create table Orders (
  id BIGINT UNSIGNED auto_increment primary key,
  note VARCHAR(64),
  payload JSON,
  flag bool default false,
  created_at DATETIME not null default CURRENT_TIMESTAMP on update current_timestamp,
  amount DECIMAL(10,2) default '1.50',
  index idx_note (note),
  unique key uk (flag, note)
) engine = innodb;
"""
MARIADB_JSON = (
    "`payload` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL"
    " CHECK (json_valid(`payload`))"
)
MARIADB = f"""CREATE TABLE `orders` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `note` varchar(64) DEFAULT NULL,
  {MARIADB_JSON},
  `flag` tinyint(1) DEFAULT 0,
  `created_at` datetime NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  `amount` decimal(10,2) DEFAULT 1.50,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk` (`flag`,`note`),
  KEY `idx_note` (`note`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"""
MYSQL8 = """CREATE TABLE `orders` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `note` varchar(64) DEFAULT NULL,
  `payload` json DEFAULT NULL,
  `flag` tinyint(1) DEFAULT '0',
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `amount` decimal(10,2) DEFAULT '1.50',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk` (`flag`,`note`),
  KEY `idx_note` (`note`)
) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci"""


def test_one_table_reads_the_same_hand_written_from_mariadb_and_from_mysql_8() -> None:
    shape = table_shape(HAND_WRITTEN)
    assert table_shape(MARIADB) == shape
    assert table_shape(MYSQL8) == shape
    assert shape.name == "orders" and shape.primary_key == ("id",)
    assert [c.type for c in shape.columns][:3] == ["ubigint", "varchar(64)", "json"]


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_mariadbs_own_show_create_table_reads_as_the_hand_written_table() -> None:
    from django.db import connections

    from tests.helpers import schema_snapshot, scratch_database

    prefix = connections["schemabot"].settings_dict["NAME"][:40]
    with scratch_database(f"{prefix}_shape") as connection:
        connection.cursor().execute(HAND_WRITTEN)
        (shown,) = schema_snapshot(connection).values()
    assert "bigint(20) unsigned" in shown or "bigint unsigned" in shown
    assert table_shape(shown) == table_shape(HAND_WRITTEN)


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        ("`note` varchar(65) DEFAULT NULL", "a longer varchar"),
        ("`note` varchar(64) NOT NULL", "a NOT NULL column"),
        ("`note` varchar(64) DEFAULT 'x'", "another default"),
        ("`note` text DEFAULT NULL", "another type"),
        ("`note` varchar(64) DEFAULT NULL,\n  `extra` int DEFAULT NULL", "one more column"),
    ],
)
def test_a_real_change_reads_as_another_shape(changed: str, why: str) -> None:
    other = MYSQL8.replace("`note` varchar(64) DEFAULT NULL", changed)
    assert table_shape(other) != table_shape(MYSQL8), why


NOTE = "`note` varchar(64) DEFAULT NULL"


@pytest.mark.parametrize(
    ("desired", "present", "at_desired"),
    [
        # Nothing stated: whatever the server chose holds.
        (HAND_WRITTEN, MYSQL8, True),
        (HAND_WRITTEN, MARIADB, True),
        # A column collation: printed by the server only when not the table's.
        (HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) COLLATE utf8mb4_bin"), MYSQL8, False),
        (
            HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) COLLATE utf8mb4_bin"),
            MYSQL8.replace(NOTE, "`note` varchar(64) COLLATE utf8mb4_bin DEFAULT NULL"),
            True,
        ),
        (
            HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) COLLATE utf8mb4_0900_ai_ci"),
            MYSQL8,
            True,
        ),
        (HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) CHARACTER SET latin1"), MYSQL8, False),
        (
            HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) CHARSET utf8"),
            MYSQL8.replace(NOTE, "`note` varchar(64) CHARACTER SET utf8mb3 DEFAULT NULL"),
            True,
        ),
        (HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) COMMENT 'why'"), MYSQL8, False),
        # Table options.
        (HAND_WRITTEN.replace("innodb;", "innodb DEFAULT CHARSET=latin1;"), MYSQL8, False),
        (HAND_WRITTEN.replace("innodb;", "innodb CHARSET utf8mb4;"), MYSQL8, True),
        (HAND_WRITTEN.replace("innodb;", "innodb COLLATE=utf8mb4_unicode_ci;"), MYSQL8, False),
        (HAND_WRITTEN.replace("innodb;", "innodb COLLATE=utf8mb4_0900_ai_ci;"), MYSQL8, True),
        (  # a default collation the server did not print cannot be told apart
            HAND_WRITTEN.replace("innodb;", "innodb COLLATE=utf8mb4_unicode_ci;"),
            MYSQL8.replace(" COLLATE=utf8mb4_0900_ai_ci", ""),
            True,
        ),
        (HAND_WRITTEN.replace("innodb;", "innodb ROW_FORMAT=COMPRESSED;"), MYSQL8, False),
        (
            HAND_WRITTEN.replace("innodb;", "innodb ROW_FORMAT=COMPRESSED;"),
            MYSQL8 + " ROW_FORMAT=COMPRESSED",
            True,
        ),
        (HAND_WRITTEN.replace("innodb;", "innodb ROW_FORMAT=DEFAULT;"), MYSQL8, True),
        (HAND_WRITTEN.replace("innodb;", "innodb AUTO_INCREMENT=7;"), MYSQL8, True),
        (HAND_WRITTEN.replace("innodb;", "innodb COMMENT='orders';"), MYSQL8, False),
    ],
)
def test_what_the_desired_table_states_beyond_its_shape_must_hold(
    desired: str, present: str, at_desired: bool
) -> None:
    assert table_shape(desired) == table_shape(present)  # the same shape either way
    assert matches(table_shape(desired), table_shape(present)) is at_desired


def test_a_plan_that_only_changes_a_collation_is_not_done_before_the_collation_is() -> None:
    wanted = HAND_WRITTEN.replace("VARCHAR(64)", "VARCHAR(64) COLLATE utf8mb4_bin")
    desired = desired_schema(schema_files(shop={"orders.sql": wanted})).keyspaces["shop"]
    assert diff_keyspace(desired, [SchemaTable("orders", MYSQL8)], None).tables == ("orders",)


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["default", "schemabot"])
def test_mariadbs_own_show_create_table_holds_what_was_stated() -> None:
    from django.db import connections

    from tests.helpers import schema_snapshot, scratch_database

    stated = """CREATE TABLE t (
      id int NOT NULL PRIMARY KEY,
      a varchar(9) COLLATE utf8mb4_bin COMMENT 'kept',
      b varchar(9) CHARACTER SET latin1,
      c varchar(9) COLLATE utf8mb4_unicode_ci
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci ROW_FORMAT=DYNAMIC
      COMMENT='t'"""
    plain = "CREATE TABLE t (id int NOT NULL PRIMARY KEY, a varchar(9), b varchar(9), c varchar(9))"
    prefix = connections["schemabot"].settings_dict["NAME"][:40]
    with scratch_database(f"{prefix}_stated") as connection:
        connection.cursor().execute(stated)
        (shown,) = schema_snapshot(connection).values()
    with scratch_database(f"{prefix}_plain") as connection:
        connection.cursor().execute(plain)
        (shown_plain,) = schema_snapshot(connection).values()
    assert matches(table_shape(stated), table_shape(shown))
    assert not matches(table_shape(stated), table_shape(shown_plain))
    assert matches(table_shape(plain), table_shape(shown))


def test_indexes_compare_by_name_kind_and_columns_in_any_order() -> None:
    reordered = MYSQL8.replace(
        "UNIQUE KEY `uk` (`flag`,`note`),\n  KEY `idx_note` (`note`)",
        "KEY `idx_note` (`note`),\n  UNIQUE KEY `uk` (`flag`,`note`)",
    )
    assert table_shape(reordered) == table_shape(MYSQL8)
    no_index = MYSQL8.replace(",\n  KEY `idx_note` (`note`)", "")
    assert table_shape(no_index) != table_shape(MYSQL8)
    swapped = MYSQL8.replace("(`flag`,`note`)", "(`note`,`flag`)")
    assert table_shape(swapped) != table_shape(MYSQL8)


def test_column_order_is_part_of_the_shape() -> None:
    a = table_shape("CREATE TABLE t (a int, b int)")
    b = table_shape("CREATE TABLE t (b int, a int)")
    assert a != b


def test_a_schema_file_must_hold_create_table_statements() -> None:
    assert [
        s.name for s in parse_create_tables("CREATE TABLE a (id int); CREATE TABLE b (x int);")
    ] == ["a", "b"]
    with pytest.raises(ValueError, match="not a CREATE TABLE"):
        parse_create_tables("ALTER TABLE a ADD COLUMN y int")
    with pytest.raises(ValueError, match="cannot parse"):
        parse_create_tables("CREATE TABLE (((")


@pytest.mark.parametrize(
    "text",
    [
        "CREATE TABLE t (a varchar(3) DEFAULT 'x)",  # an unterminated quote
        "CREATE TABLE t (a int) /* an unterminated comment",
    ],
)
def test_text_that_cannot_be_tokenised_is_unreadable_too(text: str) -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        parse_create_tables(text)
    with pytest.raises(SchemaFilesError, match="shop/t.sql: cannot parse"):
        desired_schema(schema_files(shop={"t.sql": text}))


def schema_files(**keyspaces: dict[str, str]) -> str:
    return json.dumps({name: {"Files": files} for name, files in keyspaces.items()})


def test_schema_files_are_read_as_schemabot_writes_them() -> None:
    desired = desired_schema(
        schema_files(
            shop={"orders.sql": HAND_WRITTEN, "vschema.json": '{"sharded": false}'},
            audit={"log.sql": "CREATE TABLE log (id int)", "README.md": "ignored"},
        )
    )
    assert list(desired.keyspaces) == ["audit", "shop"]
    assert set(desired.keyspaces["shop"].tables) == {"orders"}
    assert desired.keyspaces["shop"].vschema == '{"sharded": false}'
    assert desired.keyspaces["audit"].vschema is None


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"shop": {"files": {}}}', "no Files object"),
        ('{"shop": {"Files": {"a.sql": "DROP TABLE a"}}}', "shop/a.sql"),
    ],
)
def test_unreadable_schema_files_say_why(value: str, complaint: str) -> None:
    with pytest.raises(SchemaFilesError, match=complaint):
        desired_schema(value)


def test_only_tables_off_their_desired_shape_are_in_the_diff() -> None:
    desired = desired_schema(
        schema_files(
            shop={
                "orders.sql": HAND_WRITTEN,
                "notes.sql": "CREATE TABLE notes (id bigint NOT NULL PRIMARY KEY, body text)",
                "users.sql": "CREATE TABLE users (id int NOT NULL PRIMARY KEY, email varchar(9))",
            }
        )
    ).keyspaces["shop"]
    branch = [
        SchemaTable("orders", MARIADB),  # at its shape: never touched
        SchemaTable("users", "CREATE TABLE `users` (`id` int(11) NOT NULL, PRIMARY KEY (`id`))"),
        SchemaTable("legacy", "CREATE TABLE `legacy` (`id` int)"),  # not desired: dropped
    ]
    diff = diff_keyspace(desired, branch, None)
    assert diff.tables == ("legacy", "notes", "users")
    assert diff.vschema is None


def test_vschema_is_in_the_diff_only_when_it_differs_as_json() -> None:
    desired = desired_schema(
        schema_files(shop={"vschema.json": '{"sharded": false, "tables": {"t": {}}}'})
    ).keyspaces["shop"]
    assert diff_keyspace(desired, [], '{"tables":{"t":{}},"sharded":false}').empty
    changed = diff_keyspace(desired, [], '{"sharded": false}')
    assert changed.vschema == desired.vschema and changed.tables == ()
    assert same_vschema("", "{}") and not same_vschema("{}", '{"sharded": true}')


def test_a_drive_compares_only_the_tables_its_plan_changes() -> None:
    desired = desired_schema(
        schema_files(shop={"orders.sql": HAND_WRITTEN, "users.sql": "CREATE TABLE users (id int)"})
    ).keyspaces["shop"]
    branch = [
        SchemaTable("orders", MYSQL8),
        SchemaTable("users", "CREATE TABLE users (id int, moved_on int)"),  # another apply's
        SchemaTable("archive", "CREATE TABLE archive (id int)"),  # another apply's
    ]
    assert diff_keyspace(desired, branch, None, only={"orders"}).empty
    assert diff_keyspace(desired, branch, None).tables == ("archive", "users")
