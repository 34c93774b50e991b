"""SchemaBot's target lock: the same MySQL named lock, so both sides wait for each other."""

from __future__ import annotations

import hashlib

import MySQLdb
import pytest

from applies import claims, target_lock
from applies.lines import Line
from applies.states import ApplyState
from tests.claim_fixtures import make_apply, reload
from tests.helpers import mariadb_server

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])


def test_lock_name_is_schemabots() -> None:
    name = target_lock.target_lock_name("orders", "vitess", "production")
    digest = hashlib.sha256(b"orders\0vitess\0production").hexdigest()
    assert name == "schemabot_apply_" + digest[:32]
    assert len(name) == 48


@pytest.mark.mariadb
def test_the_named_lock_is_held_while_a_stopped_apply_restarts() -> None:
    apply = make_apply(ApplyState.STOPPED, start_request="pending")
    name = target_lock.target_lock_name(apply.database_name, apply.database_type, apply.environment)
    observer = MySQLdb.connect(**mariadb_server(), autocommit=True)
    cursor = observer.cursor()
    with target_lock.target_lock(apply.database_name, apply.database_type, apply.environment):
        cursor.execute("SELECT IS_USED_LOCK(%s) IS NOT NULL", [name])
        assert cursor.fetchone()[0] == 1
    cursor.execute("SELECT IS_USED_LOCK(%s) IS NOT NULL", [name])
    assert cursor.fetchone()[0] == 0
    observer.close()


@pytest.mark.mariadb
def test_a_peer_holding_the_target_lock_blocks_a_stopped_start(
    monkeypatch: pytest.MonkeyPatch, line: Line
) -> None:
    monkeypatch.setattr(target_lock, "LOCK_WAIT_SECONDS", 1)
    apply = make_apply(ApplyState.STOPPED, start_request="pending")
    name = target_lock.target_lock_name(apply.database_name, apply.database_type, apply.environment)
    peer = MySQLdb.connect(**mariadb_server(), autocommit=True)
    peer.cursor().execute("SELECT GET_LOCK(%s, 0)", [name])
    try:
        with pytest.raises(target_lock.TargetLockTimeout):
            claims.claim_apply_by_id(apply.pk, "ternadmin/1")
        assert claims.find_next_apply("ternadmin/1") is None  # skipped, not an error
        assert reload(apply).state == ApplyState.STOPPED
    finally:
        peer.close()  # releases the lock
    assert claims.claim_apply_by_id(apply.pk, "ternadmin/1") is not None
    assert reload(apply).state == line.stopped_apply_claim_state  # running, or resuming (#424)


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_a_lock_this_session_no_longer_holds_discards_the_session() -> None:
    # RELEASE_LOCK answers 0 (or NULL): the session's lock state is not what we believe, so it
    # must not go back to the pool with it (upstream releaseApplyTargetLockConn).
    from applies import db

    apply = make_apply(ApplyState.STOPPED)
    name = target_lock.target_lock_name(apply.database_name, apply.database_type, apply.environment)
    session = db.fetchone("SELECT CONNECTION_ID()")
    with target_lock.target_lock(apply.database_name, apply.database_type, apply.environment):
        db.fetchone("SELECT RELEASE_LOCK(%s)", [name])  # someone released it under us
    assert db.connection().connection is None  # closed, not returned to the pool
    assert db.fetchone("SELECT CONNECTION_ID()") != session


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])
def test_a_normal_release_keeps_the_session() -> None:
    from applies import db

    apply = make_apply(ApplyState.STOPPED)
    session = db.fetchone("SELECT CONNECTION_ID()")
    with target_lock.target_lock(apply.database_name, apply.database_type, apply.environment):
        pass
    assert db.fetchone("SELECT CONNECTION_ID()") == session
